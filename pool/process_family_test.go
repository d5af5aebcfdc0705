package pool_test

// A Process's place among the program's processes: its names, its parent,
// its tracker, and what happens to it when its parent dies.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/track"
	"github.com/multiproc/multiproc/pool"
)

func TestActiveChildren(t *testing.T) {
	p := running(t)
	q := running(t)
	if got := pool.ActiveChildren(); len(got) != 2 || got[0] != p || got[1] != q {
		t.Fatalf("ActiveChildren: %v", got)
	}
	p.Kill()
	if got := pool.ActiveChildren(); len(got) != 1 || got[0] != q {
		t.Fatalf("ActiveChildren after a Kill: %v", got)
	}
	q.Kill()
	if got := pool.ActiveChildren(); len(got) != 0 {
		t.Fatalf("ActiveChildren after both: %v", got)
	}
}

func TestProcessNamesAndParent(t *testing.T) {
	if me := pool.CurrentProcess(); me.Name != "MainProcess" || me.PID != os.Getpid() {
		t.Fatalf("CurrentProcess: %+v", me)
	}
	if _, ok := pool.ParentProcess(); ok {
		t.Fatal("the main process has a parent process")
	}
	out := captureStdout(t, func() {
		wait(t, start(t, whoAmI, struct{}{}, pool.ProcessName("greeter")))
	})
	want := fmt.Sprintf("me greeter true; parent MainProcess %d true\n", os.Getpid())
	if out != want {
		t.Fatalf("child printed %q, want %q", out, want)
	}
	// A child's children are named after it, as in Python.
	var p *pool.Process
	out = captureStdout(t, func() {
		p = start(t, nest, struct{}{})
		if err := wait(t, p); err != nil {
			t.Fatal(err)
		}
	})
	want = fmt.Sprintf("me %[1]s:1 true; parent %[1]s %[2]d true\nwaited for %[1]s:1\n", p.Name(), p.Pid())
	if out != want {
		t.Fatalf("grandchild printed %q, want %q", out, want)
	}
}

// TestChildSharesTheParentsTracker: a child's objects are registered with
// the program's tracker, which removes one made without a name when the
// child exits without closing it.
func TestChildSharesTheParentsTracker(t *testing.T) {
	proctest.CheckShm(t)
	path := filepath.Join(t.TempDir(), "leaked")
	if err := wait(t, start(t, leak, path)); err != nil {
		t.Fatal(err)
	}
	var name string
	var tracker int
	if _, err := fmt.Sscan(string(waitFile(t, path)), &name, &tracker); err != nil {
		t.Fatal(err)
	}
	if tracker == 0 || tracker != track.PID() {
		t.Fatalf("the child's tracker is pid %d, the parent's %d", tracker, track.PID())
	}
	ctx := proctest.Context(t)
	for {
		if _, err := os.Stat("/dev/shm/" + name); errors.Is(err, os.ErrNotExist) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s outlived the child that made it", name)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// processParent starts orphan in a child (a Daemon if args[0] says so),
// prints "child PID" once its function runs, and waits to be killed.
func processParent(args []string) error {
	var opts []pool.StartOption
	if args[0] == "daemon" {
		opts = append(opts, pool.Daemon())
	}
	// The child gets no share of our output, which the test reads to its
	// end once we are killed.
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, _ = os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	os.Stderr = os.Stdout
	p, err := pool.Start(orphan, args[1], opts...)
	os.Stdout, os.Stderr = stdout, stderr
	if err != nil {
		return err
	}
	for {
		if _, err := os.Stat(filepath.Join(args[1], "running")); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Println("child", p.Pid())
	for {
		time.Sleep(time.Hour)
	}
}

// childOfKilledParent runs processParent, SIGKILLs it once its child's
// function runs, and returns the child's pid, a pidfd for it, and the
// directory its function writes in.
func childOfKilledParent(t *testing.T, mode string) (pid, pidfd int, dir string) {
	dir = t.TempDir()
	// A program of its own, in its own process group: whatever the test
	// does, the group kill at its end takes the child too.
	c := proctest.StartProgram(t, "process-parent", mode, dir)
	pid, _ = strconv.Atoi(strings.TrimPrefix(c.WaitLine("child "), "child "))
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0); unix.Close(pidfd) })
	c.Kill()
	return pid, pidfd, dir
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

func TestDaemonDiesWithItsKilledParent(t *testing.T) {
	pid, pidfd, _ := childOfKilledParent(t, "daemon")
	if !exited(pidfd, time.Until(deadline(t))) {
		t.Fatalf("daemon child %d outlived its SIGKILLed parent", pid)
	}
}

func TestNonDaemonOutlivesItsKilledParent(t *testing.T) {
	pid, pidfd, dir := childOfKilledParent(t, "plain")
	waitFile(t, filepath.Join(dir, "orphaned")) // it ran on, and saw its parent gone
	waitFile(t, filepath.Join(dir, "ctx-done")) // and its ctx ended
	if exited(pidfd, 0) {
		t.Fatalf("child %d died", pid)
	}
	unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
	if !exited(pidfd, time.Until(deadline(t))) {
		t.Fatalf("child %d survived SIGKILL", pid)
	}
}

func deadline(t *testing.T) time.Time {
	if dl, ok := t.Deadline(); ok {
		return dl.Add(-5 * time.Second)
	}
	return time.Now().Add(time.Minute)
}
