package proctest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/track"
)

const (
	envRole = "MULTIPROC_TEST_ROLE"
	envArgs = "MULTIPROC_TEST_ARGS"
	envIdx  = "MULTIPROC_TEST_INDEX"
)

// A Role is the body of a child process. Its args are those given to Start;
// returning an error exits with status 1 after printing it to stderr.
type Role func(args []string) error

var roles = map[string]Role{}

// Register makes role runnable in children under name. Call it before Main.
func Register(name string, role Role) {
	if _, dup := roles[name]; dup {
		panic("proctest: role registered twice: " + name)
	}
	roles[name] = role
}

// Main runs the role named in the environment and exits, or, in the parent,
// runs the tests.
func Main(m *testing.M) {
	if name, ok := os.LookupEnv(envRole); ok {
		os.Exit(runRole(name))
	}
	os.Exit(m.Run())
}

// IsChild reports whether this process is a proctest child.
func IsChild() bool { _, ok := os.LookupEnv(envRole); return ok }

// Index is this child's index among the children of one Run (0 for Start).
func Index() int {
	var i int
	fmt.Sscan(os.Getenv(envIdx), &i)
	return i
}

func runRole(name string) int {
	role, ok := roles[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "proctest: no role %q\n", name)
		return 3
	}
	var args []string
	if a := os.Getenv(envArgs); a != "" {
		args = strings.Split(a, "\x1f")
	}
	if err := role(args); err != nil {
		fmt.Fprintf(os.Stderr, "proctest: role %s: %v\n", name, err)
		return 1
	}
	return 0
}

// Command returns a command that runs role with args in a child, for a
// role that starts children of its own. Nothing else is set up: no tracker
// connection (see track.Inherit), no process group, no output capture.
func Command(role string, args ...string) *exec.Cmd {
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), envRole+"="+role, envArgs+"="+strings.Join(args, "\x1f"), envIdx+"=0")
	return cmd
}

// Child is one running child process.
type Child struct {
	t      testing.TB
	Role   string
	cmd    *exec.Cmd
	lines  chan string
	stderr strings.Builder
	errMu  sync.Mutex
	done   chan struct{}
	err    error
	out    []string
	outMu  sync.Mutex
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
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), envRole+"="+role, envArgs+"="+strings.Join(args, "\x1f"), fmt.Sprintf("%s=%d", envIdx, idx),
		// Race-built binaries sleep 1 s at exit by default; children exit often.
		"GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"))
	if program {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	} else if err := track.Inherit(cmd); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &Child{t: t, Role: role, cmd: cmd, lines: make(chan string, 1024), done: make(chan struct{})}
	cmd.Stderr = writerFunc(func(p []byte) (int, error) {
		c.errMu.Lock()
		defer c.errMu.Unlock()
		return c.stderr.Write(p)
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	noteStarted(cmd.Process.Pid)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
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
		c.err = cmd.Wait()
		close(c.lines)
		close(c.done)
	}()
	t.Cleanup(func() {
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
		c.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-c.done:
		case <-time.After(2 * time.Second):
			c.kill()
			select {
			case <-c.done:
			case <-time.After(10 * time.Second):
				t.Errorf("child %s (pid %d): output still open 10s after SIGKILL (a tracker or another process holds it)", role, c.Pid())
			}
		}
		t.Errorf("child %s (pid %d) still running at the end of the test; stderr:\n%s", role, c.Pid(), c.Stderr())
	})
	return c
}

// kill sends SIGKILL to the child, or to its whole group if it leads one.
func (c *Child) kill() {
	if c.cmd.SysProcAttr != nil && c.cmd.SysProcAttr.Setpgid {
		syscall.Kill(-c.Pid(), syscall.SIGKILL)
		return
	}
	c.cmd.Process.Kill()
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
func (c *Child) Pid() int { return c.cmd.Process.Pid }

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
			c.cmd.Process.Signal(syscall.SIGQUIT)
			c.t.Fatalf("child %s did not print %q in time", c.Role, prefix)
		}
	}
}

// Kill sends SIGKILL and waits for the child to be reaped.
func (c *Child) Kill() {
	c.t.Helper()
	c.cmd.Process.Kill()
	c.waitDone()
}

// KillGroup sends SIGKILL to the child's whole process group (a child
// started with StartProgram leads its own) and waits for it to be reaped
// and, since they share its stderr, for its tracker to exit.
func (c *Child) KillGroup() {
	c.t.Helper()
	if c.cmd.SysProcAttr == nil || !c.cmd.SysProcAttr.Setpgid {
		c.t.Fatal("proctest: KillGroup needs a child started with StartProgram")
	}
	c.kill()
	c.waitDone()
}

// Signal sends sig to the child.
func (c *Child) Signal(sig os.Signal) error { return c.cmd.Process.Signal(sig) }

// Wait waits for the child to exit and returns its error (nil for exit 0).
// It fails the test if the child outlives the test's deadline.
func (c *Child) Wait() error {
	c.t.Helper()
	select {
	case <-c.done:
		return c.err
	case <-time.After(timeoutFor(c.t)):
		c.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-c.done:
		case <-time.After(2 * time.Second):
			c.kill()
			select {
			case <-c.done:
			case <-time.After(10 * time.Second):
			}
		}
		c.t.Fatalf("child %s (pid %d) hung; stderr:\n%s", c.Role, c.Pid(), c.Stderr())
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
