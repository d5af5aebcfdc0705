package codec

import "testing"

func TestLayout(t *testing.T) {
	type point struct{ X, Y float64 }
	type flagged struct {
		N  int32
		OK bool
	}
	check := func(name string, size int, ok bool, wantSize int, wantOK bool) {
		t.Helper()
		if size != wantSize || ok != wantOK {
			t.Errorf("Layout(%s) = %d, %v; want %d, %v", name, size, ok, wantSize, wantOK)
		}
	}
	ci, _, _ := For[int]()
	size, ok := Layout(ci)
	check("int", size, ok, 8, true)
	cp, _, _ := For[point]()
	size, ok = Layout(cp)
	check("point", size, ok, 16, true)
	// A bool's byte must be checked, so no bulk copy.
	cf, _, _ := For[flagged]()
	size, ok = Layout(cf)
	check("flagged", size, ok, 0, false)
	cs, _, _ := For[string]()
	size, ok = Layout(cs)
	check("string", size, ok, 0, false)
	ce, _, _ := For[struct{}]()
	size, ok = Layout(ce)
	check("struct{}", size, ok, 0, false)
}
