package cluster

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/pool"
)

func TestServerRestartMidMapLosesNothing(t *testing.T) {
	c := newCluster(t, 3, nil, nil)
	dir := t.TempDir()
	xs := make([]blockArg, 3000)
	for i := range xs {
		xs[i] = blockArg{X: i, Dir: dir, Sleep: 2 * time.Millisecond}
	}
	// The restart happens inside the progress callback, which runs on the
	// caller's goroutine while the map is under way: so it is mid-map
	// however fast or slow the machine. Results keep arriving meanwhile
	// (the pool's engine does not wait for the callback).
	var restartErr error
	at := 0
	out, err := block.Map(proctest.Context(t), c.pool, xs, pool.Chunksize(20), pool.WithProgress(func(p pool.Progress) {
		if at == 0 && p.Done > len(xs)/10 && p.Done < p.Total {
			at = p.Done
			restartErr = srv.Restart()
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if at == 0 {
		t.Fatal("no progress report fell mid-map: the server never restarted")
	}
	if restartErr != nil {
		t.Fatal(restartErr)
	}
	for i, v := range out {
		if v != i*i {
			t.Fatalf("out[%d] = %d, want %d", i, v, i*i)
		}
	}
	t.Logf("the server restarted with %d of %d tasks done; the map completed exactly", at, len(xs))
}

func TestWorkerOfAnotherBuildRefusesWithAClearError(t *testing.T) {
	logFile, err := os.CreateTemp(t.TempDir(), "workers-stderr")
	if err != nil {
		t.Fatal(err)
	}
	testWorkerStderr = logFile
	defer func() { testWorkerStderr = nil }()
	c := newCluster(t, 2, []Option{fingerprintSalt("another build")}, nil)
	xs := []int{1, 2, 3, 4, 5, 6, 7, 8}
	out, err := square.Map(proctest.Context(t), c.pool, xs, pool.Chunksize(2))
	var me *pool.MapError
	if !errors.As(err, &me) || len(me.Failed) != len(xs) {
		t.Fatalf("Map = %v, want every task refused", err)
	}
	for i, e := range me.Failed {
		var te *pool.TaskError
		if !errors.Is(e, ErrBuildMismatch) || !errors.As(e, &te) || te.Index != i || !strings.Contains(te.Message, "fingerprint") {
			t.Fatalf("failure %d: %v, want task %d's ErrBuildMismatch naming the fingerprints", i, e, i)
		}
	}
	for i, v := range out {
		if v != 0 {
			t.Fatalf("out[%d] = %d: a refused task has a result", i, v)
		}
	}
	t.Log(me.Failed[0])
	b, _ := os.ReadFile(logFile.Name())
	if !strings.Contains(string(b), "refusing the tasks of pool") || !strings.Contains(string(b), "fingerprint") {
		t.Fatalf("the workers' log says %q, want a line refusing the pool's tasks", b)
	}
	t.Logf("the workers' log: %s", strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
}
