package pool

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multiproc/multiproc/internal/shmfile"
)

// How side segments end with their queue, whatever the order of the
// handles' Closes and Unlinks, and beside a probe's flock (found by review
// of the side-segment rule; each failed on its first form).

func countSides(t *testing.T, prefix string) int {
	t.Helper()
	es, _ := os.ReadDir(shmfile.Dir)
	n := 0
	for _, e := range es {
		if strings.HasPrefix(e.Name(), prefix) {
			n++
		}
	}
	return n
}

// Unlink by the only holder, which keeps using the queue.
func TestQueueSidesUnlinkThenGet(t *testing.T) {
	ctx := context.Background()
	q, err := NewQueue[[]byte](Capacity(64<<10), Name(shmfile.Generate("test")))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	big := bytes.Repeat([]byte{7}, 300<<10)
	if err := q.Put(ctx, big); err != nil {
		t.Fatal(err)
	}
	q.Unlink()
	b, err := q.Get(ctx)
	if err != nil || !bytes.Equal(b, big) {
		t.Errorf("Get after Unlink by the open, only holder: %d bytes, %v", len(b), err)
	}
}

// A Held() probe (multiproc ls, a tracker) at the moment of the last Close.
func TestQueueSidesProbeAtLastClose(t *testing.T) {
	ctx := context.Background()
	q, _ := NewQueue[[]byte](Capacity(64 << 10))
	a, _ := OpenQueue[[]byte](q.Name())
	q.Put(ctx, bytes.Repeat([]byte{7}, 300<<10))
	prefix := sidePrefix(q.obj.File)
	path := q.obj.File.Path()
	q.Close()
	// A probe (ls, Sweep, a tracker's Held) holds an exclusive flock for a
	// moment just as the last holder closes.
	fd, err := os.Open("/proc/self/fd/" + strconv.Itoa(a.obj.File.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	stop := make(chan struct{})
	probing := make(chan struct{})
	go func() { // as a busy `multiproc ls` would: take and drop, again and again
		defer close(probing)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if unix.Flock(int(fd.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
				unix.Flock(int(fd.Fd()), unix.LOCK_UN)
			}
		}
	}()
	time.Sleep(time.Millisecond)
	_ = path
	a.Close()
	close(stop)
	<-probing
	if n := countSides(t, prefix); n != 0 {
		shmfile.RemoveSides(prefix)
		t.Errorf("%d side segments left after the last Close ran beside a probe", n)
	}
}

// Two last handles closed at once (two goroutines; two workers would do the same).
func TestQueueSidesConcurrentLastCloses(t *testing.T) {
	ctx := context.Background()
	leaks := 0
	const n = 300
	for range n {
		q, _ := NewQueue[[]byte](Capacity(64 << 10))
		a, _ := OpenQueue[[]byte](q.Name())
		b, _ := OpenQueue[[]byte](q.Name())
		q.Put(ctx, bytes.Repeat([]byte{7}, 300<<10))
		prefix := sidePrefix(q.obj.File)
		q.Close()
		start := make(chan struct{})
		done := make(chan struct{}, 2)
		for _, h := range []*Queue[[]byte]{a, b} {
			go func() { <-start; h.Close(); done <- struct{}{} }()
		}
		close(start)
		<-done
		<-done
		if countSides(t, prefix) != 0 {
			leaks++
			shmfile.RemoveSides(prefix)
		}
	}
	if leaks > 0 {
		t.Errorf("%d of %d pairs of concurrent last Closes left side segments", leaks, n)
	}
}

// Close, then Unlink: shared_memory's idiom (close(), then unlink()).
func TestQueueSidesCloseThenUnlink(t *testing.T) {
	ctx := context.Background()
	q, err := NewQueue[[]byte](Capacity(64<<10), Name(shmfile.Generate("test")))
	if err != nil {
		t.Fatal(err)
	}
	q.Put(ctx, bytes.Repeat([]byte{7}, 300<<10))
	prefix := sidePrefix(q.obj.File)
	q.Close()
	q.Unlink()
	if n := countSides(t, prefix); n != 0 {
		shmfile.RemoveSides(prefix)
		t.Errorf("%d side segments left after Close then Unlink by the only user", n)
	}
}

// Persistent named queue, the last Close then someone else's Unlink (OpenQueue + Unlink).
func TestQueueSidesUnlinkByOtherAfterClose(t *testing.T) {
	ctx := context.Background()
	name := shmfile.Generate("test")
	q, _ := NewQueue[[]byte](Capacity(64<<10), Name(name))
	q.Put(ctx, bytes.Repeat([]byte{7}, 300<<10))
	prefix := sidePrefix(q.obj.File)
	r, _ := OpenQueue[[]byte](name)
	q.Close()
	r.Unlink()
	r.Close()
	if n := countSides(t, prefix); n != 0 {
		shmfile.RemoveSides(prefix)
		t.Errorf("%d side segments left", n)
	}
}

// The creator's Close and another holder's Close at once.
func TestQueueSidesCreatorAndHolderClose(t *testing.T) {
	ctx := context.Background()
	leaks := 0
	const n = 300
	for range n {
		q, _ := NewQueue[[]byte](Capacity(64 << 10))
		a, _ := OpenQueue[[]byte](q.Name())
		q.Put(ctx, bytes.Repeat([]byte{7}, 300<<10))
		prefix := sidePrefix(q.obj.File)
		start := make(chan struct{})
		done := make(chan struct{}, 2)
		for _, h := range []*Queue[[]byte]{q, a} {
			go func() { <-start; h.Close(); done <- struct{}{} }()
		}
		close(start)
		<-done
		<-done
		if countSides(t, prefix) != 0 {
			leaks++
			shmfile.RemoveSides(prefix)
		}
	}
	if leaks > 0 {
		t.Errorf("%d of %d creator+holder concurrent Closes left side segments", leaks, n)
	}
}
