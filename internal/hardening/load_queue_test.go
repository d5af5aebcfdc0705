package hardening

// Load on one Queue: producers and consumers in processes of their own,
// in batches, for a while; the count is exact (every item put is taken
// exactly once, by a bit per item), each consumer sees each producer's
// items in order, and the throughput and the worst time from a put to its
// get are reported (reported, never asserted). 4 × 4 for 1 s by default;
// MULTIPROC_LOAD=long runs 8 × 8 for 10 s.

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/pool"
	"github.com/multiproc/multiproc/shm"
)

func init() {
	proctest.Register("load-queue", loadQueueWorker)
}

// loadItem is a load test's item: its encoding is its memory.
type loadItem struct {
	Producer, Seq uint32
	PutNanos      int64 // CLOCK_MONOTONIC: one clock for every process
}

const loadPerProducer = 1 << 26 // items a producer may put (bits of its share of the map)

func monoNanos() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// loadQueueWorker: args are the control's name, the id, the queue's name,
// the bit map's name and "producer" or "consumer". From ctlRound != 0 on,
// a producer puts batches until ctlStop, a consumer takes batches until
// the queue is shut down; each reports its count (slotOps) and a consumer
// its worst put-to-get time in ns (slotSeen).
func loadQueueWorker(args []string) error {
	ctl, me, err := workerStart(args)
	if err != nil {
		return err
	}
	q, err := pool.OpenQueue[loadItem](args[2])
	if err != nil {
		return err
	}
	defer q.Close()
	seg, err := shm.Open(args[3])
	if err != nil {
		return err
	}
	bits := words(seg.Bytes())
	fmt.Println("ready")
	for ctl.get(ctlRound) == 0 {
		time.Sleep(100 * time.Microsecond)
	}
	ctx := context.Background()
	if args[4] == "producer" {
		batch := make([]loadItem, 32)
		var n uint32
		for ctl.get(ctlStop) == 0 && n+uint32(len(batch)) <= loadPerProducer {
			now := monoNanos()
			for i := range batch {
				batch[i] = loadItem{Producer: uint32(me), Seq: n + uint32(i), PutNanos: now}
			}
			if err := q.PutBatch(ctx, batch); err != nil {
				return err
			}
			n += uint32(len(batch))
		}
		ctl.slotSet(me, slotOps, uint64(n))
		seg.Close()
		return nil
	}
	last := map[uint32]int64{}
	var n uint64
	var worst int64
	for {
		items, err := q.GetBatch(ctx, 64)
		if errors.Is(err, pool.ErrShutDown) {
			break
		}
		if err != nil {
			return err
		}
		now := monoNanos()
		for _, it := range items {
			if l, ok := last[it.Producer]; ok && int64(it.Seq) <= l {
				return fmt.Errorf("producer %d's item %d after its item %d", it.Producer, it.Seq, l)
			}
			last[it.Producer] = int64(it.Seq)
			if it.Seq >= loadPerProducer {
				return fmt.Errorf("producer %d's item %d: out of range", it.Producer, it.Seq)
			}
			bit := uint64(it.Producer)*loadPerProducer + uint64(it.Seq)
			if old := orBit(bits, bit); old {
				return fmt.Errorf("producer %d's item %d taken twice", it.Producer, it.Seq)
			}
			worst = max(worst, now-it.PutNanos)
		}
		n += uint64(len(items))
	}
	ctl.slotSet(me, slotOps, n)
	ctl.slotSet(me, slotSeen, uint64(worst))
	seg.Close()
	return nil
}

// orBit sets bit i of the map and reports whether it was set already.
func orBit(bits []uint64, i uint64) bool {
	w, m := &bits[i/64], uint64(1)<<(i%64)
	for {
		old := atomic.LoadUint64(w)
		if old&m != 0 {
			return true
		}
		if atomic.CompareAndSwapUint64(w, old, old|m) {
			return false
		}
	}
}

func TestLoadQueue(t *testing.T) {
	procs, d := 4, time.Second
	if longLoad() {
		procs, d = 8, 10*time.Second
	}
	proctest.CheckShm(t)
	q, err := pool.NewQueue[loadItem]()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	seg, err := shm.Create("", procs*loadPerProducer/8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seg.Close(); seg.Unlink() })
	ctl := newControl(t, 2*procs)
	start := func(id int, kind string) *proctest.Child {
		return proctest.Start(t, "load-queue", ctl.seg.Name(), fmt.Sprint(id), q.Name(), seg.Name(), kind)
	}
	var producers, consumers []*proctest.Child
	for i := range procs {
		producers = append(producers, start(i, "producer"))
		consumers = append(consumers, start(procs+i, "consumer"))
	}
	for _, c := range append(producers, consumers...) {
		c.WaitLine("ready")
	}
	began := time.Now()
	ctl.set(ctlRound, 1)
	time.Sleep(d)
	ctl.set(ctlStop, 1)
	for _, c := range producers {
		c.MustSucceed()
	}
	if err := q.Shutdown(proctest.Context(t)); err != nil {
		t.Fatal(err)
	}
	for _, c := range consumers {
		c.MustSucceed()
	}
	took := time.Since(began)
	var put, got uint64
	var worst time.Duration
	for i := range procs {
		put += ctl.slotGet(i, slotOps)
		got += ctl.slotGet(procs+i, slotOps)
		worst = max(worst, time.Duration(ctl.slotGet(procs+i, slotSeen)))
	}
	if put != got {
		t.Fatalf("%d items put, %d taken", put, got)
	}
	bits := words(seg.Bytes())
	for p := range procs {
		n := ctl.slotGet(p, slotOps)
		for s := uint64(0); s < loadPerProducer; s += 64 {
			w := bits[(uint64(p)*loadPerProducer+s)/64]
			want := ^uint64(0)
			if s+64 > n {
				want = 0
				if s < n {
					want = 1<<(n-s) - 1
				}
			}
			if w != want {
				t.Fatalf("producer %d put %d items; the map's bits %d..%d are %#x, want %#x", p, n, s, s+63, w, want)
			}
		}
	}
	for p := range procs {
		if ctl.slotGet(p, slotOps)+32 > loadPerProducer {
			t.Logf("producer %d put all the %d items it may: the throughput is understated", p, loadPerProducer)
		}
	}
	if q.Len() != 0 {
		t.Fatalf("%d items left", q.Len())
	}
	t.Logf("%d producers × %d consumers for %v: %d items, each taken exactly once and in its producer's order; %.0f items/s; worst put-to-get %v",
		procs, procs, d, put, float64(put)/took.Seconds(), worst.Round(time.Microsecond))
}
