package workload

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// A System is who runs an implementation of a workload.
type System string

const (
	// Multiproc is this module, through its public API.
	Multiproc System = "multiproc"
	// Go is the in-process floor (sync.Mutex, channels, a goroutine pool)
	// and other Go libraries.
	Go System = "go"
	// C is a bundled C program built with gcc at run time.
	C System = "c"
	// Python is CPython's multiprocessing, in a bundled script run with
	// python3.
	Python System = "python"
)

// Systems lists the systems in the order the tool shows them.
var Systems = []System{Multiproc, Go, C, Python}

// A Placement says where the worker processes of a workload run.
type Placement string

// "CPU 0" and "CPU 1" below are the first two CPUs this process may run
// on (its affinity at start), which are CPUs 0 and 1 unless it was itself
// started pinned or in a cpuset.
const (
	// Anywhere leaves every process to the scheduler (no affinity set).
	Anywhere Placement = "any"
	// OneCPU starts every worker on CPU 0.
	OneCPU Placement = "one"
	// TwoCPUs starts worker 0 (the "parent" side) on CPU 0 and worker 1
	// on CPU 1. A Go worker then has GOMAXPROCS 1.
	TwoCPUs Placement = "two"
)

// Placements lists every placement, in the order they are run.
var Placements = []Placement{Anywhere, OneCPU, TwoCPUs}

// CPUs returns the CPU of each of procs workers under p, -1 for none.
func (p Placement) CPUs(procs int) []int {
	own := allowedCPUs()
	cpus := make([]int, procs)
	for i := range cpus {
		switch {
		case p == OneCPU && len(own) > 0:
			cpus[i] = own[0]
		case p == TwoCPUs && len(own) > 1:
			cpus[i] = own[i%2]
		default:
			cpus[i] = -1
		}
	}
	return cpus
}

// allowedCPUs lists the CPUs this process may run on, read once.
var allowedCPUs = sync.OnceValue(func() []int {
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) != nil {
		return nil
	}
	var cpus []int
	for i := range 1024 {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	return cpus
})

// ParsePlacement returns the placement named s.
func ParsePlacement(s string) (Placement, error) {
	for _, p := range Placements {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("workload: unknown placement %q (want any, one or two)", s)
}

// A Param is one key=value part of a workload's name.
type Param struct{ Key, Value string }

// A Workload is one thing measured, in the same way, by every system that
// has an implementation of it: one op is the same unit of work for all.
type Workload struct {
	// Family groups workloads: it is the go test benchmark's name without
	// "Benchmark" (Uncontended, Counter, PingPong, ...).
	Family string
	// Params are the rest of the name, in order (op=Lock, procs=2, cpus=two).
	Params []Param
	// Op says in words what one op is, the same for the whole family, and
	// Detail what is particular to this workload ("" if nothing), for the
	// table's legend.
	Op, Detail string
	// Placement is where the workers run (Anywhere for single-process
	// workloads). It is also the "cpus" param when Params has one.
	Placement Placement
	// Impls are the implementations measured, ours first. Some are
	// measured in another workload (Home) and shown here for the ratio.
	Impls []*Impl
	// Pending names what is not built yet and will add the multiproc row
	// (a workload that only has baselines today).
	Pending string
	// MinOps, if set, is the fewest ops a repetition of the compare tool
	// runs, and the size of its first pilot (otherwise 10 and 100): for
	// ops that take milliseconds to a second, as a Python Pool's start
	// with spawn does, where one op is already a measurement.
	MinOps int
}

// Name is the workload's name, "Family/key=value/...": the go test
// sub-benchmark's name without the impl.
func (w *Workload) Name() string {
	var b strings.Builder
	b.WriteString(w.Family)
	for _, p := range w.Params {
		fmt.Fprintf(&b, "/%s=%s", p.Key, p.Value)
	}
	return b.String()
}

// Ours returns the multiproc implementation the ratios are taken against:
// the first Multiproc impl, or nil.
func (w *Workload) Ours() *Impl {
	for _, im := range w.Impls {
		if im.System == Multiproc {
			return im
		}
	}
	return nil
}

// An Impl is one system's implementation of a workload.
type Impl struct {
	System System
	// ID names it in benchmark names ("impl=c-pthread-robust"):
	// benchstat-safe, unique within its workload.
	ID string
	// Desc says what it is, for the table ("pthread mutex, robust").
	Desc string
	// Extra marks a variant (spin=0, Persistent, LockContext) that go test
	// always runs and the compare tool runs only when asked.
	Extra bool
	// Home is the workload this impl belongs to; it is measured once per
	// repetition however many workloads show it.
	Home *Workload
	// Needs names the tool it needs ("gcc", "python3"), or "".
	Needs string

	run runner
}

// A runner measures n ops: inProcess, goWorkers or foreign. It starts t
// when the timed part begins and stops it when it ends.
type runner interface {
	run(ctx context.Context, e *Env, n int, t Timer) (Result, error)
}

// A Timer is told when the timed part of a measurement starts and stops:
// a *testing.B, so that go test sizes b.N from the ops alone, not from
// worker start-up or a build of a C program.
type Timer interface {
	StartTimer()
	StopTimer()
}

type noTimer struct{}

func (noTimer) StartTimer() {}
func (noTimer) StopTimer()  {}

// Result is one measurement.
type Result struct {
	// NsPerOp is the time of one op in nanoseconds, as the implementation
	// measured it (worker start-up is never included).
	NsPerOp float64
	// N is the number of ops measured: those asked for, or more when
	// the ops come in whole calls (a Map's items).
	N int
	// Workers describes each Go worker process as it saw itself (empty
	// for other systems and for in-process runs).
	Workers []WorkerInfo
}

// WorkerInfo is what a Go worker process reported about itself before the
// timed part: its GOMAXPROCS and the CPUs it may run on.
type WorkerInfo struct {
	GOMAXPROCS int
	CPUs       string
}

// ErrSkipped wraps the reason an implementation cannot run here (no gcc,
// no python3, one CPU).
var ErrSkipped = errors.New("skipped")

// Measure runs n ops of im and returns the measurement. An error wrapping
// ErrSkipped says why im cannot run on this machine. t, if not nil, is
// started and stopped around the timed part (it should be stopped on
// entry).
func (im *Impl) Measure(ctx context.Context, e *Env, n int, t Timer) (Result, error) {
	if t == nil {
		t = noTimer{}
	}
	if n < 1 {
		return Result{}, fmt.Errorf("workload: %d ops: want at least 1", n)
	}
	if err := e.Check(im); err != nil {
		return Result{}, err
	}
	r, err := im.run.run(ctx, e, n, t)
	if err != nil {
		return r, fmt.Errorf("%s/impl=%s: %w", im.Home.Name(), im.ID, err)
	}
	if r.N == 0 {
		r.N = n
	}
	return r, nil
}

// Match returns the workloads whose name matches re (all for nil).
func Match(re *regexp.Regexp) []*Workload {
	var out []*Workload
	for _, w := range All() {
		if re == nil || re.MatchString(w.Name()) {
			out = append(out, w)
		}
	}
	return out
}

// Family returns the workloads of one family, in catalog order.
func Family(name string) []*Workload {
	var out []*Workload
	for _, w := range All() {
		if w.Family == name {
			out = append(out, w)
		}
	}
	return out
}
