package hardening

// The Pool's caller SIGKILLed in the middle of a Map: a program of its
// own (its own process group and tracker) starts a pool and a Map whose
// chunks and result batches are large enough to travel in side segments,
// and is killed while the Map runs. Its workers must all exit, its
// tracker must remove what the program had in /dev/shm and exit, and
// nothing of the program's may be left there.

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/track"
	"github.com/multiproc/multiproc/pool"
)

func init() {
	proctest.Register("pool-parent", poolParent)
}

// parentMark is in every argument of the parent's Map, and upper-cased in
// every result: a side segment that holds it is the program's.
const parentMark = "pk-parent-kill-"

// bigEcho returns its argument upper-cased, after 2 ms.
var bigEcho = pool.Register(func(ctx context.Context, s string) (string, error) {
	spin(2 * time.Millisecond)
	return strings.ToUpper(s), nil
})

// poolParent starts a pool of three workers and a long Map on it, prints
// "workers PID…", "tracker PID" and "mapping" once results come back, and
// waits to be killed.
func poolParent(args []string) error {
	p, err := pool.New(pool.Workers(3))
	if err != nil {
		return err
	}
	var pids []string
	for _, s := range p.Stats() {
		pids = append(pids, strconv.Itoa(s.PID))
	}
	fmt.Println("workers", strings.Join(pids, " "))
	fmt.Println("tracker", track.PID())
	xs := make([]string, 600)
	for i := range xs {
		xs[i] = strings.Repeat(parentMark, 48<<10/len(parentMark)) + strconv.Itoa(i) // 48 KiB: a chunk of 8 is past a quarter of the pipe
	}
	go bigEcho.Map(context.Background(), p, xs, pool.Chunksize(8))
	for {
		done := 0
		for _, s := range p.Stats() {
			done += s.Tasks
		}
		if done > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Println("mapping")
	select {}
}

func TestPoolParentKilledMidMap(t *testing.T) {
	proctest.CheckShm(t)
	before := listShmNames()
	c := proctest.StartProgram(t, "pool-parent")
	var pids []int
	for _, f := range strings.Fields(strings.TrimPrefix(c.WaitLine("workers "), "workers ")) {
		pid, _ := strconv.Atoi(f)
		pids = append(pids, pid)
	}
	tracker, _ := strconv.Atoi(strings.TrimPrefix(c.WaitLine("tracker "), "tracker "))
	if len(pids) != 3 || tracker <= 0 {
		t.Fatalf("workers %v, tracker %d", pids, tracker)
	}
	family := append(slices.Clone(pids), tracker)
	fds := make([]int, len(family))
	for i, pid := range family {
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			t.Fatalf("pid %d: %v", pid, err)
		}
		fds[i] = fd
		defer unix.Close(fd)
	}
	c.WaitLine("mapping")
	time.Sleep(time.Duration(rand.IntN(30)) * time.Millisecond)
	owned := append(slices.Clone(pids), c.Pid())
	objs, sides := programObjects(before, owned)
	if len(objs) == 0 {
		t.Fatal("the program has nothing in /dev/shm: the test sees none of its objects")
	}
	c.Kill() // the parent alone; returns once every process sharing its output is gone
	for i, fd := range fds {
		if !exited(fd, time.Until(deadlineOf(t))) {
			t.Fatalf("pid %d (a worker, or the tracker) outlived the killed parent %d", family[i], c.Pid())
		}
	}
	var left []string
	for _, name := range objs {
		if _, err := os.Lstat("/dev/shm/" + name); err == nil {
			left = append(left, name)
		}
	}
	now, nowSides := programObjects(before, owned)
	left = append(left, now...)
	if len(left) > 0 {
		t.Fatalf("left in /dev/shm after the parent was killed and its tracker exited: %v (%d side segments of its Map)\ntracker's output:\n%s", left, nowSides, c.Stderr())
	}
	removed := strings.Count(c.Stderr(), "removed leaked")
	t.Logf("parent pid %d killed mid-Map: its 3 workers and its tracker exited; the %d objects it had in /dev/shm (%d side segments of chunks or results) are gone, %d removed by the tracker with a line each",
		c.Pid(), len(objs), sides, removed)
}

// programObjects lists the entries of /dev/shm not in before that the
// processes pids made, and the side segments (which record no creator)
// that hold the parent's Map's data.
func programObjects(before []string, pids []int) (names []string, sides int) {
	for _, n := range listShmNames() {
		if slices.Contains(before, n) {
			continue
		}
		if pid, ok := creatorOf(n); ok && slices.Contains(pids, pid) {
			names = append(names, n)
			continue
		}
		if strings.Contains(n, "qitem_") {
			b, err := os.ReadFile("/dev/shm/" + n)
			if err == nil && (bytes.Contains(b, []byte(parentMark)) || bytes.Contains(b, []byte(strings.ToUpper(parentMark)))) {
				names = append(names, n)
				sides++
			}
		}
	}
	return names, sides
}

// creatorOf reads the creator an entry records: a raw segment's in its
// metadata, a typed object's in its header.
func creatorOf(name string) (int, bool) {
	if m, err := segment.ReadMeta(name); err == nil && m.PID > 0 {
		return m.PID, true
	}
	f, err := os.Open(segment.Path(name))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	st, err := f.Stat()
	head := make([]byte, layout.HeaderSize)
	if err != nil || st.Size() < int64(len(head)) {
		return 0, false
	}
	if _, err := f.ReadAt(head, 0); err != nil {
		return 0, false
	}
	h, err := layout.DecodeHead(head, st.Size())
	if err != nil {
		return 0, false
	}
	return int(h.CreatorPID), true
}

func exited(pidfd int, d time.Duration) bool {
	p := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(p, int(d/time.Millisecond))
		if err != unix.EINTR {
			return err == nil && n > 0
		}
	}
}
