package hardening

// A storm of tasks on a Pool while a worker is SIGKILLed every 100 ms:
// 10,000 tasks by default, MULTIPROC_LOAD=long 100,000, in ten calls
// (Map with Python's chunking, Imap, ImapUnordered; fixed-size and
// encoded). Every task must be accounted for — its correct result, or an
// ErrWorkerDied naming it, exactly once — and the parent's heap and
// goroutines must stay flat from the first call to the last.

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/pool"
)

// TestLoadPoolStorm is the storm above. Kills this far apart seldom meet
// poolSeqBug (52 runs without a trip); one that does leaves a task with
// two outcomes, or none.
func TestLoadPoolStorm(t *testing.T) {
	total := 10_000
	if longLoad() {
		total = 100_000
	}
	const calls = 10
	proctest.CheckShm(t)
	p, err := pool.New(pool.Workers(3))
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			p.Terminate()
		}
	})
	ctx := proctest.Context(t)
	k := startPoolKiller(p, 0, 100*time.Millisecond)
	var heap0, heapMax uint64
	var gor0, gorMax int
	failed, results := 0, 0
	began := time.Now()
	for call := int64(1); call <= calls; call++ {
		n := total / calls
		kind := []string{"Map", "Imap", "ImapUnordered"}[call%3]
		chunk := map[string]int{"Map": 0, "Imap": 8, "ImapUnordered": 32}[kind]
		out := poolCall(t, ctx, p, kind, call%2 == 0, call, n, chunk, 50)
		for i, o := range out {
			var wd *pool.WorkerDiedError
			switch {
			case o.n != 1:
				t.Fatalf("call %d (%s): task %d had %d outcomes", call, kind, i, o.n)
			case o.err == nil && o.v != chaosValue(call, int64(i)):
				t.Fatalf("call %d (%s): task %d's result is %d", call, kind, i, o.v)
			case o.err == nil:
				results++
			case !errors.As(o.err, &wd) || wd.Index != i || !k.wasKilled(wd.PID):
				t.Fatalf("call %d (%s): task %d: %v", call, kind, i, o.err)
			default:
				failed++
			}
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		g := runtime.NumGoroutine()
		if call == 1 {
			heap0, gor0 = ms.HeapInuse, g
		}
		heapMax, gorMax = max(heapMax, ms.HeapInuse), max(gorMax, g)
	}
	took := time.Since(began)
	kills := k.halt()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	if failed > kills {
		t.Fatalf("%d tasks failed, for %d kills", failed, kills)
	}
	// Flat: what a leak per task or per death would add is thousands of
	// goroutines and megabytes; the runtime's own come and go by a few.
	if gorMax > gor0+4 || heapMax > heap0+8<<20 {
		t.Errorf("after the first call: %d goroutines, %s of heap; at most, later: %d, %s", gor0, mib(heap0), gorMax, mib(heapMax))
	}
	t.Logf("%d tasks in %d calls in %v with a worker SIGKILLed every 100 ms (%d kills): %d results correct, %d ErrWorkerDied naming their task, each exactly once; goroutines %d → at most %d, heap %s → at most %s",
		total, calls, took.Round(time.Millisecond), kills, results, failed, gor0, gorMax, mib(heap0), mib(heapMax))
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
