package barrier_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multiproc/multiproc/barrier"
	"github.com/multiproc/multiproc/internal/layout"
)

var fuzzFiles atomic.Int64

// FuzzOpenPayload plants a barrier file with a valid header around
// arbitrary payload bytes, as another process of the user could, and uses
// it through the API: Open either refuses it (ErrCorrupt) or gives a
// handle on which Status, NWaiting, Broken, a Wait bounded by a short
// deadline and Close all return — no panic, no read past the file, no
// wait without a bound. FuzzInspectPayload covers the read-only path.
func FuzzOpenPayload(f *testing.F) {
	for _, parties := range []int{1, 2, 3} {
		b, err := barrier.New(parties)
		if err != nil {
			f.Fatal(err)
		}
		file, err := os.ReadFile("/dev/shm/" + b.Name())
		b.Unlink()
		b.Close()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(file[layout.HeaderSize:])
	}
	f.Add(make([]byte, 128))
	f.Fuzz(func(t *testing.T, payload []byte) {
		h := layout.Header{Kind: layout.KindBarrier, PayloadSize: uint64(len(payload))}
		file := make([]byte, layout.HeaderSize+len(payload))
		h.Encode(file)
		copy(file[layout.HeaderSize:], payload)
		name := fmt.Sprintf("mpgo_fuzz_barrier_%d_%d", os.Getpid(), fuzzFiles.Add(1))
		path := "/dev/shm/" + name
		if err := os.WriteFile(path, file, 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		b, err := barrier.Open(name)
		if err != nil {
			if !errors.Is(err, barrier.ErrCorrupt) {
				t.Fatalf("Open of a damaged barrier: %v, want ErrCorrupt", err)
			}
			return
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			b.Status()
			b.NWaiting()
			b.Broken()
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			b.Wait(ctx)
			cancel()
			b.Close()
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("a barrier opened on planted bytes hung (payload % x)", payload)
		}
	})
}
