# Seed 003's shared counter ("Sharing Data Between Processes").
import multiprocessing

def worker(counter, lock):
    """Increment a shared counter."""
    for _ in range(1000):
        with lock:
            counter.value += 1

if __name__ == "__main__":
    # Create shared integer with a lock
    counter = multiprocessing.Value('i', 0)
    lock = multiprocessing.Lock()
    # Spawn 4 processes that all increment the same counter
    processes = [
        multiprocessing.Process(target=worker, args=(counter, lock))
        for _ in range(4)
    ]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    print(f"Final counter: {counter.value}")
    # Final counter: 4000
