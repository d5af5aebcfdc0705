package sem_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/multiproc/multiproc/sem"
)

// A Semaphore(2) lets two holders in at a time, across processes.
func ExampleNewSemaphore() {
	s, err := sem.NewSemaphore(2)
	if err != nil {
		panic(err)
	}
	defer s.Unlink()
	defer s.Close()

	fmt.Println(s.TryAcquire(), s.TryAcquire(), s.TryAcquire())
	s.Release()
	fmt.Println("value:", s.Value())
	// Output:
	// true true false
	// value: 1
}

// Releasing a BoundedSemaphore past its initial value is an error, and the
// semaphore is left as it was.
func ExampleNewBoundedSemaphore() {
	s, err := sem.NewBoundedSemaphore(1)
	if err != nil {
		panic(err)
	}
	defer s.Unlink()
	defer s.Close()

	err = s.Release()
	fmt.Println(errors.Is(err, sem.ErrReleasedTooManyTimes), s.Value())
	// Output: true 1
}

// Acquire waits until a token is released or the context ends.
func ExampleSemaphore_Acquire() {
	s, err := sem.NewSemaphore(0)
	if err != nil {
		panic(err)
	}
	defer s.Unlink()
	defer s.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	fmt.Println(s.Acquire(ctx))

	go s.Release() // from another goroutine, or another process
	fmt.Println(s.Acquire(context.Background()))
	// Output:
	// context deadline exceeded
	// <nil>
}

// ReleaseN adds several tokens in one step, waking as many waiters.
func ExampleSemaphore_ReleaseN() {
	s, err := sem.NewSemaphore(0)
	if err != nil {
		panic(err)
	}
	defer s.Unlink()
	defer s.Close()

	s.ReleaseN(3)
	fmt.Println(s.Value())
	// Output: 3
}

// OpenNamed attaches to any named POSIX semaphore: here one this program
// made, but a C program's sem_open("/name", O_CREAT, 0600, 0) or Python's
// multiprocessing Semaphore ("/mp-…") is opened the same way, and
// C's sem_post/sem_wait work on semaphores made by NewSemaphore.
func ExampleOpenNamed() {
	s, err := sem.NewSemaphore(0)
	if err != nil {
		panic(err)
	}
	defer s.Unlink()
	defer s.Close()

	other, err := sem.OpenNamed(s.Name()) // as another process would
	if err != nil {
		panic(err)
	}
	defer other.Close()
	other.Release()
	fmt.Println(s.Value(), other.Value())
	// Output: 1 1
}

// OpenSemaphore is NewSemaphore's twin: a worker opens the semaphore its
// parent made by name (Name returns "/NAME", the form sem_open takes).
func ExampleOpenSemaphore() {
	parent, err := sem.NewBoundedSemaphore(2)
	if err != nil {
		panic(err)
	}
	defer parent.Unlink()
	defer parent.Close()

	worker, err := sem.OpenSemaphore(parent.Name())
	if err != nil {
		panic(err)
	}
	defer worker.Close()
	worker.TryAcquire()
	fmt.Println(worker.Bounded(), worker.MaxValue(), parent.Value())
	// Output: true 2 1
}
