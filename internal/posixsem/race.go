//go:build linux && race

package posixsem

import (
	"sync"
	"sync/atomic"
)

// The race detector ignores atomics on memory outside the Go heap, so the
// CAS on a mapped sem_t creates no happens-before edge for it, and data
// that a semaphore correctly protects would be reported as racy. Under
// -race every post also adds to a heap variable (a release) and every
// successful wait loads it (an acquire). There is one variable per file
// (device, inode) and process, shared by all handles on that file, kept
// for the life of the process (race builds only).
var raceVars sync.Map // [2]uint64{dev, ino} → *uint64

func raceVar(dev, ino uint64) *uint64 {
	v, _ := raceVars.LoadOrStore([2]uint64{dev, ino}, new(uint64))
	return v.(*uint64)
}

func raceRelease(p *uint64) { atomic.AddUint64(p, 1) }

func raceAcquire(p *uint64) { atomic.LoadUint64(p) }
