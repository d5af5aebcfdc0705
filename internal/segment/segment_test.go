package segment_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/proctest"
	. "github.com/multiproc/multiproc/internal/segment"
)

func TestMain(m *testing.M) {
	proctest.Register("race-create", raceCreate)
	proctest.Register("watch-open", watchOpen)
	proctest.Register("open-kind", openKind)
	proctest.Register("create-then-hang", createThenHang)
	proctest.Main(m)
}

// raceCreate tries to create the object args[0]; it prints "won" or "lost".
func raceCreate(args []string) error {
	o, err := CreateObject(ObjectSpec{Kind: layout.KindValue, PayloadSize: 4096}, Options{Name: args[0]}, func(p []byte) error {
		for i := range p {
			p[i] = 0xAB
		}
		return nil
	})
	if errors.Is(err, fs.ErrExist) {
		fmt.Println("lost")
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Println("won")
	return o.Close()
}

// watchOpen opens args[0] until it exists, and checks it is complete.
func watchOpen(args []string) error {
	for i := 0; ; i++ {
		o, err := OpenObject(args[0], layout.KindValue, nil, OpenOptions{})
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("open after %d tries: %w", i, err)
		}
		defer o.Close()
		for j, b := range o.Payload {
			if b != 0xAB {
				return fmt.Errorf("byte %d = %#x: saw a half-initialised object", j, b)
			}
		}
		fmt.Println("complete")
		return nil
	}
}

// Many processes create the same name at once: exactly one wins, and
// processes polling for the name only ever see the finished object.
func TestCreateIsAtomicAcrossProcesses(t *testing.T) {
	proctest.CheckShm(t)
	name := Generate("test")
	watchers := proctest.StartN(t, 2, "watch-open", name)
	creators := proctest.StartN(t, 4, "race-create", name)
	won := 0
	for _, c := range creators {
		c.MustSucceed()
		if out := c.Output(); len(out) == 1 && out[0] == "won" {
			won++
		}
	}
	for _, w := range watchers {
		w.MustSucceed()
	}
	if won != 1 {
		t.Fatalf("%d creators won, want exactly 1", won)
	}
	if err := Unlink(name); err != nil {
		t.Fatal(err)
	}
}

func TestHeldFollowsOpenersAndClose(t *testing.T) {
	proctest.CheckShm(t)
	f, err := Create(Generate("test"), 64, CreateOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h, err := Held(f.Name); err != nil || !h {
		t.Fatalf("creator holds it: Held = %v, %v", h, err)
	}
	if removed, _ := TryRemoveUnheld(f.Name); removed {
		t.Fatal("removed a held object")
	}
	g, err := Open(f.Name, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if h, _ := Held(f.Name); !h {
		t.Fatal("second opener does not hold it")
	}
	g.Close()
	if h, _ := Held(f.Name); h {
		t.Fatal("held after every File closed")
	}
	if removed, err := TryRemoveUnheld(f.Name); !removed || err != nil {
		t.Fatalf("TryRemoveUnheld = %v, %v", removed, err)
	}
	if _, err := os.Stat(f.Path()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("still there")
	}
}

func TestOpenRetriesWhenSweptUnderneath(t *testing.T) {
	proctest.CheckShm(t)
	// Openers and a sweeper race on names that are created and swept in a
	// loop: an opener either gets a live object or fs.ErrNotExist, never an
	// unlinked one.
	for round := 0; round < 50; round++ {
		name := Generate("test")
		f, err := Create(name, 64, CreateOptions{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		var wg sync.WaitGroup
		wg.Add(2)
		var opened *File
		var openErr error
		go func() { defer wg.Done(); opened, openErr = Open(name, OpenOptions{}) }()
		go func() { defer wg.Done(); TryRemoveUnheld(name) }()
		wg.Wait()
		if openErr == nil {
			if _, err := os.Stat(opened.Path()); err != nil {
				t.Fatalf("round %d: Open returned an object whose name is gone", round)
			}
			opened.Close()
			Unlink(name)
		} else if !errors.Is(openErr, fs.ErrNotExist) {
			t.Fatal(openErr)
		}
	}
}

func TestMetaRoundTrip(t *testing.T) {
	proctest.CheckShm(t)
	f, err := Create(Generate("test"), 8, CreateOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	defer f.Unlink()
	m := Meta{Kind: "raw", PID: 42, Start: 7, Created: 99, Persistent: true}
	if err := SetMeta(f.Fd(), m); err != nil {
		t.Skip("tmpfs without user xattrs (Linux < 6.6):", err)
	}
	got, err := ReadMeta(f.Name)
	if err != nil || got != m {
		t.Fatalf("ReadMeta = %+v, %v", got, err)
	}
}

func TestOpenObjectRefusesGarbage(t *testing.T) {
	proctest.CheckShm(t)
	for i, content := range [][]byte{
		[]byte("short"),
		make([]byte, 4096), // zeros: no magic
		append([]byte("MPGO\x00OBJ"), make([]byte, 200)...), // magic, bad checksum
	} {
		name := "mpgo_test_garbage" + sfx + strconv.Itoa(i)
		os.WriteFile(Path(name), content, 0o600)
		_, err := OpenObject(name, layout.KindLock, nil, OpenOptions{})
		os.Remove(Path(name))
		if !errors.Is(err, layout.ErrCorrupt) {
			t.Errorf("content %d: err = %v, want ErrCorrupt", i, err)
		}
	}
	o, err := CreateObject(ObjectSpec{Kind: layout.KindEvent, PayloadSize: 64}, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	defer o.Unlink()
	if _, err := OpenObject(o.Name, layout.KindLock, nil, OpenOptions{}); !errors.Is(err, layout.ErrKindMismatch) {
		t.Fatalf("wrong kind: %v", err)
	}
}

// openKind opens args[0] as an object of kind args[1] and prints the error.
func openKind(args []string) error {
	k, _ := strconv.Atoi(args[1])
	o, err := OpenObject(args[0], layout.Kind(k), nil, OpenOptions{})
	if err == nil {
		o.Close()
	}
	fmt.Println("open:", err)
	return nil
}

// A lock's owner pids mean nothing in another pid namespace: a process
// there is refused a Lock, but may open an Event, which holds no pids.
func TestObjectsWithPidsAreRefusedInAnotherPidNamespace(t *testing.T) {
	proctest.CheckShm(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare not found")
	}
	if out, err := exec.Command(unshare, "--pid", "--fork", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot make a pid namespace here: %v %s", err, out)
	}
	lock, err := CreateObject(ObjectSpec{Kind: layout.KindLock, PayloadSize: 64}, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlink()
	defer lock.Close()
	event, err := CreateObject(ObjectSpec{Kind: layout.KindEvent, PayloadSize: 64}, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer event.Unlink()
	defer event.Close()
	run := func(name string, k layout.Kind, ns bool) string {
		cmd := proctest.Command("open-kind", name, strconv.Itoa(int(k)))
		if ns {
			// cmd.Path is /proc/self/exe, which would be unshare's own.
			exe, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			cmd = &exec.Cmd{Path: unshare, Args: append([]string{unshare, "--pid", "--fork", exe}, cmd.Args[1:]...), Env: cmd.Env}
		}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %v", cmd.Args, err)
		}
		return strings.TrimSpace(string(out))
	}
	if got := run(lock.Name, layout.KindLock, false); got != "open: <nil>" {
		t.Fatalf("same namespace: %s", got)
	}
	got := run(lock.Name, layout.KindLock, true)
	if !strings.Contains(got, ErrPidNamespace.Error()) || !strings.Contains(got, "a Lock") {
		t.Fatalf("other namespace, Lock: %s", got)
	}
	if got := run(event.Name, layout.KindEvent, true); got != "open: <nil>" {
		t.Fatalf("other namespace, Event: %s", got)
	}
}

// sfx makes fixed test names unique to this test process, so two runs of
// the suite on one machine never collide.
var sfx = "_" + strconv.Itoa(os.Getpid())

// createThenHang creates a tracked object and hangs right after its name
// is published, printing the name: the worst moment for a SIGKILL.
func createThenHang(args []string) error {
	SetTestHookAfterLink(func() {
		fmt.Println("linked")
		time.Sleep(time.Hour)
	})
	_, err := CreateObject(ObjectSpec{Kind: layout.KindValue, PayloadSize: 64}, Options{Name: args[0]}, nil)
	return err
}

// A creator SIGKILLed the instant its object's name appears leaks nothing:
// the object was registered with the tracker before it was published.
func TestCreatorKilledRightAfterPublishLeaksNothing(t *testing.T) {
	proctest.CheckShm(t)
	name := Generate("test")
	c := proctest.StartProgram(t, "create-then-hang", name)
	c.WaitLine("linked")
	if _, err := os.Stat(Path(name)); err != nil {
		t.Fatalf("object not published: %v", err)
	}
	c.KillGroup()
	for start := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(Path(name)); errors.Is(err, fs.ErrNotExist) {
			return
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("%s still in /dev/shm 2 s after its creator was killed", name)
		}
	}
}

// A file truncated between Open's mmap and its validation faults the
// reads (SIGBUS): OpenObject turns that into ErrTruncated, never a dead
// process.
func TestOpenOfAFileTruncatedUnderItIsAnError(t *testing.T) {
	proctest.CheckShm(t)
	obj, err := CreateObject(ObjectSpec{Kind: layout.KindEvent, PayloadSize: 64}, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	SetTestHookAfterMap(func(f *File) { unix.Ftruncate(f.Fd(), 0) })
	defer SetTestHookAfterMap(nil)
	_, err = OpenObject(obj.Name, layout.KindEvent, nil, OpenOptions{})
	if !errors.Is(err, ErrTruncated) || !errors.Is(err, layout.ErrCorrupt) {
		t.Fatalf("OpenObject of a file truncated under it = %v, want ErrTruncated", err)
	}
}
