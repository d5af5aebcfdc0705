package reexec

import (
	"os/exec"
	"runtime"
	"sync"
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
	reqs chan *exec.Cmd
	errs chan error
	mu   sync.Mutex // one start at a time
}

// startFromLastingThread is cmd.Start on the lasting thread.
func startFromLastingThread(cmd *exec.Cmd) error {
	lasting.once.Do(func() {
		lasting.reqs = make(chan *exec.Cmd)
		lasting.errs = make(chan error)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread dies with the process
			for cmd := range lasting.reqs {
				lasting.errs <- cmd.Start()
			}
		}()
	})
	lasting.mu.Lock()
	defer lasting.mu.Unlock()
	lasting.reqs <- cmd
	return <-lasting.errs
}
