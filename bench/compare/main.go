package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/multiproc/multiproc/bench/internal/workload"
)

func main() {
	workload.Main() // a worker of a measurement runs its role here and exits
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// settings are the flags, as parsed.
type settings struct {
	Args       []string      `json:"args"`
	Quick      bool          `json:"quick"`
	Reps       int           `json:"repetitions"`
	Target     time.Duration `json:"target_ns"`
	Ops        int           `json:"ops,omitempty"`
	Only       string        `json:"only,omitempty"`
	Placements []string      `json:"placements"`
	Extra      bool          `json:"extra"`
	json       bool
	svg        string
	from       string
}

func parseFlags(args []string, stderr io.Writer) (*settings, error) {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./bench/compare [flags]\n\nRuns the same workloads in multiproc, Python's multiprocessing and C, interleaved,\nand prints one table of medians, spreads and ratios. Flags:")
		fs.PrintDefaults()
	}
	s := &settings{Args: args}
	fs.BoolVar(&s.Quick, "quick", false, "a run of about a minute: 3 repetitions of ~20ms per implementation (default: 5 of ~200ms)")
	reps := fs.Int("reps", 0, "repetitions of each implementation (overrides --quick's and the default)")
	target := fs.Duration("target", 0, "time each repetition aims at (overrides --quick's and the default)")
	fs.IntVar(&s.Ops, "ops", 0, "run this many ops in every repetition instead of calibrating each implementation to --target")
	fs.StringVar(&s.Only, "only", "", "run only the workloads whose name matches this regular expression (e.g. 'PingPong/obj=Event')")
	placements := fs.String("placements", "any,one,two", "CPU placements of the ping-pongs: any (unpinned), one (both on CPU 0), two (worker 0 on CPU 0, worker 1 on CPU 1, affinity set at process start)")
	fs.BoolVar(&s.Extra, "extra", false, "also run the variants (spin 0, Persistent, LockContext, TryAcquire, ...) that go test always runs")
	fs.BoolVar(&s.json, "json", false, "print the results as JSON instead of the table")
	fs.StringVar(&s.svg, "svg", "", "also write a chart (bars on a log scale, ratios written on multiproc's) to this SVG file")
	fs.StringVar(&s.from, "from", "", "measure nothing: show the results a --json run saved in this file (as the table, or with --svg as the chart)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	s.Reps, s.Target = 5, 200*time.Millisecond
	if s.Quick {
		s.Reps, s.Target = 3, 20*time.Millisecond
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "reps":
			s.Reps = *reps
		case "target":
			s.Target = *target
		}
	})
	if s.Reps < 1 || s.Reps > 100 {
		return nil, fmt.Errorf("--reps %d: want 1 to 100", s.Reps)
	}
	if s.Target < time.Millisecond || s.Target > time.Minute {
		return nil, fmt.Errorf("--target %v: want 1ms to 1m", s.Target)
	}
	if s.Ops < 0 {
		return nil, fmt.Errorf("--ops %d: want a positive count", s.Ops)
	}
	for _, p := range strings.Split(*placements, ",") {
		if _, err := workload.ParsePlacement(strings.TrimSpace(p)); err != nil {
			return nil, fmt.Errorf("--placements: %v", err)
		}
		s.Placements = append(s.Placements, strings.TrimSpace(p))
	}
	return s, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	s, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "compare:", err)
		return 2
	}
	var rep *report
	if s.from != "" {
		if rep, err = load(s.from); err != nil {
			fmt.Fprintln(stderr, "compare:", err)
			return 1
		}
	} else {
		ws, err := selectWorkloads(s)
		if err != nil {
			fmt.Fprintln(stderr, "compare:", err)
			return 2
		}
		env, err := workload.NewEnv()
		if err != nil {
			fmt.Fprintln(stderr, "compare:", err)
			return 1
		}
		defer env.Close()
		rep = &report{Settings: s, Machine: readMachine(env)}
		start := time.Now()
		rep.Workloads, rep.Notes = measureAll(ctx, env, s, ws, stderr)
		rep.Machine.LoadAfter = loadAverage()
		rep.Seconds = time.Since(start).Seconds()
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "compare: interrupted")
			return 1
		}
	}

	if s.svg != "" {
		if err := os.WriteFile(s.svg, []byte(chart(rep)), 0o644); err != nil {
			fmt.Fprintln(stderr, "compare:", err)
			return 1
		}
	}
	if s.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "compare:", err)
			return 1
		}
	} else {
		writeTable(stdout, rep)
	}
	if rep.failed() {
		return 1
	}
	return 0
}

// load reads a report a --json run wrote.
func load(path string) (*report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if r.Settings == nil {
		return nil, fmt.Errorf("%s: not the JSON of a compare run", path)
	}
	return &r, nil
}

// selectWorkloads applies --only and --placements.
func selectWorkloads(s *settings) ([]*workload.Workload, error) {
	var re *regexp.Regexp
	if s.Only != "" {
		var err error
		if re, err = regexp.Compile(s.Only); err != nil {
			return nil, fmt.Errorf("--only: %v", err)
		}
	}
	var out []*workload.Workload
	for _, w := range workload.Match(re) {
		if placed(w) && !contains(s.Placements, string(w.Placement)) {
			continue
		}
		out = append(out, w)
	}
	if len(out) == 0 {
		var names []string
		for _, w := range workload.All() {
			names = append(names, w.Name())
		}
		return nil, fmt.Errorf("no workload matches --only %q and --placements %s; the workloads are:\n  %s",
			s.Only, strings.Join(s.Placements, ","), strings.Join(names, "\n  "))
	}
	return out, nil
}

// placed reports whether w is run in several placements (it has a cpus
// parameter).
func placed(w *workload.Workload) bool {
	for _, p := range w.Params {
		if p.Key == "cpus" {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
