package reexec

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// Children that must die with this process are started from one goroutine
// locked to its OS thread for the rest of the process's life.
//
// PR_SET_PDEATHSIG, which exec sets from SysProcAttr.Pdeathsig, fires when
// the thread that forked the child exits, not when the process does (Go
// issue 27505): started from an ordinary goroutine, a child would be
// killed the day the runtime retires that thread, with its parent alive.
// The simple fix that fails:
//
//	runtime.LockOSThread()
//	defer runtime.UnlockOSThread()
//	cmd.Start()
//
// unlocks the thread again, and the runtime may end it any time after.
// Instead the lasting thread's goroutine never returns and never unlocks,
// so its thread ends only with the process; and the fork happens on it,
// since a locked goroutine runs only on its thread.

var lasting struct {
	once sync.Once
	reqs chan func() error
	errs chan error
	mu   sync.Mutex // one start at a time
}

// onLastingThread runs start (a cmd.Start) on the lasting thread.
func onLastingThread(start func() error) error {
	lasting.once.Do(func() {
		lasting.reqs = make(chan func() error)
		lasting.errs = make(chan error)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread dies with the process
			for start := range lasting.reqs {
				lasting.errs <- start()
			}
		}()
	})
	lasting.mu.Lock()
	defer lasting.mu.Unlock()
	lasting.reqs <- start
	return <-lasting.errs
}

// onOwnThread runs start (a startPinned) on a thread locked to a goroutine
// of its own, which unlocks it only if start put its affinity back: a
// thread left pinned ends with its goroutine, never to run anything else.
func onOwnThread(start func() error) error {
	errs := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err := start()
		if !errors.Is(err, errThreadPinned) {
			runtime.UnlockOSThread()
		}
		errs <- err
	}()
	return <-errs
}

// errThreadPinned marks a startPinned that could not put the thread's
// affinity back.
var errThreadPinned = errors.New("reexec: the forking thread's CPU affinity could not be restored")

// startPinned starts cmd with the calling thread's affinity set to set for
// the fork: a child inherits the affinity of the thread that forks it, and
// exec keeps it. The caller's goroutine must be locked to its thread.
func startPinned(cmd *exec.Cmd, set *unix.CPUSet) error {
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return fmt.Errorf("read the forking thread's CPU affinity: %w", err)
	}
	if err := unix.SchedSetaffinity(0, set); err != nil {
		return fmt.Errorf("set the child's CPU affinity %v: %w", cpuList(set), err)
	}
	err := cmd.Start()
	if rerr := unix.SchedSetaffinity(0, &old); rerr != nil {
		return errors.Join(err, fmt.Errorf("%w: %v", errThreadPinned, rerr))
	}
	return err
}

// cpuList lists the CPUs of set.
func cpuList(set *unix.CPUSet) []int {
	var cpus []int
	for i := range 1024 {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	return cpus
}
