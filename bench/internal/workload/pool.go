package workload

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/multiproc/multiproc/pool"
)

// The Queue and Pipe workloads' multiproc side: a setup that makes the
// queue (or the pipe) in the measuring process, and worker roles that open
// it by name. Queue workers 0..P-1 put, P..P+C-1 get; the n items are
// shared out between the producers and between the consumers.

func init() {
	register("queue", roleQueue)
	register("pipe", rolePipe)
}

// A small struct, as a task or a record would be, through the default
// (binary) codec; Python's row carries the equivalent tuple.
type benchRecord struct {
	ID    int64
	Name  string
	Score float64
	Tags  []string
}

var benchTags = []string{"alpha", "beta"}

// queueItems are the item kinds of the Queue workloads.
var queueItems = []struct {
	name string
	size int // bytes of payload, for the baselines
}{{"int64", 8}, {"64B", 64}, {"struct", 48}, {"1MiB", mib}}

// setupQueue makes a queue for items of kind item; the args are the
// queue's name, the item kind, the batch size and the producer and
// consumer counts.
func setupQueue(item string, batch, producers, consumers int, capacity int) func() (*shared, error) {
	return func() (*shared, error) {
		var name string
		var closeQ func()
		opts := []pool.QueueOption{}
		if capacity > 0 {
			opts = append(opts, pool.Capacity(capacity))
		}
		switch item {
		case "int64":
			q, err := pool.NewQueue[int64](opts...)
			if err != nil {
				return nil, err
			}
			name, closeQ = q.Name(), func() { q.Close() }
		case "struct":
			q, err := pool.NewQueue[benchRecord](opts...)
			if err != nil {
				return nil, err
			}
			name, closeQ = q.Name(), func() { q.Close() }
		default:
			q, err := pool.NewQueue[[]byte](opts...)
			if err != nil {
				return nil, err
			}
			name, closeQ = q.Name(), func() { q.Close() }
		}
		return &shared{
			args:  []string{name, item, strconv.Itoa(batch), strconv.Itoa(producers), strconv.Itoa(consumers)},
			close: closeQ,
		}, nil
	}
}

// roleQueue: QUEUE ITEM BATCH P C.
func roleQueue(w worker) (func() error, func(), error) {
	item := w.Args[1]
	batch, _ := strconv.Atoi(w.Args[2])
	p, _ := strconv.Atoi(w.Args[3])
	c, _ := strconv.Atoi(w.Args[4])
	switch item {
	case "int64":
		return queueRole(w, batch, p, c, func(i int) int64 { return int64(i) })
	case "struct":
		return queueRole(w, batch, p, c, func(i int) benchRecord {
			return benchRecord{ID: int64(i), Name: "record", Score: float64(i) / 3, Tags: benchTags}
		})
	case "64B":
		b := make([]byte, 64)
		return queueRole(w, batch, p, c, func(int) []byte { return b })
	case "1MiB":
		b := make([]byte, mib)
		return queueRole(w, batch, p, c, func(int) []byte { return b })
	}
	return nil, nil, fmt.Errorf("queue item %q", item)
}

// share is worker i's part of n items split between k workers.
func share(n, k, i int) int {
	s := n / k
	if i < n%k {
		s++
	}
	return s
}

func queueRole[T any](w worker, batch, producers, consumers int, mk func(int) T) (func() error, func(), error) {
	q, err := pool.OpenQueue[T](w.Args[0])
	if err != nil {
		return nil, nil, err
	}
	ctx := context.Background()
	if w.Index < producers {
		n := share(w.Ops, producers, w.Index)
		return func() error {
			if batch <= 1 {
				for i := range n {
					if err := q.Put(ctx, mk(i)); err != nil {
						return err
					}
				}
				return nil
			}
			xs := make([]T, 0, batch)
			for i := 0; i < n; {
				xs = xs[:0]
				for ; len(xs) < batch && i < n; i++ {
					xs = append(xs, mk(i))
				}
				if err := q.PutBatch(ctx, xs); err != nil {
					return err
				}
			}
			return nil
		}, func() { q.Close() }, nil
	}
	n := share(w.Ops, consumers, w.Index-producers)
	return func() error {
		for got := 0; got < n; {
			if batch <= 1 {
				if _, err := q.Get(ctx); err != nil {
					return err
				}
				got++
				continue
			}
			xs, err := q.GetBatch(ctx, min(batch, n-got))
			if err != nil {
				return err
			}
			got += len(xs)
		}
		return nil
	}, func() { q.Close() }, nil
}

// setupPipe makes a duplex pipe of int64 messages.
func setupPipe() (*shared, error) {
	a, b, err := pool.Pipe[int64](true)
	if err != nil {
		return nil, err
	}
	return &shared{args: []string{a.Name(), b.Name()}, close: func() { a.Close(); b.Close() }}, nil
}

// rolePipe: END0 END1. Worker 0 sends on end 0 and waits for the answer;
// worker 1 answers each message on end 1: one op is a round trip.
func rolePipe(w worker) (func() error, func(), error) {
	c, err := pool.OpenConn[int64](w.Args[w.Index])
	if err != nil {
		return nil, nil, err
	}
	ctx := context.Background()
	n := w.Ops
	return func() error {
		for i := range n {
			if w.Index == 0 {
				if err := c.Send(ctx, int64(i)); err != nil {
					return err
				}
				v, err := c.Recv(ctx)
				if err != nil {
					return err
				}
				if v != int64(i) {
					return errors.New("pipe answered out of turn")
				}
				continue
			}
			v, err := c.Recv(ctx)
			if err != nil {
				return err
			}
			if err := c.Send(ctx, v); err != nil {
				return err
			}
		}
		return nil
	}, func() { c.Close() }, nil
}
