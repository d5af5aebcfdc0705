package bench

import (
	"testing"

	"github.com/multiproc/multiproc/shm"
)

// BenchmarkSegmentCreateCloseUnlink1MiB measures the full life of a 1 MiB
// segment: atomic create (O_TMPFILE, fallocate, mmap, link), close, unlink.
func BenchmarkSegmentCreateCloseUnlink1MiB(b *testing.B) {
	for b.Loop() {
		seg, err := shm.Create("", 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		seg.Close()
		seg.Unlink()
	}
}

// BenchmarkSegmentOpenClose measures attaching to an existing segment by
// name: open, fstat, flock, mmap, then close.
func BenchmarkSegmentOpenClose(b *testing.B) {
	seg, err := shm.Create("", 1<<20)
	if err != nil {
		b.Fatal(err)
	}
	defer seg.Unlink()
	defer seg.Close()
	name := seg.Name()
	for b.Loop() {
		s, err := shm.Open(name)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
