//go:build linux && race

package robust

import (
	"runtime"
	"unsafe"
)

// The race detector ignores atomics on memory outside the Go heap, so the
// CAS on a mapped lock word creates no happens-before edge for it, and Go
// data that a lock correctly protects would be reported as racy. Under
// -race, Unlock releases and every acquisition acquires a heap address in
// the lock's gate, which all handles on the record in this process share.

const raceEnabled = true

func raceAcquire(m *Mutex) { runtime.RaceAcquire(unsafe.Pointer(&m.st.race)) }

func raceRelease(m *Mutex) { runtime.RaceReleaseMerge(unsafe.Pointer(&m.st.race)) }
