//go:build linux

package posixsem

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/segment"
)

func TestInspectReadsValueWaitersAndTrailer(t *testing.T) {
	s, f := newSem(t, 3, layout.KindBounded, 5)
	s.TryWait()
	done := make(chan error, 1)
	for s.TryWait() {
	}
	go func() { done <- s.Wait(context.Background(), nil, nil) }()
	waitUntil(t, "the waiter registers", func() bool { return s.Waiters() == 1 })
	info, err := Inspect(f.Name)
	if err != nil {
		t.Fatal(err)
	}
	if info.Value != 0 || info.Waiters != 1 || info.Kind != layout.KindBounded || info.Bound != 5 || info.Foreign || info.Trailer.Initial != 3 {
		t.Fatalf("Inspect = %+v", info)
	}
	s.Post(1, 5)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// writeShm writes a file straight into /dev/shm, as a foreign program
// would, and removes it at the end.
func writeShm(t *testing.T, b []byte) string {
	t.Helper()
	proctest.CheckShm(t)
	file := "sem." + segment.Generate("semtest")
	if err := os.WriteFile(segment.Path(file), b, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(segment.Path(file)) })
	return file
}

func TestInspectForeignSemaphore(t *testing.T) {
	b := image(4, layout.KindSemaphore, ValueMax)[:Size]
	b[4] = 2 // two waiters registered
	info, err := Inspect(writeShm(t, b))
	if err != nil {
		t.Fatal(err)
	}
	if !info.Foreign || info.Value != 4 || info.Waiters != 2 || info.Kind != layout.KindSemaphore {
		t.Fatalf("Inspect = %+v", info)
	}
}

func TestInspectRefusesWhatIsNotASemaphore(t *testing.T) {
	garbage := []byte(strings.Repeat("not a semaphore!", 6)) // 96 bytes
	if _, err := Inspect(writeShm(t, garbage)); !errors.Is(err, layout.ErrCorrupt) {
		t.Fatalf("garbage: %v", err)
	}
	if _, err := Inspect(writeShm(t, make([]byte, 100))); !errors.Is(err, layout.ErrCorrupt) || !strings.Contains(err.Error(), "100 bytes") {
		t.Fatalf("100 bytes: %v", err)
	}
	if _, err := Inspect(writeShm(t, nil)); !errors.Is(err, layout.ErrCorrupt) {
		t.Fatalf("empty: %v", err)
	}
	if _, err := Inspect("sem." + segment.Generate("semtest")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	target := writeShm(t, image(1, layout.KindSemaphore, ValueMax))
	link := "sem." + segment.Generate("semtest")
	if err := os.Symlink(segment.Path(target), segment.Path(link)); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(segment.Path(link))
	if _, err := Inspect(link); err == nil {
		t.Fatal("Inspect followed a symbolic link")
	}
}
