// Command tour is the first thing to run: a guided walk through multiproc,
// each step between real OS processes (this program re-executed as its own
// children — Go cannot fork, and the name of an object is all a child needs
// to open it).
//
//	go run ./examples/tour
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/multiproc/multiproc/barrier"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
	"github.com/multiproc/multiproc/value"
)

const childEnv = "MULTIPROC_TOUR_CHILD"

func main() {
	if role := os.Getenv(childEnv); role != "" {
		if err := child(role, os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tour:", err)
		os.Exit(1)
	}
}

func run() error {
	fmt.Println("multiproc tour")
	for i, step := range []struct {
		title string
		run   func() error
	}{
		{"A shared-memory segment, written by a child process", segmentStep},
		{"Python's counter: 4 processes x 1,000 increments under a lock", counterStep},
		{"A lock whose owner is SIGKILLed is recovered, not deadlocked", robustLockStep},
		{"A bounded semaphore refuses to be released too many times", semaphoreStep},
		{"A barrier for 4 processes, then an Event releases them", barrierEventStep},
		{"A SIGKILLed program leaks nothing: its tracker cleans up", trackerStep},
	} {
		fmt.Printf("\n%d. %s\n", i+1, step.title)
		if err := step.run(); err != nil {
			return err
		}
	}
	fmt.Println("\ndone: every object this tour made is gone from /dev/shm.")
	return nil
}

func segmentStep() error {
	seg, err := shm.Create("", 4096)
	if err != nil {
		return err
	}
	defer seg.Unlink()
	defer seg.Close()
	fmt.Printf("   parent %d created /dev/shm/%s (%d bytes)\n", os.Getpid(), seg.Name(), seg.Size())
	if err := spawn("write-greeting", seg.Name()).Wait(); err != nil {
		return err
	}
	b := seg.Bytes()
	fmt.Printf("   parent reads: %q\n", b[:strings.IndexByte(string(b), 0)])
	return nil
}

func counterStep() error {
	counter, err := value.New[int32](0)
	if err != nil {
		return err
	}
	defer counter.Unlink()
	defer counter.Close()
	var workers []process
	for range 4 {
		workers = append(workers, spawn("count", counter.Name()))
	}
	for _, w := range workers {
		if err := w.Wait(); err != nil {
			return err
		}
	}
	fmt.Printf("   Final counter: %d\n", counter.Load())
	return nil
}

func robustLockStep() error {
	l, err := sem.NewLock()
	if err != nil {
		return err
	}
	defer l.Unlink()
	defer l.Close()
	holder := spawn("hold-lock", l.Name())
	for !l.State().Locked { // wait until the child holds it
		time.Sleep(time.Millisecond)
	}
	fmt.Printf("   child %d holds the lock; killing it with SIGKILL\n", holder.Process.Pid)
	killed := time.Now()
	holder.Process.Kill()
	holder.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = l.LockContext(ctx)
	if !errors.Is(err, sem.ErrOwnerDead) {
		return fmt.Errorf("LockContext = %v, want ErrOwnerDead", err)
	}
	// A waiter checks the owner's liveness before it sleeps, so a death
	// that came first costs no poll interval (one that comes while it
	// sleeps costs at most one: SetPollInterval, 100 ms by default).
	fmt.Printf("   parent took the lock over %v after the kill, the owner being dead when it asked: %v\n",
		time.Since(killed).Round(10*time.Microsecond), err)
	fmt.Println("   (it would repair the shared state here) MarkConsistent, Unlock")
	l.MarkConsistent()
	l.Unlock()
	return nil
}

func semaphoreStep() error {
	s, err := sem.NewBoundedSemaphore(2)
	if err != nil {
		return err
	}
	defer s.Unlink()
	defer s.Close()
	if err := spawn("acquire-release", s.Name()).Wait(); err != nil {
		return err
	}
	fmt.Printf("   after a child's Acquire and Release the value is %d\n", s.Value())
	fmt.Printf("   one Release too many: %v (value still %d)\n", s.Release(), s.Value())
	return nil
}

func barrierEventStep() error {
	b, err := barrier.New(4, barrier.Action(announce))
	if err != nil {
		return err
	}
	defer b.Unlink()
	defer b.Close()
	start, err := sem.NewEvent()
	if err != nil {
		return err
	}
	defer start.Unlink()
	defer start.Close()
	var kids []process
	for range 3 {
		kids = append(kids, spawn("barrier-then-event", b.Name(), start.Name()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	idx, err := b.Wait(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("   parent passed the barrier with arrival index %d; setting the event\n", idx)
	if err := start.Set(); err != nil {
		return err
	}
	for _, k := range kids {
		if err := k.Wait(); err != nil {
			return err
		}
	}
	fmt.Println("   all 3 children saw the event and exited")
	return nil
}

// announce is the barrier's action. Functions do not cross processes, so
// every process passes it to New or Open, as Python pickles it for each.
func announce() error {
	fmt.Printf("   all 4 arrived: the action ran once, in process %d (the last to arrive)\n", os.Getpid())
	return nil
}

func trackerStep() error {
	victim := spawnPiped("create-and-hang")
	name, err := victim.readLine()
	if err != nil {
		return err
	}
	fmt.Printf("   child %d created /dev/shm/%s; killing it with SIGKILL\n", victim.Process.Pid, name)
	victim.Process.Kill()
	// The child's tracker shares its stderr, which we read: its one line
	// says what it removed, and why.
	said, err := victim.readErrLine()
	victim.Wait()
	switch {
	case said != "":
		fmt.Printf("   its tracker says: %s\n", said)
	case err == io.EOF:
		// A kernel that cannot tell a crash from an exit: the tracker
		// removes the object silently.
		fmt.Println("   its tracker removed it")
	default:
		return err
	}
	if _, err := os.Stat("/dev/shm/" + name); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s still in /dev/shm", name)
	}
	return nil
}

func child(role string, args []string) error {
	switch role {
	case "write-greeting":
		seg, err := shm.Open(args[0])
		if err != nil {
			return err
		}
		defer seg.Close()
		copy(seg.Bytes(), fmt.Sprintf("hello from child %d", os.Getpid()))
		fmt.Printf("   child %d wrote its greeting\n", os.Getpid())
		return nil
	case "count":
		counter, err := value.Open[int32](args[0])
		if err != nil {
			return err
		}
		defer counter.Close()
		for range 1000 {
			if err := counter.Update(func(n *int32) { *n++ }); err != nil {
				return err
			}
		}
		return nil
	case "hold-lock":
		l, err := sem.OpenLock(args[0])
		if err != nil {
			return err
		}
		l.Lock()
		time.Sleep(time.Hour) // until killed
		return nil
	case "barrier-then-event":
		b, err := barrier.Open(args[0], barrier.Action(announce))
		if err != nil {
			return err
		}
		defer b.Close()
		ctx := context.Background()
		if _, err := b.Wait(ctx); err != nil {
			return err
		}
		e, err := sem.OpenEvent(args[1])
		if err != nil {
			return err
		}
		defer e.Close()
		return e.Wait(ctx)
	case "create-and-hang":
		v, err := value.New[int64](42)
		if err != nil {
			return err
		}
		fmt.Println(v.Name())
		time.Sleep(time.Hour) // until killed
		return nil
	case "acquire-release":
		s, err := sem.OpenBoundedSemaphore(args[0])
		if err != nil {
			return err
		}
		defer s.Close()
		if err := s.Acquire(context.Background()); err != nil {
			return err
		}
		return s.Release()
	}
	return fmt.Errorf("unknown role %q", role)
}

// process is a running child of the tour.
type process struct {
	*exec.Cmd
	out, err *bufio.Reader // nil unless started by spawnPiped
}

// spawn starts this program again as a child with the given role; its
// output goes straight to ours.
func spawn(role string, args ...string) process { return start(false, role, args) }

// spawnPiped is spawn with the child's output readable by readLine and
// readErrLine, so that nothing it (or its tracker) prints is interleaved
// with the tour's own lines.
func spawnPiped(role string, args ...string) process { return start(true, role, args) }

func start(piped bool, role string, args []string) process {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), childEnv+"="+role)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	p := process{Cmd: cmd}
	if piped {
		cmd.Stdout = nil
		out, err := cmd.StdoutPipe()
		if err != nil {
			panic(err)
		}
		p.out = bufio.NewReader(out)
		cmd.Stderr = nil
		errOut, err := cmd.StderrPipe()
		if err != nil {
			panic(err)
		}
		p.err = bufio.NewReader(errOut)
	}
	if err := cmd.Start(); err != nil {
		panic(err)
	}
	return p
}

// readLine reads one line the child printed.
func (p process) readLine() (string, error) {
	line, err := p.out.ReadString('\n')
	return strings.TrimSpace(line), err
}

// readErrLine reads one line the child, or its tracker, wrote to stderr.
func (p process) readErrLine() (string, error) {
	line, err := p.err.ReadString('\n')
	return strings.TrimSpace(line), err
}

// Wait waits for the child, copying any output not read yet.
func (p process) Wait() error {
	if p.out != nil {
		io.Copy(os.Stdout, p.out)
		io.Copy(os.Stderr, p.err)
	}
	return p.Cmd.Wait()
}
