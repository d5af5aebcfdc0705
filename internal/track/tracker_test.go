package track_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/multiproc/multiproc/array"
	"github.com/multiproc/multiproc/barrier"
	"github.com/multiproc/multiproc/internal/proc"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/track"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
	"github.com/multiproc/multiproc/value"
)

func TestMain(m *testing.M) {
	proctest.Register("make", makeObjects)
	proctest.Register("family", family)
	proctest.Main(m)
}

// makeObjects creates args[0] objects of mixed kinds — raw segments,
// Locks, Events, Semaphores, Barriers, Values and Arrays — prints
// "obj FILE" for each and "tracker PID", then, by args[1]:
//
//	wait    print "ready", wait for SIGUSR1, exit without closing anything
//	leak    close everything without removing it, exit
//	exit    exit without closing or removing anything
//	unlink  remove everything, exit
//
// Flags may follow: "persistent" also makes one Persistent segment;
// "named" gives every object an explicit Name; "noraw" makes no raw
// segments (they live until Unlink, whatever their name); "closed" closes
// every object before "wait" (named ones stay).
func makeObjects(args []string) error {
	n, _ := strconv.Atoi(args[0])
	flags := map[string]bool{}
	for _, f := range args[2:] {
		flags[f] = true
	}
	type object interface {
		Name() string
		Close() error
		Unlink() error
	}
	var objs []object
	for i := range n {
		name := func(kind string) string {
			if !flags["named"] {
				return ""
			}
			return fmt.Sprintf("track_test_%d_%s_%d", os.Getpid(), kind, i)
		}
		var o object
		var err error
		kind := i % 7
		if flags["noraw"] {
			kind = 1 + i%6
		}
		switch kind {
		case 0:
			o, err = shm.Create(name("raw"), 4096)
		case 1:
			o, err = sem.NewLock(semName(name("lock"))...)
		case 2:
			o, err = sem.NewEvent(semName(name("event"))...)
		case 3:
			o, err = sem.NewSemaphore(2, semName(name("sem"))...)
		case 4:
			var opts []barrier.Option
			if nm := name("barrier"); nm != "" {
				opts = append(opts, barrier.Name(nm))
			}
			o, err = barrier.New(2, opts...)
		case 5:
			var opts []value.Option
			if nm := name("value"); nm != "" {
				opts = append(opts, value.Name(nm))
			}
			o, err = value.New[int64](int64(i), opts...)
		case 6:
			var opts []array.Option
			if nm := name("array"); nm != "" {
				opts = append(opts, array.Name(nm))
			}
			o, err = array.New[float64](i, opts...)
		}
		if err != nil {
			return err
		}
		objs = append(objs, o)
		fmt.Println("obj", file(o.Name()))
	}
	if flags["persistent"] {
		s, err := shm.Create("", 64, shm.Persistent())
		if err != nil {
			return err
		}
		fmt.Println("persistent", s.Name())
	}
	fmt.Println("tracker", track.PID())
	if flags["closed"] {
		for _, o := range objs {
			o.Close()
		}
	}
	switch args[1] {
	case "wait":
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGUSR1)
		fmt.Println("ready")
		<-ch
	case "leak":
		for _, o := range objs {
			o.Close()
		}
	case "unlink":
		for _, o := range objs {
			if err := o.Unlink(); err != nil {
				return err
			}
			o.Close()
		}
	}
	return nil
}

func semName(n string) []sem.Option {
	if n == "" {
		return nil
	}
	return []sem.Option{sem.Name(n)}
}

// file is the /dev/shm file of an object called name: a semaphore's name
// is its POSIX name, "/NAME", kept in "sem.NAME".
func file(name string) string {
	if rest, ok := strings.CutPrefix(name, "/"); ok {
		return "sem." + rest
	}
	return name
}

// family starts a "make N wait" child connected to its own tracker
// (track.Inherit), relays the child's lines, and waits to be killed.
func family(args []string) error {
	s, err := shm.Create("", 64) // starts the family's tracker
	if err != nil {
		return err
	}
	fmt.Println("obj", s.Name())
	cmd := proctest.Command("make", args[0], "wait")
	if err := track.Inherit(cmd); err != nil {
		return err
	}
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	var seen string
	for !strings.Contains(seen, "ready\n") {
		n, err := out.Read(buf)
		if err != nil {
			return fmt.Errorf("child: %v", err)
		}
		seen += string(buf[:n])
	}
	seen = strings.ReplaceAll(seen, "tracker ", "child-tracker ")
	fmt.Print(strings.ReplaceAll(seen, "ready\n", "child-ready\n"))
	fmt.Println("tracker", track.PID())
	fmt.Println("ready")
	for { // not select{}: the runtime would call that a deadlock and exit
		time.Sleep(time.Hour)
	}
}

// started reads a "make" child's cues: its objects, its tracker's pid.
func started(t *testing.T, c *proctest.Child) (objs []string, tracker int) {
	t.Helper()
	c.WaitLine("ready")
	for _, l := range c.Output() {
		if name, ok := strings.CutPrefix(l, "obj "); ok {
			objs = append(objs, name)
		}
		if p, ok := strings.CutPrefix(l, "tracker "); ok {
			tracker, _ = strconv.Atoi(p)
		}
	}
	if tracker <= 0 {
		t.Fatalf("child printed no tracker pid: %q", c.Output())
	}
	return objs, tracker
}

func exists(name string) bool {
	_, err := os.Lstat(segment.Path(name))
	return !errors.Is(err, fs.ErrNotExist)
}

func alive(pid int) bool {
	start, _, err := proc.Stat(pid)
	return err == nil && proc.Alive(pid, proc.StartTag(start))
}

// waitExited waits, until the test's deadline, for the process pid (a
// tracker) to be gone, and fails the test saying what it did if it is not.
// A tracker closes its stderr — which ends the wait of a child sharing it —
// while it exits, a moment before the kernel makes it a zombie: /proc
// still says it runs in between, so one look right after the child's Wait
// can find it alive (1 run in 5 under load).
func waitExited(t *testing.T, pid int, what string) bool {
	t.Helper()
	deadline := time.Now().Add(untilDeadline(t))
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Errorf("tracker %d %s", pid, what)
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

func waitGone(t *testing.T, within time.Duration, names ...string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var left []string
		for _, n := range names {
			if exists(n) {
				left = append(left, n)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d objects still in /dev/shm after %v: %v", len(left), within, left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKillingTheWholeProcessGroupLeavesNothing(t *testing.T) {
	proctest.CheckShm(t)
	t.Cleanup(proctest.Exclusive("sweep")) // no other package sweeps meanwhile
	c := proctest.StartProgram(t, "make", "50", "wait", "persistent")
	objs, tracker := started(t, c)
	if len(objs) != 50 {
		t.Fatalf("child made %d objects", len(objs))
	}
	var persistent string
	for _, l := range c.Output() {
		if p, ok := strings.CutPrefix(l, "persistent "); ok {
			persistent = p
		}
	}
	defer os.Remove(segment.Path(persistent))
	for _, o := range objs {
		if !exists(o) {
			t.Fatalf("%s missing before the kill", o)
		}
	}
	killed := time.Now()
	c.KillGroup() // the program, not its tracker: that one has its own session
	// How fast is logged below, not asserted: the test's deadline bounds it.
	waitGone(t, untilDeadline(t), objs...)
	t.Logf("all %d objects removed %v after SIGKILL to the process group", len(objs), time.Since(killed))
	if got := strings.Count(c.Stderr(), "multiproc tracker: removed leaked "); got != 50 {
		t.Errorf("tracker reported %d removals, want 50:\n%s", got, c.Stderr())
	}
	if got := strings.Count(c.Stderr(), fmt.Sprintf("(created by pid %d, which was killed by SIGKILL)\n", c.Pid())); got != 50 {
		t.Errorf("%d removals say the creator was killed, want 50:\n%s", got, c.Stderr())
	}
	for _, kind := range []string{"raw segment", "Lock", "Event", "Semaphore", "Barrier", "Value", "Array"} {
		if !strings.Contains(c.Stderr(), "removed leaked "+kind+" ") {
			t.Errorf("no removal line names a %s:\n%s", kind, c.Stderr())
		}
	}
	if !exists(persistent) {
		t.Errorf("persistent segment %s was removed; only rm may remove it", persistent)
	}
	waitExited(t, tracker, "still running after its work was done")
}

func TestNormalExitTrackerRemovesNothingAndSaysNothing(t *testing.T) {
	proctest.CheckShm(t)
	t.Cleanup(proctest.Exclusive("sweep")) // no other package sweeps meanwhile
	c := proctest.StartProgram(t, "make", "9", "unlink")
	c.MustSucceed() // returns once the tracker, which shares the child's stderr, has exited
	if s := c.Stderr(); s != "" {
		t.Fatalf("tracker spoke after a clean exit:\n%s", s)
	}
	tracker := trackerOf(t, c)
	if !waitExited(t, tracker, "outlived its program") {
		return
	}
	for _, e := range shmEntries() {
		if r, err := track.ReadRegistry(e); err == nil && r.Tracker.PID == tracker {
			t.Fatalf("tracker left its registry %s", e)
		}
	}
}

func TestNamedObjectsLeftAtNormalExitAreRemovedWithOneLineEach(t *testing.T) {
	proctest.CheckShm(t)
	t.Cleanup(proctest.Exclusive("sweep")) // no other package sweeps meanwhile
	c := proctest.StartProgram(t, "make", "7", "leak", "named")
	c.MustSucceed()
	objs := objectsOf(c)
	waitGone(t, 0, objs...)
	lines := strings.Split(strings.TrimSpace(c.Stderr()), "\n")
	if len(lines) != len(objs) {
		t.Fatalf("want one line per object (%d), got:\n%s", len(objs), c.Stderr())
	}
	for i, o := range objs {
		found := 0
		for _, l := range lines {
			if strings.HasPrefix(l, "multiproc tracker: removed leaked ") && strings.HasSuffix(l, fmt.Sprintf(" %s (created by pid %d, never unlinked)", o, c.Pid())) {
				found++
			}
		}
		if found != 1 {
			t.Errorf("object %d (%s) reported %d times:\n%s", i, o, found, c.Stderr())
		}
	}
}

func TestRawSegmentsLiveUntilUnlinkWhateverTheirName(t *testing.T) {
	proctest.CheckShm(t)
	t.Cleanup(proctest.Exclusive("sweep"))
	// Four objects with generated names, closed but not unlinked: the
	// Lock, Event and Semaphore end with their creator's Close; the raw
	// segment is Python's SharedMemory and stays until the program's end.
	c := proctest.StartProgram(t, "make", "4", "leak")
	c.MustSucceed()
	objs := objectsOf(c)
	waitGone(t, 0, objs...)
	want := fmt.Sprintf("multiproc tracker: removed leaked raw segment %s (created by pid %d, never unlinked)\n", objs[0], c.Pid())
	if c.Stderr() != want {
		t.Fatalf("stderr:\n%s\nwant:\n%s", c.Stderr(), want)
	}
}

func objectsOf(c *proctest.Child) []string {
	var objs []string
	for _, l := range c.Output() {
		if name, ok := strings.CutPrefix(l, "obj "); ok {
			objs = append(objs, name)
		}
	}
	return objs
}

func TestObjectHeldByAnotherProcessIsKeptUntilReleased(t *testing.T) {
	proctest.CheckShm(t)
	t.Cleanup(proctest.Exclusive("sweep")) // no other package sweeps meanwhile
	c := proctest.StartProgram(t, "make", "2", "wait")
	objs, tracker := started(t, c)
	held, err := shm.Open(objs[0]) // this test process is the unrelated holder
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	c.Signal(syscall.SIGUSR1) // the program exits without removing its objects
	waitStderr(t, c, "is still open in another process")
	// The tracker has tried and refused: the object we hold is still there,
	// the one nobody holds is gone, and the tracker keeps watching.
	if !exists(objs[0]) {
		t.Fatal("held object removed")
	}
	// The tracker reports the held one and removes the other in whichever
	// order it meets them: the removal may come just after the line.
	waitGone(t, untilDeadline(t), objs[1])
	if !alive(tracker) {
		t.Fatal("tracker exited while an object it must remove is still held")
	}
	held.Close()
	c.MustSucceed() // the tracker exits once it has removed the last object
	waitGone(t, 0, objs[0])
	if !strings.Contains(c.Stderr(), "removed leaked raw segment "+objs[0]) {
		t.Fatalf("removal not reported:\n%s", c.Stderr())
	}
}

func TestAProberIsNotCalledAHolder(t *testing.T) {
	proctest.CheckShm(t)
	t.Cleanup(proctest.Exclusive("sweep"))
	// Two named objects left at exit. This test holds the first open, a
	// real holder; on the second it holds what `multiproc ls` or Held takes
	// for a moment to look, an exclusive flock, across the tracker's
	// attempts. Only the first is "still open in another process".
	c := proctest.StartProgram(t, "make", "2", "wait", "named", "closed")
	objs, _ := started(t, c)
	held, err := shm.Open(objs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	probe, err := os.Open(segment.Path(objs[1]))
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	if err := syscall.Flock(int(probe.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	c.Signal(syscall.SIGUSR1)
	waitStderr(t, c, "leaked raw segment "+objs[0]+" is still open in another process")
	if strings.Contains(c.Stderr(), objs[1]+" is still open") {
		t.Fatalf("a prober's exclusive flock was taken for a holder:\n%s", c.Stderr())
	}
	probe.Close() // the probe ends: the object goes
	waitGone(t, untilDeadline(t), objs[1])
	held.Close()
	c.MustSucceed()
	waitGone(t, 0, objs[0])
	if n := strings.Count(c.Stderr(), "still open"); n != 1 {
		t.Fatalf("%d objects called still open, want 1:\n%s", n, c.Stderr())
	}
}

func TestTrackerOutlivesSIGKILLToTheProgramsGroup(t *testing.T) {
	proctest.CheckShm(t)
	t.Cleanup(proctest.Exclusive("sweep"))
	c := proctest.StartProgram(t, "make", "1", "wait")
	objs, tracker := started(t, c)
	held, err := shm.Open(objs[0]) // keeps the tracker at work after the kill
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	syscall.Kill(-c.Pid(), syscall.SIGKILL) // the whole group, as kill -9 -PGID does
	waitStderr(t, c, "is still open in another process")
	if !alive(tracker) {
		t.Fatal("the signal to the program's process group killed its tracker")
	}
	held.Close()
	c.Wait() // "signal: killed"; returns once the tracker has closed its stderr
	waitGone(t, 0, objs...)
	waitExited(t, tracker, "still running after removing the last object")
}

func TestChildrenShareTheProgramsTracker(t *testing.T) {
	proctest.CheckShm(t)
	t.Cleanup(proctest.Exclusive("sweep")) // no other package sweeps meanwhile
	c := proctest.StartProgram(t, "family", "6")
	c.WaitLine("ready")
	var objs []string
	pids := map[string]string{}
	for _, l := range c.Output() {
		if name, ok := strings.CutPrefix(l, "obj "); ok {
			objs = append(objs, name)
		}
		if k, v, ok := strings.Cut(l, " "); ok && strings.HasSuffix(k, "tracker") {
			pids[k] = v
		}
	}
	if pids["tracker"] == "" || pids["tracker"] != pids["child-tracker"] {
		t.Fatalf("parent and child trackers: %v; want one tracker for the program", pids)
	}
	if len(objs) != 7 {
		t.Fatalf("objects: %v", objs)
	}
	c.KillGroup()
	waitGone(t, untilDeadline(t), objs...)
}

func TestKilledTrackersObjectsAreSweptByTheNextProgram(t *testing.T) {
	proctest.CheckShm(t)
	t.Cleanup(proctest.Exclusive("sweep")) // no other package sweeps meanwhile
	c := proctest.StartProgram(t, "make", "5", "wait")
	objs, tracker := started(t, c)
	// The tracker starts and reads the registrations while the program
	// runs on: wait until its registry lists them all.
	reg := waitRegistry(t, tracker, len(objs))
	start, _, _ := proc.Stat(tracker)
	syscall.Kill(tracker, syscall.SIGKILL)
	for !track.Exited(tracker, uint32(start)) {
		time.Sleep(time.Millisecond)
	}
	// Its registry is orphaned, but its program still runs: no sweep may
	// take the program's objects from under it.
	if held, err := segment.Held(reg); err != nil || held {
		t.Fatalf("registry of a killed tracker: held %v, %v", held, err)
	}
	if removed, err := track.SweepRegistry(reg, nil); err != nil || len(removed) != 0 {
		t.Fatalf("SweepRegistry while the program runs removed %v, %v", removed, err)
	}
	for _, o := range objs {
		if !exists(o) {
			t.Fatalf("%s removed while its program runs", o)
		}
	}
	c.KillGroup()
	// The next program's tracker sweeps the orphaned registry when it starts.
	next := proctest.StartProgram(t, "make", "1", "unlink")
	next.MustSucceed()
	waitGone(t, 0, objs...)
	waitGone(t, 0, reg)
}

func trackerOf(t *testing.T, c *proctest.Child) int {
	t.Helper()
	for _, l := range c.Output() {
		if p, ok := strings.CutPrefix(l, "tracker "); ok {
			pid, _ := strconv.Atoi(p)
			return pid
		}
	}
	t.Fatalf("child printed no tracker pid: %q", c.Output())
	return 0
}

func waitStderr(t *testing.T, c *proctest.Child, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(c.Stderr(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("child's stderr never said %q:\n%s", s, c.Stderr())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func shmEntries() []string {
	es, _ := os.ReadDir(segment.Dir)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// waitRegistry waits until the registry of the tracker with pid tracker
// lists n objects and returns its file name.
func waitRegistry(t *testing.T, tracker, n int) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, e := range shmEntries() {
			if r, err := track.ReadRegistry(e); err == nil && r.Tracker.PID == tracker && len(r.Entries) == n {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no registry of tracker %d with %d objects", tracker, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
