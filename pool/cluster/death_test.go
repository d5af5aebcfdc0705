package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/pool"
)

// blockArg drives block: a task that leaves a mark in Dir while it runs
// (run.X.PID) and for good once it has started (ran.X.PID), then blocks
// until its ctx ends if Block says so — only on its first run, if
// FirstOnly — or sleeps Sleep.
type blockArg struct {
	X         int
	Dir       string
	Block     bool
	FirstOnly bool
	Sleep     time.Duration
}

var block = pool.RegisterName("cluster_test.block", func(ctx context.Context, a blockArg) (int, error) {
	ranBefore := len(ranBy(a.Dir, a.X)) > 0
	pid := strconv.Itoa(os.Getpid())
	mark := filepath.Join(a.Dir, fmt.Sprintf("run.%d.%s", a.X, pid))
	os.WriteFile(filepath.Join(a.Dir, fmt.Sprintf("ran.%d.%s", a.X, pid)), nil, 0o600)
	os.WriteFile(mark, nil, 0o600)
	defer os.Remove(mark)
	wait := a.Sleep
	if a.Block && !(a.FirstOnly && ranBefore) {
		wait = time.Hour // until its ctx ends, or its worker is killed
	}
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(wait):
	}
	return a.X * a.X, nil
})

// running lists the tasks running now: "X.PID".
func running(t *testing.T, dir string) []string {
	t.Helper()
	ms, _ := filepath.Glob(filepath.Join(dir, "run.*"))
	for i, m := range ms {
		ms[i] = strings.TrimPrefix(filepath.Base(m), "run.")
	}
	return ms
}

// ranBy lists the pids that started task x.
func ranBy(dir string, x int) []int {
	ms, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("ran.%d.*", x)))
	var pids []int
	for _, m := range ms {
		pid, _ := strconv.Atoi(filepath.Ext(m)[1:])
		pids = append(pids, pid)
	}
	return pids
}

// killWhileRunning runs a Map of n tasks, one a chunk, task target
// blocking on its first run, and SIGKILLs the worker running it.
func killWhileRunning(t *testing.T, c *cluster, dir string, n, target int) ([]int, error, int) {
	xs := make([]blockArg, n)
	for i := range xs {
		xs[i] = blockArg{X: i, Dir: dir, Sleep: 5 * time.Millisecond, Block: i == target, FirstOnly: true}
	}
	ctx := proctest.Context(t)
	done := make(chan struct{})
	var out []int
	var err error
	go func() {
		defer close(done)
		out, err = block.Map(ctx, c.pool, xs, pool.Chunksize(1))
	}()
	var victim int
	eventually(t, "task "+strconv.Itoa(target)+" never started", func() bool {
		pids := ranBy(dir, target)
		if len(pids) > 0 {
			victim = pids[0]
		}
		return victim != 0
	})
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done
	return out, err, victim
}

func TestWorkerKilledMidTaskIsRedeliveredAndEachResultComesOnce(t *testing.T) {
	c := newCluster(t, 3, nil, nil)
	const n, target = 60, 20
	dir := t.TempDir()
	out, err, victim := killWhileRunning(t, c, dir, n, target)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		if v != i*i {
			t.Fatalf("out[%d] = %d, want %d", i, v, i*i)
		}
	}
	// It ran again after the ack deadline, elsewhere (more than once
	// more only if a loaded machine stalled a worker past the deadline).
	if pids := ranBy(dir, target); len(pids) < 2 || !slices.Contains(pids, victim) {
		t.Errorf("task %d started in pids %v, want the victim's (%d) and another", target, pids, victim)
	}
	t.Logf("worker pid %d killed mid-task; the map completed exactly", victim)
}

func TestWorkerKilledWithDeliveryLimit1FailsThatTaskOnly(t *testing.T) {
	c := newCluster(t, 3, nil, []Option{MaxDeliver(1)})
	const n, target = 30, 10
	dir := t.TempDir()
	out, err, victim := killWhileRunning(t, c, dir, n, target)
	if pids := ranBy(dir, target); len(pids) != 1 {
		t.Errorf("task %d started in pids %v, want only the victim's: it must never run twice", target, pids)
	}
	var me *pool.MapError
	if !errors.As(err, &me) || len(me.Failed) != 1 {
		t.Fatalf("Map = %v, want a MapError with one failure", err)
	}
	var wde *pool.WorkerDiedError
	if !errors.Is(err, pool.ErrWorkerDied) || !errors.As(err, &wde) || wde.Index != target || wde.PID != victim {
		t.Fatalf("the failure is %v, want task %d's ErrWorkerDied naming pid %d", me.Failed[0], target, victim)
	}
	t.Log(wde)
	for i, v := range out {
		if i != target && v != i*i {
			t.Fatalf("out[%d] = %d, want %d", i, v, i*i)
		}
	}
}
