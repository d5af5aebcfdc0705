package pool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/multiproc/multiproc/internal/codec"
	"github.com/multiproc/multiproc/internal/reexec"
	"github.com/multiproc/multiproc/internal/track"
)

// How a Process's child gets its task and gives its answer.
//
// The parent makes two pipes and hands the child one end of each, named
// "task" and "result" (reexec's inherited files). It writes the task — a
// processTask, in internal/codec's binary format, after its length — to
// "task" and keeps it open until the child has ended, so that the child
// sees the pipe close when its parent dies (its function's ctx ends then);
// the argument may be of any size and never touches the command line or
// the environment. The child runs the
// function and writes its answer to "result" (see resultOK), then exits.
// The parent reads "result" to EOF, which comes when the child exits
// however it exits (the kernel closes a dead process's files), and
// settles Wait's answer once the child is reaped.

// processTask is what a Process's child is sent.
type processTask struct {
	Func      string // the registered name
	Recv      []byte // a bound receiver's encoding, or none
	Arg       []byte // the argument's encoding
	Name      string // the child's Process name
	Identity  []int  // its place in the family: Python's _identity
	Parent    string // the parent's name
	ParentPID int64
	Daemon    bool
}

var processTaskCodec = mustCodec[processTask]("pool", "Process", "task")

// roleProcess is the Process child's role.
const roleProcess = "process"

func init() { registerRole(roleProcess, runProcessChild) }

// A StartOption configures Start.
type StartOption func(*startOptions)

type startOptions struct {
	name   string
	daemon bool
}

// Daemon makes the child die with this process, however this process
// dies, SIGKILL included (as Python's daemon=True, which also kills
// daemonic children at a normal exit). Without it the child outlives its
// parent: Wait for it before main returns, since Go, unlike Python, does
// not wait for non-daemonic children at exit.
func Daemon() StartOption { return func(o *startOptions) { o.daemon = true } }

// ProcessName names the Process (Name); without it the name is Python's
// "Process-N".
func ProcessName(name string) StartOption { return func(o *startOptions) { o.name = name } }

// Start runs fn(ctx, arg) in a new child process and returns at once:
// Python's Process(target=fn, args=(arg,)).start(). fn's ctx ends when
// this process (its parent) is gone, so that a child that waits on it
// returns then; Terminate does not cancel it but ends the child at once,
// as Python's does. The child is this
// program started again, so Init must have been called (ErrNoInit says
// so), and fn must be registered at package level (ErrNotRegistered says
// how). An argument the codec cannot encode (an interface holding a func,
// say) is refused here, with nothing started.
func Start[In, Out any](fn *Func[In, Out], arg In, opts ...StartOption) (*Process, error) {
	if err := checkInit("pool.Start"); err != nil {
		return nil, err
	}
	if err := fn.check("pool: Start"); err != nil {
		return nil, err
	}
	var o startOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	recv, err := fn.appendRecv(nil)
	if err != nil {
		return nil, err
	}
	a, err := fn.appendArg(nil, &arg)
	if err != nil {
		return nil, err
	}
	return startProcess(fn.name, recv, a, o)
}

func startProcess(fn string, recv, arg []byte, o startOptions) (*Process, error) {
	me := CurrentProcess()
	identity := nextChildIdentity()
	if o.name == "" {
		o.name = "Process-" + joinIdentity(identity)
	}
	task := processTask{Func: fn, Recv: recv, Arg: arg, Name: o.name, Identity: identity,
		Parent: me.Name, ParentPID: int64(me.PID), Daemon: o.daemon}
	frame, err := codec.Append(processTaskCodec, nil, &task)
	if err != nil {
		return nil, fmt.Errorf("pool.Start(%s): %w", fn, err)
	}
	taskR, taskW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("pool.Start(%s): %w", fn, err)
	}
	resR, resW, err := os.Pipe()
	if err != nil {
		taskR.Close()
		taskW.Close()
		return nil, fmt.Errorf("pool.Start(%s): %w", fn, err)
	}
	c := newChild(roleProcess, o.daemon)
	c.AddFile("task", taskR)
	c.AddFile("result", resW)
	err = c.Start()
	taskR.Close()
	resW.Close()
	if err != nil {
		taskW.Close()
		resR.Close()
		return nil, fmt.Errorf("pool.Start(%s): %w", fn, err)
	}
	p := &Process{name: o.name, fn: fn, daemon: o.daemon, parent: me.PID, cmd: c, done: make(chan struct{})}
	noteChild(p)
	go func() {
		// The task goes length first, and the pipe then stays open until
		// the child has ended: its closing, by this process's exit, is how
		// the child learns that its parent is gone (its function's ctx
		// ends).
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(frame)))
		taskW.Write(append(n[:], frame...)) // a child that died first makes this EPIPE: its answer says the rest
		<-c.Done()
		taskW.Close()
	}()
	go p.watch(resR)
	return p, nil
}

// newChild returns a child, not yet started, that runs this package's role
// (registered with registerRole) with args: this program's stdout and
// stderr, a client of its resource tracker, and with daemon, killed when
// this process dies (reexec.Cmd.ParentDeath). Add files with AddFile,
// then Start; stop it with Stop (ask, reexec.Grace, SIGKILL, reap) or
// Kill. Set Ask first to stop it by closing its input instead of SIGTERM.
func newChild(role string, daemon bool, args ...string) *reexec.Cmd {
	c := reexec.Command(rolePrefix+role, args...)
	c.Cmd.Stdout, c.Cmd.Stderr = os.Stdout, os.Stderr
	c.ParentDeath = daemon
	// Without a tracker (track has said why, once), the child's objects
	// are tracked by a tracker of its own.
	track.Inherit(c.Cmd)
	return c
}

// runProcessChild is the body of a Process's child.
func runProcessChild([]string) int {
	in, out := reexec.File("task"), reexec.File("result")
	if in == nil || out == nil {
		fmt.Fprintln(os.Stderr, "pool: a Process child started without its task and result files")
		return 2
	}
	b, err := readTask(in)
	var terr *TaskError
	if err != nil {
		terr = &TaskError{PID: os.Getpid(), Message: "reading its task: " + err.Error()}
	} else if task, err := codec.Decode(processTaskCodec, b); err != nil {
		terr = taskCorrupt("?", "task", err)
	} else {
		setCurrentProcess(task.Name, task.Identity, ProcessInfo{Name: task.Parent, PID: int(task.ParentPID)})
		terr = runOne(parentContext(in), task.Func, task.Recv, task.Arg)
	}
	answer := []byte{resultOK}
	if terr != nil {
		answer = appendTaskError([]byte{resultFailed}, terr)
	}
	out.Write(answer)
	out.Close()
	if terr != nil {
		return 1
	}
	return 0
}

// readTask reads the length-prefixed task from the task pipe.
func readTask(in *os.File) ([]byte, error) {
	var n [8]byte
	if _, err := io.ReadFull(in, n[:]); err != nil {
		return nil, err
	}
	size := binary.LittleEndian.Uint64(n[:])
	if size > maxTask {
		return nil, fmt.Errorf("%w: a task of %d bytes (at most %d)", ErrCorrupt, size, maxTask)
	}
	b := make([]byte, size)
	_, err := io.ReadFull(in, b)
	return b, err
}

// maxTask bounds a Process's task frame: the argument of one call.
const maxTask = 1 << 30

// parentContext ends when the task pipe reaches its end: the parent, which
// holds it open until this child ends, is gone. A function that waits on
// its ctx thus returns when nobody waits for it any more (rather than
// block for ever, which the Go runtime calls a deadlock and crashes on).
func parentContext(in *os.File) context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		io.Copy(io.Discard, in)
		in.Close()
		cancel(errParentGone)
	}()
	return ctx
}

var errParentGone = errors.New("the parent process is gone")

// runOne runs one task of the function registered as name.
func runOne(ctx context.Context, name string, recv, arg []byte) *TaskError {
	e, terr := lookupFunc(name)
	if terr != nil {
		return terr
	}
	run, terr := e.bind(recv)
	if terr != nil {
		return terr
	}
	_, terr = run(ctx, nil, arg)
	return terr
}

func joinIdentity(id []int) string {
	s := make([]string, len(id))
	for i, n := range id {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ":")
}
