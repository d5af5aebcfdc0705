package shm_test

import (
	"runtime"
	"testing"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/shm"
)

// Bytes is valid until Close, as the doc says, even when the program keeps
// only the slice: before, the Segment's file was released and unmapped as
// soon as the garbage collector found the Segment unreachable, and the
// next access to the slice faulted (a worker that kept only
// &seg.Bytes()[0] crashed once its loop allocated).
func TestBytesOutliveTheSegmentValueUntilClose(t *testing.T) {
	proctest.CheckShm(t)
	seg, err := shm.Create("", 4096)
	if err != nil {
		t.Fatal(err)
	}
	name := seg.Name()
	defer shm.Unlink(name)
	b := seg.Bytes()
	seg = nil // dropped without Close: it stays mapped until this process exits
	for range 3 {
		runtime.GC()
	}
	for i := range b { // a fault here is the bug
		b[i] = byte(i)
	}
	other, err := shm.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if other.Bytes()[100] != 100 {
		t.Fatal("the writes through the kept slice did not reach the segment")
	}
}
