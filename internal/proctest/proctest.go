package proctest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/reexec"
	"github.com/multiproc/multiproc/internal/track"
)

// rolePrefix keeps test roles apart from the library's own roles (the
// tracker's, the pool's) in reexec's one registry.
const rolePrefix = "test."

// envDeadline carries the parent test's deadline for a child (Unix ns).
const envDeadline = "MULTIPROC_TEST_DEADLINE"

// A Role is the body of a child process. Its args are those given to Start;
// returning an error exits with status 1 after printing it to stderr.
type Role func(args []string) error

// Register makes role runnable in children under name. Call it before Main.
func Register(name string, role Role) {
	reexec.Register(rolePrefix+name, func(args []string) int { return runRole(name, role, args) })
}

// Main runs the role this process was started in and exits (internal/reexec
// dispatches it: a test role, or a library role such as a pool worker's),
// or, in the parent, runs the tests. A TestMain that also calls pool.Init
// calls it first; either dispatches every registered role.
func Main(m *testing.M) {
	reexec.Dispatch()
	os.Exit(m.Run())
}

// IsChild reports whether this process was started in a role.
func IsChild() bool { name, _ := reexec.Role(); return name != "" }

// index is this child's index among the children of one Run.
var index int

// Index is this child's index among the children of one Run (0 for Start).
func Index() int { return index }

// runRole runs a test role; its first argument is the child's index.
func runRole(name string, role Role, args []string) int {
	if len(args) == 0 {
		fmt.Fprintf(os.Stderr, "proctest: role %s started without its index\n", name)
		return 1
	}
	index, _ = strconv.Atoi(args[0])
	if err := role(args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "proctest: role %s: %v\n", name, err)
		return 1
	}
	return 0
}

// Command returns a command that runs role with args in a child, for a
// role that starts children of its own. Nothing else is set up: no tracker
// connection (see track.Inherit), no process group, no output capture. Its
// Path is /proc/self/exe: a program that wraps it (unshare) must be given
// os.Executable() instead.
//
// The child's Deadline is this process's (a child's own, or 60 s from now);
// the caller bounds its own wait for the command.
func Command(role string, args ...string) *exec.Cmd {
	cmd := reexec.Command(rolePrefix+role, append([]string{"0"}, args...)...).Cmd
	cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", envDeadline, Deadline().UnixNano()))
	return cmd
}

// Deadline is when a child must be done: the deadline of the test that
// started it, less the margins the parent keeps (so a child that passes
// it fails in time to be reported, not killed by the test binary's
// timeout). Outside a child it is 60 s from now.
func Deadline() time.Time {
	if ns, err := strconv.ParseInt(os.Getenv(envDeadline), 10, 64); err == nil && ns > 0 {
		return time.Unix(0, ns)
	}
	return time.Now().Add(60 * time.Second)
}

// ChildContext is a context that ends at Deadline, for the blocking calls
// of a role: a child waiting on its parent never outlives the test.
func ChildContext() (context.Context, context.CancelFunc) {
	return context.WithDeadline(context.Background(), Deadline())
}

// Environ returns base with its role marker, if any, replaced by role's
// with args: the environment of a child started some other way than
// Start or Command (syscall.ForkExec, to leave it unreaped).
func Environ(base []string, role string, args ...string) []string {
	return reexec.Environ(base, rolePrefix+role, append([]string{"0"}, args...)...)
}

// Child is one running child process.
type Child struct {
	t      testing.TB
	Role   string
	rx     *reexec.Cmd
	lines  chan string
	stderr strings.Builder
	errMu  sync.Mutex
	done   chan struct{}
	err    error
	out    []string
	outMu  sync.Mutex

	dumpOnce sync.Once
	dumped   string // stderr when dump ended the child
}

// Start runs role in a child process with args. The child is a client of
// this process's resource tracker, as a pool worker is: its named objects
// are cleaned up with this program's, not when the child exits (those it
// made without a name end with it, as the lifetime rule says).
func Start(t testing.TB, role string, args ...string) *Child {
	return start(t, role, 0, args, false)
}

// StartProgram runs role in a child that is a program of its own: in its
// own process group (see KillGroup) and not connected to this process's
// resource tracker, so it starts its own tracker when it creates an object.
// The child's stderr, which Stderr returns, is shared with that tracker, and
// Wait and Kill return only once the tracker has exited too.
func StartProgram(t testing.TB, role string, args ...string) *Child {
	return start(t, role, 0, args, true)
}

func start(t testing.TB, role string, idx int, args []string, program bool) *Child {
	t.Helper()
	rx := reexec.Command(rolePrefix+role, append([]string{strconv.Itoa(idx)}, args...)...)
	cmd := rx.Cmd
	if program {
		rx.Group = true
	} else if err := track.Inherit(cmd); err != nil {
		t.Fatal(err)
	}
	// Asked to stop, a child that outlived its test dumps its goroutines.
	rx.Ask = func() error { return rx.Signal(syscall.SIGQUIT) }
	// The child's own deadline comes 2 s before the watchdog's (below), so
	// that a child bounded by it fails and is reported by its parent before
	// the watchdog takes it for hung.
	watchAt := time.Now().Add(timeoutFor(t))
	childDeadline := watchAt.Add(-2 * time.Second)
	if time.Until(childDeadline) < time.Second {
		childDeadline = time.Now().Add(time.Until(watchAt) / 2)
	}
	cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", envDeadline, childDeadline.UnixNano()))
	// The Cmd reaps the child as soon as it exits, so its stdout is a pipe
	// of ours, read to its end here, not exec's StdoutPipe.
	stdout, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w
	c := &Child{t: t, Role: role, rx: rx, lines: make(chan string, 1024), done: make(chan struct{})}
	cmd.Stderr = writerFunc(func(p []byte) (int, error) {
		c.errMu.Lock()
		defer c.errMu.Unlock()
		return c.stderr.Write(p)
	})
	err = rx.Start()
	w.Close()
	if err != nil {
		stdout.Close()
		t.Fatal(err)
	}
	noteStarted(rx.Pid())
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer stdout.Close()
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			c.outMu.Lock()
			c.out = append(c.out, line)
			c.outMu.Unlock()
			select {
			case c.lines <- line:
			default:
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		<-readDone
		c.err = rx.Wait()
		close(c.lines)
		close(c.done)
	}()
	// The watchdog: a child still running at the test's deadline (less the
	// margin) dumps its goroutines onto the test binary's stderr, whatever
	// the parent is doing — waiting on it, on something else, or hung
	// itself — so that a hang names itself before the test binary's
	// timeout ends the run.
	watchdog := time.AfterFunc(time.Until(watchAt), func() { c.dump("passed the test's deadline") })
	t.Cleanup(func() {
		watchdog.Stop()
		select {
		case <-c.done:
			if program {
				// No process of the program's group (a grandchild, say)
				// outlives the test.
				syscall.Kill(-c.Pid(), syscall.SIGKILL)
			}
			return
		default:
		}
		stderr := c.dump("was still running at the end of its test")
		select {
		case <-c.done:
		default:
			t.Errorf("child %s (pid %d): output still open 10s after SIGKILL (a tracker or another process holds it)", role, c.Pid())
		}
		t.Errorf("child %s (pid %d) still running at the end of the test; stderr:\n%s", role, c.Pid(), stderr)
	})
	return c
}

// stop ends a child that outlived its test by reexec's stop sequence —
// SIGQUIT, so that it dumps its goroutines; reexec.Grace; SIGKILL, to its
// whole group if it leads one — and reports whether its output closed
// within 10 s after that.
func (c *Child) stop() bool {
	go c.rx.Stop()
	select {
	case <-c.done:
		return true
	case <-time.After(reexec.Grace + 10*time.Second):
		return false
	}
}

// dump stops a running child (stop: SIGQUIT first, so that it prints its
// goroutines) and prints its stderr on this process's stderr, once, saying
// why; it returns that stderr. A child that has exited is left alone.
func (c *Child) dump(why string) string {
	c.dumpOnce.Do(func() {
		select {
		case <-c.done:
			return
		default:
		}
		c.stop()
		c.dumped = c.Stderr()
		fmt.Fprintf(os.Stderr, "proctest: child %s (pid %d) %s; its goroutines:\n%s\n", c.Role, c.Pid(), why, c.dumped)
	})
	return c.dumped
}

// kill sends SIGKILL to the child, or to its whole group if it leads one.
func (c *Child) kill() {
	if c.rx.Group {
		syscall.Kill(-c.Pid(), syscall.SIGKILL)
		return
	}
	c.rx.Signal(syscall.SIGKILL)
}

// waitDone waits until the child is reaped and its output closed, failing
// the test if that takes past the test's deadline.
func (c *Child) waitDone() {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(timeoutFor(c.t)):
		c.t.Fatalf("child %s (pid %d) killed, but its output is still open (a tracker or another process holds it); stderr:\n%s", c.Role, c.Pid(), c.Stderr())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Done is closed once the child has exited and been reaped.
func (c *Child) Done() <-chan struct{} { return c.done }

// Pid is the child's process id.
func (c *Child) Pid() int { return c.rx.Pid() }

// Stderr returns what the child wrote to stderr so far.
func (c *Child) Stderr() string {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.stderr.String()
}

// Output returns the lines the child printed to stdout so far.
func (c *Child) Output() []string {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	return slices.Clone(c.out)
}

// WaitLine blocks until the child prints a line starting with prefix and
// returns it. It fails the test if the child exits first or the test's
// deadline (or 30 s without one) passes.
func (c *Child) WaitLine(prefix string) string {
	c.t.Helper()
	timeout := time.After(timeoutFor(c.t))
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("child %s exited before printing %q: %v\nstderr:\n%s", c.Role, prefix, c.err, c.Stderr())
			}
			if strings.HasPrefix(line, prefix) {
				return line
			}
		case <-timeout:
			c.t.Fatalf("child %s (pid %d) did not print %q by the test's deadline; stderr:\n%s", c.Role, c.Pid(), prefix, c.dump("did not print "+strconv.Quote(prefix)))
		}
	}
}

// Kill sends SIGKILL and waits for the child to be reaped.
func (c *Child) Kill() {
	c.t.Helper()
	c.rx.Signal(syscall.SIGKILL)
	c.waitDone()
}

// KillGroup sends SIGKILL to the child's whole process group (a child
// started with StartProgram leads its own) and waits for it to be reaped
// and, since they share its stderr, for its tracker to exit.
func (c *Child) KillGroup() {
	c.t.Helper()
	if !c.rx.Group {
		c.t.Fatal("proctest: KillGroup needs a child started with StartProgram")
	}
	c.kill()
	c.waitDone()
}

// Signal sends sig to the child.
func (c *Child) Signal(sig os.Signal) error { return c.rx.Signal(sig) }

// Wait waits for the child to exit and returns its error (nil for exit 0).
// It fails the test if the child outlives the test's deadline.
func (c *Child) Wait() error {
	c.t.Helper()
	select {
	case <-c.done:
		return c.err
	case <-time.After(timeoutFor(c.t)):
		c.t.Fatalf("child %s (pid %d) hung; stderr:\n%s", c.Role, c.Pid(), c.dump("hung"))
		return nil
	}
}

// MustSucceed waits for the child and fails the test unless it exited 0.
func (c *Child) MustSucceed() {
	c.t.Helper()
	if err := c.Wait(); err != nil {
		c.t.Fatalf("child %s (pid %d): %v\nstderr:\n%s", c.Role, c.Pid(), err, c.Stderr())
	}
}

// Run starts n children of role (child i sees Index() == i) and waits for
// all of them, failing the test if any fails.
func Run(t testing.TB, n int, role string, args ...string) []*Child {
	t.Helper()
	cs := StartN(t, n, role, args...)
	for _, c := range cs {
		c.MustSucceed()
	}
	return cs
}

// StartN starts n children of role without waiting.
func StartN(t testing.TB, n int, role string, args ...string) []*Child {
	t.Helper()
	cs := make([]*Child, n)
	for i := range cs {
		cs[i] = start(t, role, i, args, false)
	}
	return cs
}

func timeoutFor(t testing.TB) time.Duration {
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := d.Deadline(); ok {
			if left := time.Until(dl) - 5*time.Second; left > time.Second {
				return left
			}
			return time.Second
		}
	}
	return 60 * time.Second
}

// Context returns a context that ends at the test's deadline (less a
// margin), or after 60 s.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeoutFor(t))
	t.Cleanup(cancel)
	return ctx
}

// Build builds the program in the package directory dir (as `go build`
// would, relative to the test's package) into the test's temporary
// directory and returns its path, skipping the test when no go tool is in
// PATH: for tests that run an example or a test program as a user would.
func Build(t testing.TB, dir string) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	exe := filepath.Join(t.TempDir(), filepath.Base(filepath.Clean(dir)))
	if dir == "." {
		exe = filepath.Join(filepath.Dir(exe), "program")
	}
	if out, err := exec.Command(gobin, "build", "-o", exe, dir).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", dir, err, out)
	}
	return exe
}
