//go:build linux

package robust

import (
	"sync"
	"sync/atomic"

	"github.com/multiproc/multiproc/internal/proc"
	"github.com/multiproc/multiproc/internal/wait"
)

// local is this process's state for one lock record, shared by every
// handle on it in the process (one per device, inode and offset): the
// sleeper gate, the "taken over, not repaired" mark, the reentrant lock's
// owner and depth, and the race detector's sync address.
type local struct {
	gate  wait.Gate
	dirty atomic.Bool // this process took the lock over and has not marked it consistent
	local Local
	race  byte // the race detector's sync address (race.go)
}

var locals wait.Registry[local]

func localFor(k wait.Key) *local { return locals.Get(k) }

// owing keeps the local state of locks this process took over and has not
// yet repaired reachable: the mark lives there, and the registry holds
// entries only weakly, so without this a process that closed every handle
// on such a lock, then reopened and unlocked it, would release it instead
// of poisoning it.
var owing struct {
	sync.Mutex
	m map[*local]struct{}
}

// markDirty records that this process took the lock over (see tookOver).
func (l *local) markDirty() {
	owing.Lock()
	defer owing.Unlock()
	if owing.m == nil {
		owing.m = make(map[*local]struct{})
	}
	owing.m[l] = struct{}{}
	l.dirty.Store(true)
}

// clearDirty clears the mark and reports whether it was set.
func (l *local) clearDirty() bool {
	if !l.dirty.Load() {
		return false
	}
	owing.Lock()
	defer owing.Unlock()
	delete(owing.m, l)
	return l.dirty.Swap(false)
}

// liveness keeps a verified pidfd for each owner this process has found
// alive (proc.Watch: identity checked on the very pidfd kept). Later checks
// of the same owner are then one poll of it: readable means it has exited
// (zombies included). So waiters under heavy contention, where the owner
// changes at every handoff, pay a full check once per owner, and a death
// is seen by the next check after it, never hidden by a cache.
var liveness struct {
	sync.Mutex
	procs map[uint64]*proc.Process // owner identity (no flags) → its pidfd
}

// maxPidfds bounds the pidfds kept; past it they are all closed.
const maxPidfds = 64

// alive reports whether the process with identity id (pid | tag<<32, no
// flags) is alive. Our own process (id == me) is alive by definition.
func alive(id, me uint64) bool {
	if id == me {
		return true
	}
	pid, tag := int(id&wordPIDMask), uint32(id>>32)
	if pid == 0 {
		return false
	}
	liveness.Lock()
	defer liveness.Unlock()
	if p, ok := liveness.procs[id]; ok {
		if !p.Exited() {
			return true
		}
		p.Close()
		delete(liveness.procs, id)
		return false
	}
	p, ok := proc.Watch(pid, tag)
	if !ok {
		return false
	}
	if p != nil { // nil: alive by /proc alone, nothing to keep
		if liveness.procs == nil || len(liveness.procs) >= maxPidfds {
			for _, q := range liveness.procs {
				q.Close()
			}
			liveness.procs = make(map[uint64]*proc.Process)
		}
		liveness.procs[id] = p
	}
	return true
}

// SelfID is this process's identity word, pid | tag<<32: what a lock word
// holds for its owner, and what other shared tables (a barrier's parties,
// a condition's waiter slots) record for a process.
func SelfID() uint64 { return selfWord() }

// Alive reports whether the process with identity word id is alive, with
// the pidfd cache that lock waiters use (see liveness). Our own process is
// alive by definition; 0 is nobody.
func Alive(id uint64) bool { return alive(id&^(wordFlags|wordPoisoned), selfWord()) }

// PIDOf is the pid in an identity word.
func PIDOf(id uint64) int { return int(id & wordPIDMask) }

// ownerAlive reports whether the owner recorded in the word w is alive. A
// poisoned word has no owner.
func ownerAlive(w, me uint64) bool {
	if w&wordPoisoned != 0 {
		return false
	}
	return alive(owner(w), me)
}
