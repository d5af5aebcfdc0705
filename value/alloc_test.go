package value

import (
	"testing"

	"github.com/multiproc/multiproc/internal/proctest"
)

// The uncontended paths allocate nothing: an error message is built only
// when there is an error, and Update's copy is the handle's scratch (a T on
// the stack would escape through fn: one allocation per Update).
func TestUncontendedCallsDoNotAllocate(t *testing.T) {
	proctest.CheckShm(t)
	w := mustNew(t, int64(0))
	p := mustNew(t, pair{})
	for name, f := range map[string]func(){
		"Update of a word":   func() { w.Update(func(x *int64) { *x++ }) },
		"Update of a pair":   func() { p.Update(func(x *pair) { x.A++ }) },
		"Load of a pair":     func() { _ = p.Load() },
		"Store of a pair":    func() { p.Store(pair{1, 2}) },
		"Add":                func() { Add(w, 1) },
		"Lock pair":          func() { p.Lock().Lock(); p.Lock().Unlock() },
		"nested Load inside": func() { p.Lock().Lock(); _ = p.Load(); p.Lock().Unlock() },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %.0f allocations per call", name, n)
		}
	}
}
