// Command counter is Python's shared-counter example in Go: four processes
// each add 1 to a shared counter 1,000 times under its lock.
//
//	go run ./examples/counter
//
// The Python original (multiprocessing):
//
//	counter = multiprocessing.Value('i', 0)
//	lock = multiprocessing.Lock()
//	def worker(counter, lock):
//	    for _ in range(1000):
//	        with lock:
//	            counter.value += 1
//	... 4 × Process(target=worker, args=(counter, lock)), start, join ...
//	print(f"Final counter: {counter.value}")
//
// Go cannot fork, so the workers are this program run again with the
// counter's name in an environment variable; the name is all a worker
// needs to open it. The counter's own lock plays Python's separate Lock:
// Update holds it around the increment.
package main

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/multiproc/multiproc/value"
)

const workerEnv = "COUNTER_WORKER" // set to the counter's name in workers

func main() {
	run := parent
	if name := os.Getenv(workerEnv); name != "" {
		run = func() error { return worker(name) }
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "counter:", err)
		os.Exit(1)
	}
}

func parent() error {
	counter, err := value.New[int32](0) // Python's 'i' is a C int
	if err != nil {
		return err
	}
	defer counter.Unlink()
	defer counter.Close()

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var workers []*exec.Cmd
	for range 4 {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), workerEnv+"="+counter.Name())
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err = cmd.Start(); err != nil {
			break
		}
		workers = append(workers, cmd)
	}
	for _, w := range workers {
		if werr := w.Wait(); werr != nil && err == nil {
			err = fmt.Errorf("worker %d: %w", w.Process.Pid, werr)
		}
	}
	if err != nil {
		return err
	}
	fmt.Printf("Final counter: %d\n", counter.Load())
	return nil
}

func worker(name string) error {
	counter, err := value.Open[int32](name)
	if err != nil {
		return err
	}
	defer counter.Close()
	for range 1000 {
		if err := counter.Update(func(n *int32) { *n++ }); err != nil {
			return err
		}
	}
	return nil
}
