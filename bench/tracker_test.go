package bench

import (
	"fmt"
	"testing"

	"github.com/multiproc/multiproc/admin"
	"github.com/multiproc/multiproc/shm"
)

// BenchmarkTrackedCreate measures what tracking adds to an object's life:
// a 4 KiB segment created, closed and unlinked, tracked (one stat and two
// one-line pipe writes to the tracker) against Persistent (untracked).
// The tracker process is started before the timer, as a program's first
// create starts it once.
func BenchmarkTrackedCreate(b *testing.B) {
	warm, err := shm.Create("", 64) // starts this binary's tracker
	if err != nil {
		b.Fatal(err)
	}
	warm.Close()
	warm.Unlink()
	for _, mode := range []struct {
		name string
		opts []shm.Option
	}{{"tracked", nil}, {"persistent", []shm.Option{shm.Persistent()}}} {
		b.Run(mode.name, func(b *testing.B) {
			for b.Loop() {
				seg, err := shm.Create("", 4096, mode.opts...)
				if err != nil {
					b.Fatal(err)
				}
				seg.Close()
				seg.Unlink()
			}
		})
	}
}

// BenchmarkList measures admin.List (what `multiproc ls` does) over n
// objects of ours: a readdir, then per file a statx, a pread of the
// header or an xattr read, a flock test and a liveness check.
func BenchmarkList(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("objects=%d", n), func(b *testing.B) {
			for range n {
				seg, err := shm.Create("", 64)
				if err != nil {
					b.Fatal(err)
				}
				defer seg.Unlink()
				defer seg.Close()
			}
			for b.Loop() {
				if _, err := admin.List(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
