package bench

import (
	"fmt"
	"testing"

	"github.com/multiproc/multiproc/admin"
	"github.com/multiproc/multiproc/shm"
)

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
