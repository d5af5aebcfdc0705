package workload

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/proctest"
)

func TestMain(m *testing.M) {
	Main()
	os.Exit(m.Run())
}

func init() {
	register("test-probe", func(w worker) (func() error, func(), error) {
		return func() error { return nil }, func() {}, nil
	})
	register("test-fail", func(w worker) (func() error, func(), error) {
		return func() error { return errors.New("the role failed on purpose") }, func() {}, nil
	})
	register("test-fail-one", func(w worker) (func() error, func(), error) {
		if w.Index == 1 {
			return func() error { return errors.New("worker 1 failed on purpose") }, func() {}, nil
		}
		return func() error { time.Sleep(time.Hour); return nil }, func() {}, nil
	})
	register("test-hang", func(w worker) (func() error, func(), error) {
		return func() error { time.Sleep(time.Hour); return nil }, func() {}, nil
	})
}

func newEnv(t *testing.T) *Env {
	e, err := NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// testImpl runs role in procs Go workers placed as pl.
func testImpl(role string, procs int, pl Placement) *Impl {
	w := &Workload{Family: "Test", Placement: pl}
	return w.add(mp("test", role, workers(role, procs, false, pl, func() (*shared, error) {
		return &shared{close: func() {}}, nil
	})))
}

func TestCatalogNamesAreUniqueAndComplete(t *testing.T) {
	names := map[string]bool{}
	for _, w := range All() {
		name := w.Name()
		if names[name] {
			t.Errorf("workload %s twice", name)
		}
		names[name] = true
		if strings.ContainsAny(name, " \t") {
			t.Errorf("workload %q: a benchmark name has no spaces", name)
		}
		if w.Op == "" {
			t.Errorf("%s says nothing of what one op is", name)
		}
		if w.Ours() == nil && w.Pending == "" {
			t.Errorf("%s has no multiproc impl and says nothing of when it gets one", name)
		}
		ids := map[string]bool{}
		for _, im := range w.Impls {
			if im.Home == w {
				if ids[im.ID] {
					t.Errorf("%s: impl %s twice", name, im.ID) // go test's names would collide
				}
				ids[im.ID] = true
			}
			if strings.ContainsAny(im.ID, " \t/=") {
				t.Errorf("%s: impl ID %q is not benchstat-safe", name, im.ID)
			}
			if im.Home == nil || !contains(im.Home.Impls, im) {
				t.Errorf("%s/impl=%s: its home workload does not list it", name, im.ID)
			}
			want := map[System]string{C: "gcc", Python: "python3"}[im.System]
			if im.Needs != want {
				t.Errorf("%s/impl=%s: needs %q, want %q", name, im.ID, im.Needs, want)
			}
		}
	}
	for _, obj := range []string{"Lock", "Condition", "Event", "Semaphore", "Barrier"} {
		for _, pl := range Placements {
			if !names["PingPong/obj="+obj+"/cpus="+string(pl)] {
				t.Errorf("no ping-pong of %s in placement %s", obj, pl)
			}
		}
	}
}

func contains(impls []*Impl, im *Impl) bool {
	for _, x := range impls {
		if x == im {
			return true
		}
	}
	return false
}

// A worker's affinity is set before it starts, so its Go runtime sizes
// GOMAXPROCS from it: what taskset(1) does, and what pinning a thread of a
// running process never does.
func TestPlacementSetsAffinityAtStart(t *testing.T) {
	own := allowedCPUs()
	if len(own) < 2 {
		t.Skip("one CPU")
	}
	e := newEnv(t)
	first, second := strconv.Itoa(own[0]), strconv.Itoa(own[1])
	for _, tc := range []struct {
		pl   Placement
		want []WorkerInfo
	}{
		{OneCPU, []WorkerInfo{{1, first}, {1, first}}},
		{TwoCPUs, []WorkerInfo{{1, first}, {1, second}}},
	} {
		r, err := testImpl("test-probe", 2, tc.pl).Measure(context.Background(), e, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range r.Workers {
			if w != tc.want[i] {
				t.Errorf("placement %s, worker %d: GOMAXPROCS %d on CPUs %s, want %d on %s", tc.pl, i, w.GOMAXPROCS, w.CPUs, tc.want[i].GOMAXPROCS, tc.want[i].CPUs)
			}
		}
	}
	r, err := testImpl("test-probe", 1, Anywhere).Measure(context.Background(), e, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Workers[0].GOMAXPROCS; got != runtime.GOMAXPROCS(0) {
		t.Errorf("unpinned worker: GOMAXPROCS %d, want this process's %d", got, runtime.GOMAXPROCS(0))
	}
}

// One implementation of each kind (in this process, Go workers, C,
// Python) measures, and its workers' final state is checked.
func TestMeasureEachKind(t *testing.T) {
	proctest.CheckShm(t)
	e := newEnv(t)
	for _, tc := range []struct{ workload, id string }{
		{"Uncontended/op=Lock", "multiproc"},
		{"Counter/procs=2", "multiproc"},
		{"PingPong/obj=Event/cpus=two", "multiproc"},
		{"Uncontended/op=Lock", "c-pthread"},
		{"Counter/procs=2", "c-pthread"},
		{"Uncontended/op=Lock", "python"},
	} {
		t.Run(tc.workload+"/impl="+tc.id, func(t *testing.T) {
			im := findImpl(t, tc.workload, tc.id)
			r, err := im.Measure(context.Background(), e, 200, nil)
			if errors.Is(err, ErrSkipped) {
				t.Skip(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.NsPerOp <= 0 || r.N != 200 {
				t.Errorf("measured %v ns/op over %d ops", r.NsPerOp, r.N)
			}
		})
	}
}

// The Pool's workloads measure, through package pool's workers (this test
// binary re-executed: TestMain's Main is pool.Init), and a Map's
// measurement runs whole Maps, so it may measure more ops than asked.
func TestPoolWorkloads(t *testing.T) {
	proctest.CheckShm(t)
	e := newEnv(t)
	for _, tc := range []struct {
		workload, id string
		n, want      int
	}{
		{"Pool/op=Map/items=1e5/chunksize=default", "multiproc", 1, 100_000},
		{"Pool/op=Map/items=1e5/chunksize=default", "go-pool", 100_001, 200_000},
		{"Pool/op=Map/items=1e4/chunksize=1", "python-fork", 10_000, 10_000},
		{"Pool/op=Apply", "multiproc", 20, 20},
		{"Pool/op=StartClose/workers=2", "multiproc", 2, 2},
		{"Pool/op=ProcessStartWait", "multiproc", 2, 2},
		{"Pool/op=ProcessStartWait", "go-reexec", 2, 2},
	} {
		t.Run(tc.workload+"/impl="+tc.id, func(t *testing.T) {
			im := findImpl(t, tc.workload, tc.id)
			r, err := im.Measure(context.Background(), e, tc.n, nil)
			if errors.Is(err, ErrSkipped) {
				t.Skip(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.NsPerOp <= 0 || r.N != tc.want {
				t.Errorf("asked for %d ops: measured %v ns/op over %d, want over %d", tc.n, r.NsPerOp, r.N, tc.want)
			}
		})
	}
}

func findImpl(t *testing.T, workload, id string) *Impl {
	t.Helper()
	for _, w := range All() {
		if w.Name() == workload {
			for _, im := range w.Impls {
				if im.ID == id {
					return im
				}
			}
		}
	}
	t.Fatalf("no %s/impl=%s", workload, id)
	return nil
}

func TestWorkerFailureIsAnError(t *testing.T) {
	_, err := testImpl("test-fail", 2, Anywhere).Measure(context.Background(), newEnv(t), 10, nil)
	if err == nil || !strings.Contains(err.Error(), "the role failed on purpose") {
		t.Fatalf("Measure: %v, want the worker's error", err)
	}
}

// A worker that fails while its peer waits for it forever (as a
// ping-pong's would) ends the measurement at once, not at the timeout.
func TestFailureDoesNotWaitForThePeer(t *testing.T) {
	start := time.Now()
	_, err := testImpl("test-fail-one", 2, Anywhere).Measure(context.Background(), newEnv(t), 10, nil)
	if err == nil || !strings.Contains(err.Error(), "worker 1 failed on purpose") {
		t.Fatalf("Measure: %v, want worker 1's error", err)
	}
	if d := time.Since(start); d > DefaultTimeout/10 {
		t.Errorf("Measure took %v to report the failure", d)
	}
}

func TestHungWorkerTimesOut(t *testing.T) {
	e := newEnv(t)
	e.Timeout = time.Second
	start := time.Now()
	_, err := testImpl("test-hang", 2, Anywhere).Measure(context.Background(), e, 10, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Measure: %v, want a deadline error", err)
	}
	if !strings.Contains(err.Error(), "goroutine") {
		t.Errorf("the error does not carry the hung worker's goroutine dump:\n%v", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("Measure took %v to give up after a 1 s timeout", d)
	}
}

func TestForeignProgramFailureIsAnError(t *testing.T) {
	e := newEnv(t)
	if e.GCC == "" {
		t.Skip("no gcc")
	}
	w := &Workload{Family: "Test", Placement: Anywhere}
	im := w.add(cProg("c-bad", "an unknown mode", "futex", "no-such-mode", "", 2, 0, Anywhere))
	_, err := im.Measure(context.Background(), e, 10, nil)
	if err == nil || !strings.Contains(err.Error(), "unknown mode") {
		t.Fatalf("Measure: %v, want the program's message", err)
	}
}
