package hardening

// Load: many processes on one Lock, and many objects of every kind made
// and destroyed. Small by default; MULTIPROC_LOAD=long runs the full sizes.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
)

func init() {
	proctest.Register("load-lock", loadLockWorker)
}

func longLoad() bool { return os.Getenv("MULTIPROC_LOAD") == "long" }

// loadLockWorker locks the Lock args[2] and adds one to the counter in the
// segment args[3] with a plain load and store (a lost update would show)
// until ctlStop, from ctlRound != 0 on. It reports its count (slotOps) and
// its longest single wait for the lock in ns (slotSeen).
func loadLockWorker(args []string) error {
	ctl, me, err := workerStart(args)
	if err != nil {
		return err
	}
	l, err := sem.OpenLock(args[2])
	if err != nil {
		return err
	}
	seg, err := shm.Open(args[3])
	if err != nil {
		return err
	}
	counter := &words(seg.Bytes())[0]
	fmt.Println("ready")
	for ctl.get(ctlRound) == 0 {
		time.Sleep(100 * time.Microsecond)
	}
	ctx := context.Background()
	var n uint64
	var worst time.Duration
	for ctl.get(ctlStop) == 0 {
		start := time.Now()
		if err := l.LockContext(ctx); err != nil {
			return err
		}
		if w := time.Since(start); w > worst {
			worst = w
		}
		*counter = *counter + 1
		l.Unlock()
		n++
	}
	ctl.slotSet(me, slotOps, n)
	ctl.slotSet(me, slotSeen, uint64(worst))
	return nil
}

// TestLoadLockContention: procs processes on one Lock for a while; the
// count is exact, and the throughput and the worst single wait are
// reported (timing is reported, never asserted).
func TestLoadLockContention(t *testing.T) {
	procs, d := 8, time.Second
	if longLoad() {
		procs, d = 64, 10*time.Second
	}
	proctest.CheckShm(t)
	l, err := sem.NewLock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(); l.Unlink() })
	seg, err := shm.Create("", 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seg.Close(); seg.Unlink() })
	ctl := newControl(t, procs)
	cs := make([]*proctest.Child, procs)
	for i := range cs {
		cs[i] = proctest.Start(t, "load-lock", ctl.seg.Name(), strconv.Itoa(i), l.Name(), seg.Name())
	}
	for _, c := range cs {
		c.WaitLine("ready")
	}
	ctl.set(ctlRound, 1)
	time.Sleep(d)
	ctl.set(ctlStop, 1)
	for _, c := range cs {
		c.MustSucceed()
	}
	var total, fewest, most uint64
	var worst time.Duration
	fewest = ^uint64(0)
	for i := range procs {
		n := ctl.slotGet(i, slotOps)
		total += n
		fewest, most = min(fewest, n), max(most, n)
		worst = max(worst, time.Duration(ctl.slotGet(i, slotSeen)))
	}
	if got := atomic.LoadUint64(&words(seg.Bytes())[0]); got != total {
		t.Fatalf("counter %d, workers counted %d: mutual exclusion failed", got, total)
	}
	t.Logf("%d processes on one Lock for %v: %d acquisitions, exact; %.0f/s; per process %d to %d; worst single wait %v",
		procs, d, total, float64(total)/d.Seconds(), fewest, most, worst.Round(time.Microsecond))
}

// procCounts reads the process's open descriptors, OS threads and mappings.
func procCounts(t *testing.T) (fds, threads, maps int) {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("Threads:")); ok {
			threads, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	m, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	return len(es) - 1, threads, bytes.Count(m, []byte("\n")) // less ReadDir's own fd
}

// settle collects garbage: a closed handle's mapping is released by a
// cleanup once the handle is unreachable, and cleanups run after a GC.
func settle() {
	for range 3 {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLoadObjectsCycle: many objects of every kind created, closed and
// unlinked leave no open descriptor, OS thread or mapping behind once
// collected.
func TestLoadObjectsCycle(t *testing.T) {
	n := 1000
	if longLoad() {
		n = 10000
	}
	proctest.CheckShm(t)
	cycle := func(k kindCase, times int) {
		for range times {
			opened, closeIt, err := k.create("", 0)
			if err != nil {
				t.Fatalf("%s: %v", k.name, err)
			}
			closeIt(true)
			if _, err := os.Lstat("/dev/shm/" + k.file(opened)); err == nil {
				t.Fatalf("%s: %s still there after Unlink", k.name, opened)
			}
		}
	}
	for _, k := range everyKind() {
		cycle(k, 100) // warm up: the tracker's connection, the runtime's arenas
		settle()
		fd0, th0, m0 := procCounts(t)
		start := time.Now()
		cycle(k, n)
		took := time.Since(start)
		// The runtime may add a thread or map a heap arena of its own;
		// what n objects would leak is n of something. Mappings go in
		// cleanups that run after a GC, on the runtime's cleanup goroutine,
		// which a loaded machine may run late: settle until they are back
		// or the test's deadline (a fixed three GCs failed 2 runs in 60
		// under load, with a few hundred mappings still queued).
		leaks := func(fd1, th1, m1 int) bool { return fd1 > fd0 || th1 > th0+2 || m1 > m0+8 }
		deadline, _ := proctest.Context(t).Deadline()
		settle()
		fd1, th1, m1 := procCounts(t)
		for leaks(fd1, th1, m1) && time.Now().Before(deadline) {
			settle()
			fd1, th1, m1 = procCounts(t)
		}
		t.Logf("%s: %d made and destroyed in %v; fds %d→%d, threads %d→%d, mappings %d→%d",
			k.name, n, took.Round(time.Millisecond), fd0, fd1, th0, th1, m0, m1)
		if leaks(fd1, th1, m1) {
			t.Errorf("%s: %d objects made and destroyed grew fds %d→%d, threads %d→%d, mappings %d→%d",
				k.name, n, fd0, fd1, th0, th1, m0, m1)
		}
	}
}
