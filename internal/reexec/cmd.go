package reexec

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Grace is how long Stop waits, after asking a child to end, before it
// sends SIGKILL: long enough for a child that heard the ask to finish what
// it was writing and exit, short enough that a stuck one does not hold up
// its parent's shutdown for long. hashicorp/go-plugin waits the same two
// seconds between its graceful and its forced kill.
const Grace = 2 * time.Second

// Cmd is a child process running this binary in a role. Make it with
// Command, adjust Cmd (its output, SysProcAttr, track.Inherit) and the
// fields below, then Start it. It reaps its child itself.
type Cmd struct {
	// Cmd is the command: Path is /proc/self/exe, Args[0] the program's
	// name (set it to change what ps shows), Env the environment with the
	// role's marker (Start sets the marker again, after whatever was done
	// to Env). Never use its StdoutPipe or StderrPipe (see the package's
	// caveats), nor start it yourself unless you also Wait for it yourself
	// (proctest.Command's callers do).
	Cmd *exec.Cmd

	// ParentDeath asks the kernel to SIGKILL the child when this process
	// dies, however it dies (see the package doc).
	ParentDeath bool

	// Ask is how Stop asks the child to end: close its input, say. Nil
	// sends SIGTERM. It is called at most once.
	Ask func() error

	// Grace overrides the package's Grace for this child's Stop, if set.
	Grace time.Duration

	// Affinity, if set, is the CPU affinity the child starts with, from its
	// first instruction, as with taskset(1): the thread that forks it is
	// pinned for the fork (and put back), so a Go child's runtime sizes
	// GOMAXPROCS from it. Setting the affinity of a running child, or of
	// one thread of it, never does that. With ParentDeath the thread
	// pinned is the lasting one (see the package doc).
	Affinity *unix.CPUSet

	// Group makes the child lead a process group of its own (Setpgid), and
	// Kill (and Stop's SIGKILL) reach the whole group, so that nothing the
	// child started outlives it. Ask and Signal still reach the child
	// alone.
	Group bool

	role  string
	args  []string
	files []namedFD

	done     chan struct{} // closed once reaped
	waitErr  error
	askOnce  sync.Once
	killOnce sync.Once
}

// namedFD is an inherited file: its name, and the descriptor it gets in
// the child (set by Start).
type namedFD struct {
	name string
	f    *os.File
	fd   int
}

// ErrNotStarted is returned by Signal on a Cmd that was never started.
var ErrNotStarted = errors.New("reexec: not started")

// Command returns a Cmd that runs this binary in role with args (a few
// short words: they travel in the marker). Its environment is this
// process's, without any role marker, plus role's; it inherits no file
// but those given to AddFile (and whatever track.Inherit adds). It panics
// on a bad role name or oversized arguments, a programming error.
func Command(role string, args ...string) *Cmd {
	env, err := environ(os.Environ(), role, nil, args)
	if err != nil {
		panic(err)
	}
	argv := []string{os.Args[0]}
	if flag.Lookup("test.run") != nil {
		// A test binary: should the child ever miss its dispatch, it
		// runs no tests.
		argv = append(argv, "-test.run=^$", "-test.bench=^$")
	}
	return &Cmd{
		Cmd:  &exec.Cmd{Path: "/proc/self/exe", Args: argv, Env: env},
		role: role,
		args: args,
		done: make(chan struct{}),
	}
}

// AddFile makes f an inherited file of the child, which finds it with
// File(name) or FD(name). The caller keeps f and closes it after Start.
func (c *Cmd) AddFile(name string, f *os.File) {
	c.Cmd.ExtraFiles = append(c.Cmd.ExtraFiles, f)
	c.files = append(c.files, namedFD{name: name, f: f})
}

// Start starts the child, and a goroutine that reaps it.
func (c *Cmd) Start() error {
	// The files' descriptors are their places in ExtraFiles now, whatever
	// was appended between AddFile and Start.
	for i := range c.files {
		c.files[i].fd = -1
		for j, f := range c.Cmd.ExtraFiles {
			if f == c.files[i].f {
				c.files[i].fd = 3 + j
			}
		}
		if c.files[i].fd < 0 {
			return fmt.Errorf("%w: file %s was removed from ExtraFiles", ErrMarker, c.files[i].name)
		}
	}
	env, err := environ(c.Cmd.Env, c.role, c.files, c.args)
	if err != nil {
		return err
	}
	c.Cmd.Env = env
	if (c.ParentDeath || c.Group) && c.Cmd.SysProcAttr == nil {
		c.Cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	if c.Group {
		c.Cmd.SysProcAttr.Setpgid = true
	}
	start := c.Cmd.Start
	if c.Affinity != nil {
		start = func() error { return startPinned(c.Cmd, c.Affinity) }
	}
	switch {
	case c.ParentDeath:
		c.Cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
		err = onLastingThread(start)
	case c.Affinity != nil:
		err = onOwnThread(start)
	default:
		err = start()
	}
	if err != nil {
		return fmt.Errorf("reexec: start role %s: %w", c.role, err)
	}
	go func() {
		c.waitErr = c.Cmd.Wait()
		close(c.done)
	}()
	return nil
}

// Pid is the child's pid (0 before Start).
func (c *Cmd) Pid() int {
	if c.Cmd.Process == nil {
		return 0
	}
	return c.Cmd.Process.Pid
}

// Done is closed once the child has exited and been reaped.
func (c *Cmd) Done() <-chan struct{} { return c.done }

// Wait waits until the child has been reaped and returns exec.Cmd.Wait's
// error (an *exec.ExitError for a non-zero exit or a signal).
func (c *Cmd) Wait() error {
	<-c.done
	return c.waitErr
}

// ProcessState is the child's state once reaped, nil before.
func (c *Cmd) ProcessState() *os.ProcessState {
	select {
	case <-c.done:
		return c.Cmd.ProcessState
	default:
		return nil
	}
}

// Signal sends sig to the child; os.ErrProcessDone once it is reaped
// (never to another process that took its pid: os.Process signals
// through a pidfd).
func (c *Cmd) Signal(sig os.Signal) error {
	if c.Cmd.Process == nil {
		return ErrNotStarted
	}
	select {
	case <-c.done:
		return os.ErrProcessDone
	default:
	}
	return c.Cmd.Process.Signal(sig)
}

// Stop ends the child the one way every multiproc process is ended: ask
// (Ask, or SIGTERM), wait up to Grace for it to exit, then SIGKILL, and
// reap. It returns once the child is reaped; it is idempotent and may be
// called from several goroutines. A Cmd never started returns at once.
func (c *Cmd) Stop() {
	if c.Cmd.Process == nil {
		return
	}
	select {
	case <-c.done:
		return
	default:
	}
	c.askOnce.Do(func() {
		if c.Ask != nil {
			c.Ask()
		} else {
			c.Signal(syscall.SIGTERM)
		}
	})
	grace := c.Grace
	if grace <= 0 {
		grace = Grace
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		c.Kill()
	}
}

// Kill sends SIGKILL (to the child's group, with Group) and returns once
// the child is reaped; it is idempotent. A Cmd never started returns at
// once.
func (c *Cmd) Kill() {
	if c.Cmd.Process == nil {
		return
	}
	c.killOnce.Do(func() {
		select {
		case <-c.done:
			return
		default:
		}
		if c.Group {
			// Not reaped yet, so the group's id is still the child's.
			syscall.Kill(-c.Pid(), syscall.SIGKILL)
		}
		c.Signal(syscall.SIGKILL)
	})
	<-c.done
}
