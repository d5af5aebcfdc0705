package pool_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/pool"
)

// A side segment cut (by anyone with our uid) after its consumer mapped it
// is an ErrCorrupt from Get, never a SIGBUS that kills the consumer; the
// queue goes on carrying the items behind it (issue 13, hole 2).
func TestQueueSideSegmentTruncatedUnderGet(t *testing.T) {
	q := newQueue[[]byte](t, pool.Capacity(4096))
	ctx := context.Background()
	big := bytes.Repeat([]byte{7}, 1<<20) // past a quarter of the ring: a side segment
	if err := q.Put(ctx, big); err != nil {
		t.Fatal(err)
	}
	if err := q.Put(ctx, []byte("after")); err != nil {
		t.Fatal(err)
	}
	cut := 0
	segment.SetTestHookAfterMap(func(f *segment.File) {
		if f.Name == q.Name() {
			return
		}
		cut++
		if err := os.Truncate(filepath.Join("/dev/shm", f.Name), 0); err != nil {
			t.Errorf("truncate %s: %v", f.Name, err)
		}
	})
	_, err := q.Get(ctx)
	segment.SetTestHookAfterMap(nil)
	if cut != 1 {
		t.Fatalf("the hook cut %d side segments, want 1", cut)
	}
	if !errors.Is(err, pool.ErrCorrupt) {
		t.Fatalf("Get of a side segment cut under it = %v, want ErrCorrupt", err)
	}
	b, err := q.Get(ctx)
	if err != nil || string(b) != "after" {
		t.Fatalf("the next Get = %q, %v; want \"after\"", b, err)
	}
}
