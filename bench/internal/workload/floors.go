package workload

import (
	"sync"
	"sync/atomic"
)

// The in-process floors: what the same work costs between goroutines of
// one process, so that every cross-process figure also reads as a distance
// from the floor.

func mutexPairs() inProcess {
	return inProcess{func() (func(int) error, func(), error) {
		var mu sync.Mutex
		return func(n int) error {
			for range n {
				mu.Lock()
				mu.Unlock()
			}
			return nil
		}, noClose, nil
	}}
}

// chanPairs is a channel of capacity 1 used as a semaphore: a send to
// acquire, a receive to release.
func chanPairs() inProcess {
	return inProcess{func() (func(int) error, func(), error) {
		ch := make(chan struct{}, 1)
		return func(n int) error {
			for range n {
				ch <- struct{}{}
				<-ch
			}
			return nil
		}, noClose, nil
	}}
}

// mutexCounter: procs goroutines share n increments under one sync.Mutex.
func mutexCounter(procs int) inProcess {
	return inProcess{func() (func(int) error, func(), error) {
		var mu sync.Mutex
		var count uint64
		return func(n int) error {
			return split(procs, n, func(_, share int) error {
				for range share {
					mu.Lock()
					count++
					mu.Unlock()
				}
				return nil
			})
		}, noClose, nil
	}}
}

// atomicAdd: procs goroutines share n atomic increments of one word.
func atomicAdd(procs int) inProcess {
	return inProcess{func() (func(int) error, func(), error) {
		var count atomic.Int64
		return func(n int) error {
			return split(procs, n, func(_, share int) error {
				for range share {
					count.Add(1)
				}
				return nil
			})
		}, noClose, nil
	}}
}

// chanPingPong: a round trip between two goroutines over two unbuffered
// channels.
func chanPingPong() inProcess {
	return inProcess{func() (func(int) error, func(), error) {
		ping, pong := make(chan struct{}), make(chan struct{})
		return func(n int) error {
			go func() {
				for range n {
					<-ping
					pong <- struct{}{}
				}
			}()
			for range n {
				ping <- struct{}{}
				<-pong
			}
			return nil
		}, noClose, nil
	}}
}

// chanStream: one goroutine sends n items of size bytes (8: int64) on a
// channel of 1024, another receives them.
func chanStream(size int) inProcess {
	return inProcess{func() (func(int) error, func(), error) {
		return func(n int) error {
			if size == 8 {
				return stream[int64](n)
			}
			return stream[[64]byte](n)
		}, noClose, nil
	}}
}

func stream[T any](n int) error {
	ch := make(chan T, 1024)
	go func() {
		var x T
		for range n {
			ch <- x
		}
	}()
	for range n {
		<-ch
	}
	return nil
}
