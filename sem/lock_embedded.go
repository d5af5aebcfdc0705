package sem

import (
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/semlink"
)

// Locks embedded in other objects' segments (a Value's or an Array's lock)
// reach their users as *Lock or *RLock through internal/semlink, which
// these functions fill in; see that package for the contract.
func init() {
	semlink.WrapLock = func(f *segment.File, kind layout.Kind, off int) any {
		l := new(Lock)
		l.h.initBorrowed("Lock", f, kind, off)
		return l
	}
	semlink.WrapRLock = func(f *segment.File, kind layout.Kind, off int) any {
		return newRLock(func(h *lockHandle) { h.initBorrowed("RLock", f, kind, off) })
	}
}
