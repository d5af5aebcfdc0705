# Seed 003's Pool examples ("Parallelism with multiprocessing"), one after
# the other in one program.
import multiprocessing
import math
from multiprocessing import Pool

def square(x):
    return x ** 2

def power(base, exponent):
    return base ** exponent

def fibonacci(n):
    """Calculate nth Fibonacci number recursively."""
    if n < 2:
        return n
    return fibonacci(n-1) + fibonacci(n-2)

def process_number(n):
    """Apply multiple operations to a number."""
    return {
        'input': n,
        'fib': fibonacci(min(n, 20)),  # Cap to avoid overflow
        'sqrt': math.sqrt(n),
        'log': math.log(n) if n > 0 else None
    }

if __name__ == "__main__":
    with Pool(4) as pool:
        results = pool.map(square, range(10))
        print(results)
        # [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]

    with Pool(4) as pool:
        # Pass tuples that get unpacked as arguments
        results = pool.starmap(power, [(2, 3), (3, 3), (4, 3)])
        print(results)
        # [8, 27, 64]

    numbers = [10, 15, 20, 25, 30, 35, 40]
    with multiprocessing.Pool(4) as pool:
        results = pool.map(process_number, numbers)
    for r in results:
        print(f"Number: {r['input']}, Fib: {r['fib']}, Sqrt: {r['sqrt']:.2f}")
