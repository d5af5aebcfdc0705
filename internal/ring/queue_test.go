//go:build linux

package ring

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/wait"
)

func TestMain(m *testing.M) { proctest.Main(m) }

func init() {
	proctest.Register("ring-producer", roleProducer)
	proctest.Register("ring-consumer", roleConsumer)
}

// newQueue creates a queue object for a test, removed when it ends.
func newQueue(t testing.TB, g Geometry) (*segment.Object, *Queue) {
	t.Helper()
	proctest.CheckShm(t)
	obj, err := segment.CreateObject(segment.ObjectSpec{Kind: layout.KindQueue, PayloadSize: QueuePayloadSize(g.Capacity)},
		segment.Options{}, func(p []byte) error { return InitQueue(p, g) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { obj.Unlink(); obj.Close() })
	q, err := Attach(obj, nil)
	if err != nil {
		t.Fatal(err)
	}
	return obj, q
}

func openQueue(name string) (*Queue, error) {
	obj, err := segment.OpenObject(name, layout.KindQueue, nil, segment.OpenOptions{})
	if err != nil {
		return nil, err
	}
	return Attach(obj, nil)
}

// A test record: producer id, sequence number, a filler of a size that
// depends on both, and a checksum of all of it, so a torn record shows.
func fillRecord(dst []byte, p, s uint32) {
	binary.LittleEndian.PutUint32(dst[0:], p)
	binary.LittleEndian.PutUint32(dst[4:], s)
	for i := 12; i < len(dst); i++ {
		dst[i] = byte(p*31 + s + uint32(i))
	}
	binary.LittleEndian.PutUint32(dst[8:], crc32.ChecksumIEEE(append(append([]byte{}, dst[:8]...), dst[12:]...)))
}

func recordSize(p, s uint32) int { return 12 + int((p*7+s)%53) }

func checkRecord(b []byte) (p, s uint32, err error) {
	if len(b) < 12 {
		return 0, 0, fmt.Errorf("record of %d bytes", len(b))
	}
	p, s = binary.LittleEndian.Uint32(b[0:]), binary.LittleEndian.Uint32(b[4:])
	if len(b) != recordSize(p, s) {
		return p, s, fmt.Errorf("record %d/%d of %d bytes, want %d", p, s, len(b), recordSize(p, s))
	}
	if crc32.ChecksumIEEE(append(append([]byte{}, b[:8]...), b[12:]...)) != binary.LittleEndian.Uint32(b[8:]) {
		return p, s, fmt.Errorf("record %d/%d torn", p, s)
	}
	return p, s, nil
}

// roleProducer: name, id, first, n, batch. Puts records id/first..first+n-1.
func roleProducer(args []string) error {
	q, err := openQueue(args[0])
	if err != nil {
		return err
	}
	id, _ := strconv.Atoi(args[1])
	first, _ := strconv.Atoi(args[2])
	n, _ := strconv.Atoi(args[3])
	batch, _ := strconv.Atoi(args[4])
	ctx := context.Background()
	for s := first; s < first+n; s += batch {
		k := min(batch, first+n-s)
		sizes := make([]int, k)
		for i := range sizes {
			sizes[i] = recordSize(uint32(id), uint32(s+i))
		}
		if err := q.PutBatch(ctx, sizes, nil, func(i int, dst []byte) error {
			fillRecord(dst, uint32(id), uint32(s+i))
			return nil
		}, true); err != nil {
			return err
		}
	}
	return nil
}

// tallyOf summarises what a consumer received of one producer.
type tallyOf struct {
	count, sum, sumSq uint64
	last              int64
	ordered           bool
}

// roleConsumer: name, batch. Takes records until the queue is closed for
// everyone and drained; prints per producer "p count sum sumsq ordered".
func roleConsumer(args []string) error {
	q, err := openQueue(args[0])
	if err != nil {
		return err
	}
	batch, _ := strconv.Atoi(args[1])
	tallies := map[uint32]*tallyOf{}
	var bad error
	take := func(kind uint32, b []byte) error {
		p, s, err := checkRecord(b)
		if err != nil && bad == nil {
			bad = err
		}
		t := tallies[p]
		if t == nil {
			t = &tallyOf{last: -1, ordered: true}
			tallies[p] = t
		}
		if int64(s) <= t.last {
			t.ordered = false
		}
		t.last = int64(s)
		t.count++
		t.sum += uint64(s)
		t.sumSq += uint64(s) * uint64(s)
		return nil
	}
	for {
		_, err := q.GetBatch(context.Background(), batch, take, true)
		if errors.Is(err, ErrClosed) {
			break
		}
		if err != nil {
			return err
		}
	}
	if bad != nil {
		return bad
	}
	for p, t := range tallies {
		fmt.Printf("%d %d %d %d %v\n", p, t.count, t.sum, t.sumSq, t.ordered)
	}
	fmt.Println("done")
	return nil
}

// runMPMC runs producers × perProducer records through consumers and checks
// every record arrived exactly once, whole, each producer's in order.
func runMPMC(t *testing.T, g Geometry, producers, consumers, perProducer, batch int) {
	_, q := newQueue(t, g)
	name := q.file.Name
	var cs, ps []*proctest.Child
	for range consumers {
		cs = append(cs, proctest.Start(t, "ring-consumer", name, strconv.Itoa(batch)))
	}
	for i := range producers {
		ps = append(ps, proctest.Start(t, "ring-producer", name, strconv.Itoa(i), "0", strconv.Itoa(perProducer), strconv.Itoa(batch)))
	}
	for _, p := range ps {
		p.MustSucceed()
	}
	if err := q.CloseAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	total := map[uint32]*tallyOf{}
	for _, c := range cs {
		c.MustSucceed()
		for _, line := range c.Output() {
			if line == "done" {
				continue
			}
			var p uint32
			var tl tallyOf
			fmt.Sscanf(line, "%d %d %d %d %v", &p, &tl.count, &tl.sum, &tl.sumSq, &tl.ordered)
			if !tl.ordered {
				t.Errorf("a consumer received producer %d's records out of order", p)
			}
			if total[p] == nil {
				total[p] = &tallyOf{}
			}
			total[p].count += tl.count
			total[p].sum += tl.sum
			total[p].sumSq += tl.sumSq
		}
	}
	n := uint64(perProducer)
	for i := range producers {
		tl := total[uint32(i)]
		if tl == nil || tl.count != n || tl.sum != n*(n-1)/2 || tl.sumSq != (n-1)*n*(2*n-1)/6 {
			t.Fatalf("producer %d: received %+v, want count %d sum %d sumsq %d", i, tl, n, n*(n-1)/2, (n-1)*n*(2*n-1)/6)
		}
	}
	if q.Len() != 0 {
		t.Fatalf("%d records left", q.Len())
	}
}

func TestTwoProducersTwoConsumersExactlyOnceInOrder(t *testing.T) {
	runMPMC(t, Geometry{Capacity: 1 << 16}, 2, 2, 100000, 1)
}

func TestEightByEightBatched(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	runMPMC(t, Geometry{Capacity: 1 << 14}, 8, 8, n, 16)
}

func TestMaxItemsBoundsTheQueue(t *testing.T) {
	_, q := newQueue(t, Geometry{Capacity: 4096, MaxItems: 3})
	fill := func(dst []byte) error { return nil }
	for i := range 3 {
		if err := q.TryPut(8, KindItem, fill); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	if err := q.TryPut(8, KindItem, fill); !errors.Is(err, ErrFull) {
		t.Fatalf("4th put into a maxsize-3 queue = %v, want ErrFull", err)
	}
	if !q.Full(8) || q.Len() != 3 {
		t.Fatalf("Full %v Len %d", q.Full(8), q.Len())
	}
}

func TestBlockingPutAndGetWakeEachOther(t *testing.T) {
	defer wait.SetPollInterval(wait.SetPollInterval(time.Hour)) // only wakes can help
	_, q := newQueue(t, Geometry{Capacity: 256})
	ctx := proctest.Context(t)
	// Get on empty waits, and wakes on a put.
	got := make(chan error, 1)
	go func() { got <- q.Get(ctx, func(uint32, []byte) error { return nil }) }()
	time.Sleep(10 * time.Millisecond)
	select {
	case err := <-got:
		t.Fatalf("Get on an empty queue returned %v", err)
	default:
	}
	if err := q.Put(ctx, 8, KindItem, func([]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// Put on full waits, and wakes on a get.
	for q.TryPut(40, KindItem, func([]byte) error { return nil }) == nil {
	}
	put := make(chan error, 1)
	go func() { put <- q.Put(ctx, 40, KindItem, func([]byte) error { return nil }) }()
	time.Sleep(10 * time.Millisecond)
	select {
	case err := <-put:
		t.Fatalf("Put on a full queue returned %v", err)
	default:
	}
	if err := q.TryGet(func(uint32, []byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := <-put; err != nil {
		t.Fatal(err)
	}
}

func TestTimeoutAndCancelLeaveTheQueueAsItWas(t *testing.T) {
	_, q := newQueue(t, Geometry{Capacity: 128})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := q.Get(ctx, func(uint32, []byte) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get on empty with a deadline = %v", err)
	}
	for q.TryPut(8, KindItem, func([]byte) error { return nil }) == nil {
	}
	n := q.Len()
	ctx, cancel = context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	if err := q.Put(ctx, 8, KindItem, func([]byte) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Put on full = %v", err)
	}
	if q.Len() != n {
		t.Fatalf("Len %d after a cancelled put, want %d", q.Len(), n)
	}
	// A fill that fails puts nothing.
	q2 := q
	q2.TryGet(func(uint32, []byte) error { return nil })
	boom := errors.New("boom")
	if err := q2.TryPut(8, KindItem, func([]byte) error { return boom }); err != boom {
		t.Fatalf("failing fill: %v", err)
	}
	if q2.Len() != n-1 {
		t.Fatalf("a failed fill changed the queue: Len %d", q2.Len())
	}
	// A take that fails leaves the record.
	if err := q2.TryGet(func(uint32, []byte) error { return boom }); err != boom || q2.Len() != n-1 {
		t.Fatalf("failing take: %v, Len %d", err, q2.Len())
	}
}

func TestCloseAllFailsPutsAndDrainsGets(t *testing.T) {
	_, q := newQueue(t, Geometry{Capacity: 1024})
	ctx := context.Background()
	for range 3 {
		q.Put(ctx, 8, KindItem, func([]byte) error { return nil })
	}
	waiters := make(chan error, 2)
	_, q2 := newQueue(t, Geometry{Capacity: 1024})
	for range 2 {
		go func() { waiters <- q2.Get(ctx, func(uint32, []byte) error { return nil }) }()
	}
	time.Sleep(10 * time.Millisecond)
	if err := q.CloseAll(ctx); err != nil {
		t.Fatal(err)
	}
	q2.CloseAll(ctx)
	for range 2 {
		if err := <-waiters; !errors.Is(err, ErrClosed) {
			t.Fatalf("waiter on a closed empty queue = %v", err)
		}
	}
	if err := q.Put(ctx, 8, KindItem, func([]byte) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put after CloseAll = %v", err)
	}
	for i := range 3 {
		if err := q.Get(ctx, func(uint32, []byte) error { return nil }); err != nil {
			t.Fatalf("drain %d: %v", i, err)
		}
	}
	if err := q.Get(ctx, func(uint32, []byte) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get of a drained closed queue = %v", err)
	}
}

// Many goroutines of one process on one queue: exact, and one kernel
// sleeper per side.
func TestGoroutinesShareTheQueue(t *testing.T) {
	_, q := newQueue(t, Geometry{Capacity: 1 << 12})
	const producers, per = 8, 5000
	var got atomic.Int64
	var wg sync.WaitGroup
	ctx := proctest.Context(t)
	for c := range 4 {
		wg.Go(func() {
			for {
				err := q.Get(ctx, func(_ uint32, b []byte) error {
					if _, _, err := checkRecord(b); err != nil {
						t.Error(c, err)
					}
					got.Add(1)
					return nil
				})
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var pw sync.WaitGroup
	for p := range producers {
		pw.Go(func() {
			for s := range per {
				if err := q.Put(ctx, recordSize(uint32(p), uint32(s)), KindItem, func(dst []byte) error {
					fillRecord(dst, uint32(p), uint32(s))
					return nil
				}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	pw.Wait()
	q.CloseAll(ctx)
	wg.Wait()
	if got.Load() != producers*per {
		t.Fatalf("received %d, want %d", got.Load(), producers*per)
	}
}

func TestInspectQueue(t *testing.T) {
	obj, q := newQueue(t, Geometry{Capacity: 1024, MaxItems: 10, Joinable: true})
	for range 4 {
		q.TryPut(20, KindItem, func([]byte) error { return nil })
	}
	st, err := InspectQueue(append([]byte(nil), obj.Payload[:QueueControlSize]...), len(obj.Payload))
	if err != nil {
		t.Fatal(err)
	}
	if st.Items != 4 || st.Bytes != 4*RecordSize(20) || st.Capacity != 1024 || st.MaxItems != 10 || !st.Joinable || st.Unfinished != 4 || st.Closed {
		t.Fatalf("InspectQueue = %+v", st)
	}
	if _, err := InspectQueue(make([]byte, 100), 100); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("InspectQueue of garbage: %v", err)
	}
}

func TestReadGeometryRefusesForeignBytes(t *testing.T) {
	p := make([]byte, qDataOff+1024)
	InitQueue(p, Geometry{Capacity: 1024})
	for _, bad := range []func(c *qControl){
		func(c *qControl) { c.capacity = 7 },
		func(c *qControl) { c.capacity = 1 << 40 },
		func(c *qControl) { c.capacity = 4096 }, // larger than the payload
		func(c *qControl) { c.flags = 0x80 },
		func(c *qControl) { c.maxItems = 1 << 31 },
	} {
		q := append([]byte(nil), p...)
		bad((*qControl)(ptr(q)))
		if _, err := readGeometry(q); !errors.Is(err, ErrCorrupt) {
			t.Errorf("readGeometry accepted a bad control block: %v", err)
		}
	}
	if _, err := readGeometry(p[:100]); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "100 bytes") {
		t.Errorf("short payload: %v", err)
	}
}

func ptr(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }

// A consumer that marks an item done the moment it took it never finds
// the item not yet counted: the put's one tail store commits both. (With
// the count raised after the tail store, this failed within thousands of
// items.)
func TestTaskDoneRightAfterGetIsNeverTooOften(t *testing.T) {
	_, q := newQueue(t, Geometry{Capacity: 1 << 12, Joinable: true})
	const n = 200000
	ctx := proctest.Context(t)
	errs := make(chan error, 1)
	go func() {
		for range n {
			if err := q.Get(ctx, func(uint32, []byte) error { return nil }); err != nil {
				errs <- err
				return
			}
			if err := q.TaskDone(); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	for range n {
		if err := q.Put(ctx, 8, KindItem, func([]byte) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if err := q.Join(ctx); err != nil || q.Unfinished() != 0 {
		t.Fatalf("Join = %v, Unfinished %d", err, q.Unfinished())
	}
}
