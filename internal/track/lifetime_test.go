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

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/track"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
	"github.com/multiproc/multiproc/value"
)

// The lifetime rule (track.Lifetime) across real processes.

func init() {
	proctest.Register("smallest", smallest)
	proctest.Register("keep-using", keepUsing)
	proctest.Register("persistent", persistentObjects)
}

// smallest is issue 15's smallest correct program, as a new user writes it,
// which then prints the names its objects had.
func smallest([]string) error {
	l, _ := sem.NewLock()
	l.Lock()
	l.Unlock()
	l.Close()
	v, _ := value.New[int64](0)
	value.Add(v, 1)
	fmt.Println(v.Load())
	v.Close()
	fmt.Println("obj", l.Name())
	fmt.Println("obj", v.Name())
	return nil
}

func TestTheSmallestProgramPrintsNothingAndLeavesNothing(t *testing.T) {
	proctest.CheckShm(t)
	t.Cleanup(proctest.Exclusive("sweep"))
	c := proctest.StartProgram(t, "smallest")
	c.MustSucceed() // returns once its tracker, which shares its stderr, has exited
	if out := c.Output(); len(out) != 3 || out[0] != "1" {
		t.Errorf("stdout %q, want \"1\" and two names", out)
	}
	if s := c.Stderr(); s != "" {
		t.Errorf("stderr of a correct program:\n%s", s)
	}
	for _, o := range objectsOf(c) {
		if exists(o) {
			t.Errorf("%s left in /dev/shm", o)
		}
	}
}

func TestAnonymousObjectsEndSilentlyWithACreatorThatExitsWithoutClosing(t *testing.T) {
	proctest.CheckShm(t)
	t.Cleanup(proctest.Exclusive("sweep"))
	// Locks, Events, Semaphores, Barriers, Values, Arrays made without a
	// Name, neither closed nor unlinked: the creator's exit ends them.
	c := proctest.StartProgram(t, "make", "12", "exit", "noraw")
	c.MustSucceed()
	waitGone(t, 0, objectsOf(c)...)
	if s := c.Stderr(); s != "" {
		t.Fatalf("tracker spoke after a normal exit:\n%s", s)
	}
}

func TestAnonymousObjectsOfAChildEndWhenTheChildExits(t *testing.T) {
	proctest.CheckShm(t)
	// The child is a client of this test binary's tracker, as a pool worker
	// is of its program's: its anonymous objects end with it, not with the
	// program, while this program runs on.
	c := proctest.Start(t, "make", "6", "exit", "noraw")
	c.MustSucceed()
	objs := objectsOf(c)
	waitGone(t, untilDeadline(t), objs...)
	if s := c.Stderr(); s != "" {
		t.Fatalf("stderr:\n%s", s)
	}
}

func TestNamedObjectsOfAKilledProgramAreReportedAsKilled(t *testing.T) {
	proctest.CheckShm(t)
	t.Cleanup(proctest.Exclusive("sweep"))
	c := proctest.StartProgram(t, "make", "7", "wait", "named")
	objs, _ := started(t, c)
	c.KillGroup()
	waitGone(t, 0, objs...)
	for _, o := range objs {
		want := fmt.Sprintf(" %s (created by pid %d, which was killed by SIGKILL)\n", o, c.Pid())
		if n := strings.Count(c.Stderr(), want); n != 1 {
			t.Errorf("%d lines end with %q:\n%s", n, want, c.Stderr())
		}
	}
}

func TestWithoutPidfdsAnonymousObjectsLiveOnWhileTheirCreatorRuns(t *testing.T) {
	proctest.CheckShm(t)
	t.Cleanup(proctest.Exclusive("sweep"))
	t.Setenv("TRACK_TEST_NO_PIDFD", "1") // the program and its tracker
	c := proctest.StartProgram(t, "make", "6", "wait", "noraw")
	objs, tracker := started(t, c)
	// Once the registry lists all six, the tracker has read the creator's
	// hello and every record: a creator it cannot follow is not gone.
	waitRegistry(t, tracker, len(objs))
	for _, o := range objs {
		if !exists(o) {
			t.Fatalf("%s removed while its creator runs", o)
		}
	}
	c.Signal(syscall.SIGUSR1)
	c.MustSucceed()
	waitGone(t, 0, objs...)
	if s := c.Stderr(); s != "" {
		t.Fatalf("stderr:\n%s", s)
	}
}

// keepUsing opens the Value args[0] and the Lock args[1], prints "opened",
// waits for SIGUSR1 — its creator closes both meanwhile — then adds 1 to
// the value 1000 times under the lock and waits until the value is
// args[2], which the other children's additions make it.
func keepUsing(args []string) error {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	v, err := value.Open[int64](args[0])
	if err != nil {
		return err
	}
	defer v.Close()
	l, err := sem.OpenLock(args[1])
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println("opened")
	<-ch
	for range 1000 {
		l.Lock()
		v.Store(v.Load() + 1)
		l.Unlock()
	}
	want, _ := strconv.ParseInt(args[2], 10, 64)
	for v.Load() != want {
		syscall.Nanosleep(&syscall.Timespec{Nsec: 1e6}, nil)
	}
	fmt.Println("total", v.Load())
	return nil
}

func TestAChildKeepsUsingAnAnonymousObjectAfterItsCreatorClosedIt(t *testing.T) {
	proctest.CheckShm(t)
	v, err := value.New[int64](0)
	if err != nil {
		t.Fatal(err)
	}
	l, err := sem.NewLock()
	if err != nil {
		t.Fatal(err)
	}
	const n = 3
	kids := proctest.StartN(t, n, "keep-using", v.Name(), l.Name(), strconv.Itoa(n*1000))
	for _, k := range kids {
		k.WaitLine("opened")
	}
	vName, lName := v.Name(), l.Name()
	// The creator's Close ends both names, silently; the children keep
	// their mappings.
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{vName, lName} {
		if exists(name) {
			t.Fatalf("%s still in /dev/shm after its creator's Close", name)
		}
	}
	if _, err := value.Open[int64](vName); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open after the creator's Close: %v, want fs.ErrNotExist", err)
	}
	if err := v.Unlink(); err != nil {
		t.Fatalf("Unlink after the Close that removed the name: %v", err)
	}
	for _, k := range kids {
		k.Signal(syscall.SIGUSR1)
	}
	for _, k := range kids {
		k.MustSucceed()
		if got := k.Output(); got[len(got)-1] != fmt.Sprint("total ", n*1000) {
			t.Errorf("child %d: %q", k.Pid(), got)
		}
	}
}

// persistentObjects makes a Persistent Lock without a name, a Persistent
// Value with one and a Persistent segment, prints their names and its
// tracker's pid (none: nothing of it is tracked), closes them and exits.
func persistentObjects(args []string) error {
	l, err := sem.NewLock(sem.Persistent())
	if err != nil {
		return err
	}
	v, err := value.New[int64](1, value.Persistent(), value.Name(args[0]))
	if err != nil {
		return err
	}
	s, err := shm.Create("", 64, shm.Persistent())
	if err != nil {
		return err
	}
	fmt.Println("obj", l.Name())
	fmt.Println("obj", v.Name())
	fmt.Println("obj", s.Name())
	fmt.Println("tracker", track.PID())
	l.Close()
	v.Close()
	s.Close()
	return nil
}

func TestPersistentObjectsAreNeverTouched(t *testing.T) {
	proctest.CheckShm(t)
	t.Cleanup(proctest.Exclusive("sweep"))
	c := proctest.StartProgram(t, "persistent", fmt.Sprintf("track_test_%d_persistent", os.Getpid()))
	c.MustSucceed()
	objs := objectsOf(c)
	for _, o := range objs {
		defer os.Remove("/dev/shm/" + o)
	}
	if pid := trackerOf(t, c); pid != 0 {
		t.Errorf("a program that made only Persistent objects started tracker %d", pid)
	}
	if len(objs) != 3 {
		t.Fatalf("objects: %q", c.Output())
	}
	for _, o := range objs {
		if !exists(o) {
			t.Errorf("persistent %s was removed", o)
		}
	}
	if s := c.Stderr(); s != "" {
		t.Errorf("stderr:\n%s", s)
	}
}

// untilDeadline is how long the test may still wait, from its deadline.
func untilDeadline(t *testing.T) time.Duration {
	dl, _ := proctest.Context(t).Deadline()
	return time.Until(dl)
}
