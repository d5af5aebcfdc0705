package reexec_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/reexec"
)

// roleOrphanParent starts rt.watch (with ParentDeath if args[0] is
// "daemon") from a goroutine locked to its own thread, which then exits
// and takes its thread with it, the way the runtime retires threads. Once
// that thread is gone it checks the child still answers, prints "child
// PID" and "alive", and waits to be killed.
func roleOrphanParent(args []string) error {
	type started struct {
		c   *reexec.Cmd
		tid int
		err error
	}
	ch := make(chan started)
	var in *os.File
	var out *bufio.Reader
	start := func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if unix.Gettid() == os.Getpid() {
			// The main thread, which the runtime never ends: keep it,
			// and try again on another.
			ch <- started{tid: -1}
			for {
				time.Sleep(time.Hour)
			}
		}
		c := reexec.Command("rt.watch", args[1])
		c.ParentDeath = args[0] == "daemon"
		r, w, _ := os.Pipe()
		cin, pin, _ := os.Pipe()
		c.Cmd.Stdout, c.Cmd.Stdin = w, cin
		err := c.Start()
		w.Close()
		cin.Close()
		in, out = pin, bufio.NewReader(r)
		ch <- started{c, unix.Gettid(), err}
	}
	go start()
	s := <-ch
	if s.tid == -1 {
		go start()
		s = <-ch
	}
	if s.err != nil {
		return s.err
	}
	for { // the starting thread is gone once the kernel lists it no more
		if _, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", s.tid)); errors.Is(err, os.ErrNotExist) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Fprintln(in, "ping")
	if line, err := out.ReadString('\n'); line != "pong\n" {
		return fmt.Errorf("child did not answer after its starting thread exited: %q %v", line, err)
	}
	fmt.Println("child", s.c.Pid())
	fmt.Println("alive")
	for {
		time.Sleep(time.Hour)
	}
}

// roleWatch answers each line on stdin with "pong", and once its parent
// is gone (getppid changes) creates the file args[0] and lives on.
func roleWatch(args []string) int {
	// The parent first, before any pong tells it we are alive: read after
	// the parent is killed, it would be init's pid, which never changes
	// (the test then waited for the flag until its deadline, 1 run in 40).
	ppid := os.Getppid()
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			fmt.Println("pong")
		}
	}()
	for os.Getppid() == ppid {
		time.Sleep(5 * time.Millisecond)
	}
	os.WriteFile(args[0], []byte("orphaned\n"), 0o600)
	for {
		time.Sleep(time.Hour)
	}
}

// startOrphanParent runs roleOrphanParent and returns it with a pidfd
// for its child, opened while the child is certainly alive.
func startOrphanParent(t *testing.T, mode string) (c *proctest.Child, child int, pidfd int, flag string) {
	flag = filepath.Join(t.TempDir(), "orphaned")
	// A program of its own, in its own process group: whatever the test
	// does, the group kill at its end takes the child too.
	c = proctest.StartProgram(t, "orphan-parent", mode, flag)
	child, _ = strconv.Atoi(strings.TrimPrefix(c.WaitLine("child "), "child "))
	pidfd, err := unix.PidfdOpen(child, 0)
	if err != nil {
		t.Fatalf("pidfd for child %d: %v", child, err)
	}
	t.Cleanup(func() { unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0); unix.Close(pidfd) })
	c.WaitLine("alive")
	return c, child, pidfd, flag
}

// exited waits up to d for the process behind pidfd to exit.
func exited(pidfd int, d time.Duration) bool {
	p := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(p, int(d/time.Millisecond))
		if err == unix.EINTR {
			continue
		}
		return err == nil && n > 0
	}
}

func testDeadline(t *testing.T) time.Duration {
	if dl, ok := t.Deadline(); ok {
		return time.Until(dl) - 5*time.Second
	}
	return time.Minute
}

// TestParentDeathFollowsTheProcessNotTheThread: a ParentDeath child
// survives the exit of the thread that started it, and dies with its
// parent's SIGKILL.
func TestParentDeathFollowsTheProcessNotTheThread(t *testing.T) {
	c, child, pidfd, _ := startOrphanParent(t, "daemon")
	c.Kill()
	if !exited(pidfd, testDeadline(t)) {
		t.Fatalf("child %d outlived its SIGKILLed parent", child)
	}
}

// TestChildWithoutParentDeathOutlivesItsParent: the same child without
// ParentDeath lives on (and notices it was orphaned); the test kills it.
func TestChildWithoutParentDeathOutlivesItsParent(t *testing.T) {
	c, child, pidfd, flag := startOrphanParent(t, "plain")
	c.Kill()
	deadline := time.Now().Add(testDeadline(t))
	for {
		if _, err := os.Stat(flag); err == nil {
			break
		}
		if exited(pidfd, 0) {
			t.Fatalf("child %d died with its parent", child)
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d never saw its parent gone", child)
		}
		time.Sleep(5 * time.Millisecond)
	}
	unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
	if !exited(pidfd, testDeadline(t)) {
		t.Fatalf("child %d survived SIGKILL", child)
	}
}
