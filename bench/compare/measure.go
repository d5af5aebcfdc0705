package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/multiproc/multiproc/bench/internal/workload"
)

// report is everything one run found: what the table, the chart and the
// JSON show.
type report struct {
	Machine   machine          `json:"machine"`
	Settings  *settings        `json:"settings"`
	Seconds   float64          `json:"seconds"`
	Workloads []workloadResult `json:"workloads"`
	Notes     []string         `json:"notes,omitempty"`
}

type workloadResult struct {
	Name      string `json:"name"`
	Family    string `json:"family"`
	Op        string `json:"op"`
	Detail    string `json:"detail,omitempty"`
	Placement string `json:"placement"`
	Pending   string `json:"pending,omitempty"`
	Rows      []row  `json:"rows"`
}

// row is one implementation's measurements in one workload.
type row struct {
	System string `json:"system"`
	Impl   string `json:"impl"`
	Desc   string `json:"desc"`
	Extra  bool   `json:"extra,omitempty"`
	Ours   bool   `json:"ours,omitempty"`
	// Home is the workload the impl was measured in, when not this one.
	Home string `json:"measured_in,omitempty"`
	// Ops and NsPerOp are each repetition's ops and result.
	Ops     []int     `json:"ops,omitempty"`
	NsPerOp []float64 `json:"ns_per_op,omitempty"`
	Median  float64   `json:"median_ns,omitempty"`
	Min     float64   `json:"min_ns,omitempty"`
	Max     float64   `json:"max_ns,omitempty"`
	// Spread is the median absolute deviation of the repetitions over
	// their median: ±Spread×100 %. Unlike the range (Min, Max), one
	// repetition that another process preempted does not inflate it.
	Spread float64 `json:"spread,omitempty"`
	// Ratio is multiproc's median over this row's: below 1, multiproc
	// is faster.
	Ratio   float64               `json:"ours_over_this,omitempty"`
	Workers []workload.WorkerInfo `json:"go_workers,omitempty"`
	Skipped string                `json:"skipped,omitempty"`
	Error   string                `json:"error,omitempty"`
}

func (r *report) failed() bool {
	for _, w := range r.Workloads {
		for _, row := range w.Rows {
			if row.Error != "" {
				return true
			}
		}
	}
	return false
}

// measurement is one implementation's progress through the run.
type measurement struct {
	im      *workload.Impl
	n       int // ops of the next repetition
	ops     []int
	ns      []float64
	workers []workload.WorkerInfo
	skipped string
	err     error
}

// measureAll calibrates every implementation the workloads show, then
// measures them all in turn, s.Reps times over: the systems interleave,
// so a change in the machine's load touches all of them alike.
func measureAll(ctx context.Context, env *workload.Env, s *settings, ws []*workload.Workload, progress io.Writer) ([]workloadResult, []string) {
	// A repetition aims at s.Target; one that runs a hundred times over
	// (plus start-up) is hung, and the run goes on without it.
	env.Timeout = 20*time.Second + 100*s.Target
	var order []*measurement
	byImpl := map[*workload.Impl]*measurement{}
	for _, w := range ws {
		for _, im := range w.Impls {
			if im.Extra && !s.Extra || byImpl[im] != nil {
				continue
			}
			m := &measurement{im: im}
			byImpl[im] = m
			order = append(order, m)
		}
	}
	t0 := time.Now()
	impls := make([]*workload.Impl, len(order))
	for i, m := range order {
		impls[i] = m.im
	}
	fmt.Fprintf(progress, "compare: %d workloads, %d implementations: building the C programs\n", len(ws), len(order))
	env.Prebuild(impls)
	if s.Ops == 0 {
		fmt.Fprintf(progress, "compare: calibrating (%.0f s so far)\n", time.Since(t0).Seconds())
	}
	for _, m := range order {
		if ctx.Err() != nil {
			break
		}
		if m.n = s.Ops; m.n == 0 {
			m.n, m.err = calibrate(ctx, env, m.im, s.Target)
		} else {
			m.err = env.Check(m.im)
		}
		if errors.Is(m.err, workload.ErrSkipped) {
			m.skipped, m.err = strings.TrimSuffix(m.err.Error(), ": "+workload.ErrSkipped.Error()), nil
		}
	}
	for rep := range s.Reps {
		fmt.Fprintf(progress, "compare: repetition %d of %d (%.0f s so far)\n", rep+1, s.Reps, time.Since(t0).Seconds())
		for _, m := range order {
			if ctx.Err() != nil || m.err != nil || m.skipped != "" {
				continue
			}
			r, err := m.im.Measure(ctx, env, m.n, nil)
			if err != nil {
				m.err = err
				continue
			}
			m.ops, m.ns = append(m.ops, r.N), append(m.ns, r.NsPerOp)
			m.workers = r.Workers
			// Some ops are bimodal (a handoff across CPUs runs at µs
			// while both spin and at tens of µs once one sleeps), so the
			// pilot may have seen the fast mode: a repetition that ran
			// past twice the target sets the next one's ops by its speed.
			if took := r.NsPerOp * float64(r.N); s.Ops == 0 && took > 2*float64(s.Target.Nanoseconds()) {
				m.n = max(minOps(m.im), int(float64(s.Target.Nanoseconds())/r.NsPerOp))
			}
		}
	}

	var notes []string
	var results []workloadResult
	for _, w := range ws {
		wr := workloadResult{Name: w.Name(), Family: w.Family, Op: w.Op, Detail: w.Detail, Placement: string(w.Placement), Pending: w.Pending}
		ours := w.Ours()
		var oursMedian float64
		if m := byImpl[ours]; m != nil && m.err == nil && len(m.ns) > 0 {
			oursMedian = median(m.ns)
		}
		for _, im := range w.Impls {
			m := byImpl[im]
			if m == nil {
				continue
			}
			r := row{System: string(im.System), Impl: im.ID, Desc: im.Desc, Extra: im.Extra, Ours: im == ours, Ops: m.ops, Skipped: m.skipped}
			if im.Home != w {
				r.Home = im.Home.Name()
			}
			if m.err != nil {
				r.Error = m.err.Error()
			}
			if len(m.ns) > 0 {
				r.NsPerOp = m.ns
				r.Median, r.Min, r.Max = median(m.ns), slices.Min(m.ns), slices.Max(m.ns)
				r.Spread = mad(m.ns) / r.Median
				if oursMedian > 0 && im != ours {
					r.Ratio = oursMedian / r.Median
				}
				r.Workers = m.workers
			}
			if m.skipped != "" && !slices.Contains(notes, m.skipped) {
				notes = append(notes, m.skipped)
			}
			wr.Rows = append(wr.Rows, r)
		}
		sort.SliceStable(wr.Rows, func(i, j int) bool { return systemRank(wr.Rows[i].System) < systemRank(wr.Rows[j].System) })
		results = append(results, wr)
	}
	return results, notes
}

func systemRank(s string) int {
	for i, x := range workload.Systems {
		if string(x) == s {
			return i
		}
	}
	return len(workload.Systems)
}

// calibrate picks the ops of a repetition so that it takes about target:
// a pilot of 100 ops (the workload's MinOps, for slow ones), which also
// builds what the impl needs and warms it up, and a second, longer pilot
// when the first was too short to trust. A workload whose ops come in
// whole calls (a Map's items) may run more ops than asked (Result.N).
func calibrate(ctx context.Context, env *workload.Env, im *workload.Impl, target time.Duration) (int, error) {
	n := 100
	if im.Home.MinOps > 0 {
		n = im.Home.MinOps
	}
	for range 3 {
		r, err := im.Measure(ctx, env, n, nil)
		if err != nil {
			return 0, err
		}
		want := int(math.Min(float64(target.Nanoseconds())/r.NsPerOp, 1e8))
		if r.NsPerOp*float64(r.N) >= float64(target.Nanoseconds())/20 || want <= r.N {
			return max(want, minOps(im)), nil
		}
		n = max(want/10, r.N+1)
	}
	return n * 10, nil
}

// minOps is the fewest ops of a repetition of im.
func minOps(im *workload.Impl) int {
	if im.Home.MinOps > 0 {
		return im.Home.MinOps
	}
	return 10
}

// mad is the median absolute deviation from the median.
func mad(xs []float64) float64 {
	m := median(xs)
	dev := make([]float64, len(xs))
	for i, x := range xs {
		dev[i] = math.Abs(x - m)
	}
	return median(dev)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
