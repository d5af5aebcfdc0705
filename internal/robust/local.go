//go:build linux

package robust

import (
	"runtime"
	"sync"
	"sync/atomic"
	"weak"

	"golang.org/x/sys/unix"

	"github.com/multiproc/multiproc/internal/proc"
)

// A gate is this process's waiting room for one lock record: the goroutine
// that holds ch (capacity 1) is the only one of this process that spins or
// sleeps in the kernel on the record; the others park on ch, where a
// cancelled context can reach them. There is exactly one gate per (device,
// inode, offset) in a process, so two opens of the same lock share it.
type gate struct {
	ch    chan struct{}
	dirty atomic.Bool // this process took the lock over and has not marked it consistent
	local Local
	race  byte // the race detector's sync address (race.go)
}

// owing keeps the gates of locks this process took over and has not yet
// repaired reachable: the mark lives in the gate, and gates are held only
// weakly, so without this a process that closed every handle on such a
// lock, then reopened and unlocked it, would release it instead of
// poisoning it.
var owing struct {
	sync.Mutex
	m map[*gate]struct{}
}

// markDirty records that this process took the lock over (see tookOver).
func (g *gate) markDirty() {
	owing.Lock()
	defer owing.Unlock()
	if owing.m == nil {
		owing.m = make(map[*gate]struct{})
	}
	owing.m[g] = struct{}{}
	g.dirty.Store(true)
}

// clearDirty clears the mark and reports whether it was set.
func (g *gate) clearDirty() bool {
	if !g.dirty.Load() {
		return false
	}
	owing.Lock()
	defer owing.Unlock()
	delete(owing.m, g)
	return g.dirty.Swap(false)
}

type gateKey struct {
	dev, ino uint64
	off      int
}

// gates maps keys to live gates. Entries are weak: a gate lives as long as
// some Mutex refers to it, and a cleanup removes its entry afterwards.
var gates struct {
	sync.Mutex
	m map[gateKey]weak.Pointer[gate]
}

func gateFor(k gateKey) *gate {
	gates.Lock()
	defer gates.Unlock()
	if g := gates.m[k].Value(); g != nil {
		return g
	}
	if gates.m == nil {
		gates.m = make(map[gateKey]weak.Pointer[gate])
	}
	g := &gate{ch: make(chan struct{}, 1)}
	wp := weak.Make(g)
	gates.m[k] = wp
	runtime.AddCleanup(g, func(k gateKey) {
		gates.Lock()
		defer gates.Unlock()
		if gates.m[k].Value() == nil {
			delete(gates.m, k)
		}
	}, k)
	return g
}

// liveness keeps a pidfd for each owner this process has verified alive
// (pid and start time, by proc.Alive). Later checks of the same owner are
// then one poll of its pidfd: readable means it has exited (zombies
// included). So waiters under heavy contention, where the owner changes at
// every handoff, pay a full /proc check once per owner, and a death is seen
// by the next check after it, never hidden by a cache.
var liveness struct {
	sync.Mutex
	fds map[uint64]int // owner word (no waiters bit) → pidfd
}

// maxPidfds bounds the pidfds kept; past it they are all closed.
const maxPidfds = 64

// ownerAlive reports whether the owner recorded in w is alive. Our own
// process (same pid and start time) is alive by definition.
func ownerAlive(w, me uint64) bool {
	owner := w &^ wordWaiters
	if owner == me {
		return true
	}
	if owner&wordPoisoned != 0 {
		return false
	}
	pid, start32 := int(owner&wordPIDMask), uint32(owner>>32)
	liveness.Lock()
	defer liveness.Unlock()
	if fd, ok := liveness.fds[owner]; ok {
		if !exited(fd) {
			return true
		}
		unix.Close(fd)
		delete(liveness.fds, owner)
		return false
	}
	// Open the pidfd first: if the owner is alive after it, the pidfd is
	// the owner's (it held the pid all along).
	fd, err := unix.PidfdOpen(pid, 0)
	if err == unix.ESRCH {
		return false
	}
	if !proc.Alive(pid, start32) {
		if err == nil {
			unix.Close(fd)
		}
		return false
	}
	if err == nil {
		if liveness.fds == nil || len(liveness.fds) >= maxPidfds {
			for _, fd := range liveness.fds {
				unix.Close(fd)
			}
			liveness.fds = make(map[uint64]int)
		}
		liveness.fds[owner] = fd
	}
	return true
}

// exited reports whether the process behind pidfd has terminated.
func exited(fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(pfd, 0)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n > 0 && pfd[0].Revents&(unix.POLLIN|unix.POLLHUP|unix.POLLERR) != 0
	}
}
