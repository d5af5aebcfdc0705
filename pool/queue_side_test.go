package pool_test

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/multiproc/multiproc/admin"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/shmfile"
	"github.com/multiproc/multiproc/pool"
)

func init() {
	proctest.Register("q-big-producer", roleBigProducer)
	proctest.Register("pipe-big-sender", roleBigSender)
}

// bigItem is an item of 256 KiB + i: past a quarter of a 64 KiB ring, so it
// travels in a side segment.
func bigItem(i int) []byte { return bytes.Repeat([]byte{byte(i + 1)}, 256<<10+i) }

// q-big-producer NAME N: puts N big items and exits, program and tracker.
func roleBigProducer(args []string) error {
	q, err := pool.OpenQueue[[]byte](args[0])
	if err != nil {
		return err
	}
	defer q.Close()
	for i := range len(args[1]) { // N as a count of characters: "xxx" is 3
		if err := q.Put(context.Background(), bigItem(i)); err != nil {
			return err
		}
	}
	return nil
}

// pipe-big-sender NAME:END: sends one big message and exits.
func roleBigSender(args []string) error {
	c, err := pool.OpenConn[[]byte](args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Send(context.Background(), bigItem(0))
}

// sides lists the side segments of the queue or pipe named owner (an
// inode of 0: the one the name means now).
func sides(t *testing.T, owner string, ino ...uint64) []string {
	t.Helper()
	if len(ino) == 0 {
		ino = append(ino, inode(t, owner))
	}
	es, err := os.ReadDir(shmfile.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if strings.HasPrefix(e.Name(), shmfile.SidePrefix(owner, ino[0])) {
			out = append(out, e.Name())
		}
	}
	return out
}

func inode(t *testing.T, name string) uint64 {
	t.Helper()
	fi, err := os.Lstat(shmfile.Path(name))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// A producer that is a program of its own (with its own tracker) puts
// items too large for the ring and exits before anyone takes them: the
// items are the queue's, and outlive it, as in Python, where a queue's
// items outlive a producer that has flushed them. Before, its tracker
// removed their side segments at its exit ("removed leaked raw segment"),
// and Get failed with "file does not exist".
func TestQueueBigItemsOutliveTheirProducer(t *testing.T) {
	q := newQueue[[]byte](t, pool.Capacity(64<<10))
	p := proctest.StartProgram(t, "q-big-producer", q.Name(), "xxx")
	p.MustSucceed()
	if out := strings.TrimSpace(p.Stderr()); out != "" {
		t.Errorf("the producer's stderr (its tracker's) is not empty:\n%s", out)
	}
	if n := len(sides(t, q.Name())); n != 3 {
		t.Fatalf("%d side segments after the producer's exit, want 3", n)
	}
	for i := range 3 {
		b, err := q.Get(context.Background())
		if err != nil {
			t.Fatalf("Get %d after the producer exited: %v", i, err)
		}
		if !bytes.Equal(b, bigItem(i)) {
			t.Fatalf("item %d: %d bytes, not the %d put", i, len(b), len(bigItem(i)))
		}
	}
	if left := sides(t, q.Name()); len(left) != 0 {
		t.Fatalf("side segments left after every item was taken: %v", left)
	}
}

// The same for a pipe's message.
func TestPipeBigMessageOutlivesItsSender(t *testing.T) {
	proctest.CheckShm(t)
	a, b, err := pool.Pipe[[]byte](true, pool.Capacity(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	p := proctest.StartProgram(t, "pipe-big-sender", b.Name())
	p.MustSucceed()
	m, err := a.Recv(context.Background())
	if err != nil || !bytes.Equal(m, bigItem(0)) {
		t.Fatalf("Recv after the sender exited: %d bytes, %v", len(m), err)
	}
}

// Items never taken end with their queue: once its name is gone (Unlink,
// or its creator's Close for a queue without a Name) its last handle's Close
// removes their side segments; one whose queue is gone by other means is an
// orphan that `multiproc clean` (admin.Sweep) removes.
func TestQueueSideSegmentsGoWithTheirQueue(t *testing.T) {
	proctest.CheckShm(t)
	// It sweeps /dev/shm: no other suite's test of leaked objects may run
	// meanwhile (theirs would be swept too).
	t.Cleanup(proctest.Exclusive("sweep"))
	ctx := context.Background()

	named, err := pool.NewQueue[[]byte](pool.Capacity(64<<10), pool.Name(shmfile.Generate("test")))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := named.Put(ctx, bigItem(i)); err != nil {
			t.Fatal(err)
		}
	}
	ino := inode(t, named.Name())
	if n := len(sides(t, named.Name(), ino)); n != 2 {
		t.Fatalf("%d side segments, want 2", n)
	}
	named.Unlink() // the handle is still open: its items stay for it
	if n := len(sides(t, named.Name(), ino)); n != 2 {
		t.Fatalf("%d side segments after an Unlink by a handle still open, want 2", n)
	}
	if b, err := named.Get(ctx); err != nil || !bytes.Equal(b, bigItem(0)) {
		t.Fatalf("Get after Unlink: %d bytes, %v", len(b), err)
	}
	named.Close() // the last handle of a queue whose name is gone
	if left := sides(t, named.Name(), ino); len(left) != 0 {
		t.Fatalf("the last Close after Unlink left the queue's side segments: %v", left)
	}

	anon, err := pool.NewQueue[[]byte](pool.Capacity(64 << 10))
	if err != nil {
		t.Fatal(err)
	}
	if err := anon.Put(ctx, bigItem(0)); err != nil {
		t.Fatal(err)
	}
	ino = inode(t, anon.Name())
	anon.Close() // the creator's Close removes a queue without a Name
	if left := sides(t, anon.Name(), ino); len(left) != 0 {
		t.Fatalf("the creator's Close left the queue's side segments: %v", left)
	}

	// Held by another handle, a queue whose name goes keeps its items
	// until that handle, the last, closes.
	shared, err := pool.NewQueue[[]byte](pool.Capacity(64 << 10))
	if err != nil {
		t.Fatal(err)
	}
	other, err := pool.OpenQueue[[]byte](shared.Name())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := shared.Put(ctx, bigItem(i)); err != nil {
			t.Fatal(err)
		}
	}
	ino = inode(t, shared.Name())
	shared.Close() // removes the name; other still holds the queue
	if b, err := other.Get(ctx); err != nil || !bytes.Equal(b, bigItem(0)) {
		t.Fatalf("Get through the other handle after the creator's Close: %d bytes, %v", len(b), err)
	}
	if n := len(sides(t, shared.Name(), ino)); n != 1 {
		t.Fatalf("%d side segments while the last handle is open, want 1", n)
	}
	// Nor is such an item an orphan to `multiproc clean`: its queue, though
	// nameless, is mapped by a live process.
	if _, err := admin.Sweep(admin.SweepOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, err := other.Get(ctx); err != nil || !bytes.Equal(b, bigItem(1)) {
		t.Fatalf("Get through the other handle after a Sweep: %d bytes, %v", len(b), err)
	}
	if err := shared.Put(ctx, bigItem(2)); err == nil {
		t.Fatal("Put on a closed handle succeeded")
	}
	if err := other.Put(ctx, bigItem(2)); err != nil {
		t.Fatal(err)
	}
	other.Close()
	if left := sides(t, shared.Name(), ino); len(left) != 0 {
		t.Fatalf("the last handle's Close left the queue's side segments: %v", left)
	}

	// An orphan: the queue's file removed behind the library's back.
	orphaned, err := pool.NewQueue[[]byte](pool.Capacity(64<<10), pool.Persistent())
	if err != nil {
		t.Fatal(err)
	}
	if err := orphaned.Put(ctx, bigItem(0)); err != nil {
		t.Fatal(err)
	}
	orphaned.Close()
	ino = inode(t, orphaned.Name())
	if err := os.Remove(shmfile.Path(orphaned.Name())); err != nil {
		t.Fatal(err)
	}
	left := sides(t, orphaned.Name(), ino)
	if len(left) != 1 {
		t.Fatalf("%d side segments of the removed queue, want 1", len(left))
	}
	if _, complete := shmfile.MappedOwners(); !complete {
		t.Log("some process's /proc/PID/maps cannot be read here (pid 1 of a sandbox, say), so no side segment can be shown an orphan: the Sweep part is skipped")
		os.Remove(shmfile.Path(left[0]))
		return
	}
	// Until the closed handle's mapping goes (a cleanup the runtime runs
	// after a GC, late on a loaded machine) the queue is alive: its side
	// segment is no orphan yet. Then Sweep removes it.
	deadline, _ := t.Deadline()
	for {
		runtime.GC()
		removed, err := admin.Sweep(admin.SweepOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(removed, func(o admin.Object) bool { return o.Name == left[0] }) {
			break
		}
		if !deadline.IsZero() && time.Until(deadline) < 5*time.Second {
			t.Fatalf("Sweep never removed the orphan %s (last: %v)", left[0], removed)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(sides(t, orphaned.Name(), ino)); n != 0 {
		t.Fatalf("%d side segments left after Sweep", n)
	}
}
