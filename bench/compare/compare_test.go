package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/bench/internal/workload"
	"github.com/multiproc/multiproc/internal/proctest"
)

func TestMain(m *testing.M) {
	workload.Main() // the tool's workers are this test binary re-executed
	os.Exit(m.Run())
}

// smokeOnly picks one workload of each family, small ones.
var smokeOnly = []string{
	"Uncontended/op=Lock",
	"Counter/procs=2",
	"PingPong/obj=Event/cpus=two",
	"Barrier/procs=4",
	"Value/op=Add/procs=2",
	"Create/obj=Lock",
	"Open/obj=Segment1MiB",
	"Queue/items=int64/procs=1x1",
	"Pool/op=Apply",
}

// TestSmoke runs the tool as CI would, one workload per family, and checks
// that it runs and that its JSON, table and chart parse; never its figures.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("runs C, Python and Go workers")
	}
	proctest.CheckShm(t)
	if got, want := len(smokeOnly), len(workload.Families()); got != want {
		t.Fatalf("the smoke run covers %d families of %d", got, want)
	}
	svg := filepath.Join(t.TempDir(), "chart.svg")
	only := "^(" + strings.Join(smokeOnly, "|") + ")$"
	var out, errs bytes.Buffer
	args := []string{"--quick", "--reps", "1", "--ops", "20", "--only", only, "--json", "--svg", svg}
	if code := run(context.Background(), args, &out, &errs); code != 0 {
		t.Fatalf("compare %q: exit %d\n%s\n%s", args, code, errs.String(), out.String())
	}

	var rep report
	dec := json.NewDecoder(bytes.NewReader(out.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("the JSON does not parse: %v", err)
	}
	if rep.Machine.CPU == "" || rep.Machine.Kernel == "" || rep.Machine.Go == "" || rep.Machine.LoadBefore == "" || rep.Machine.LoadAfter == "" {
		t.Errorf("machine header incomplete: %+v", rep.Machine)
	}
	var names []string
	for _, w := range rep.Workloads {
		names = append(names, w.Name)
		measured := 0
		for _, r := range w.Rows {
			switch {
			case r.Error != "":
				t.Errorf("%s/impl=%s failed: %s", w.Name, r.Impl, r.Error)
			case r.Skipped != "":
				t.Logf("%s/impl=%s skipped: %s", w.Name, r.Impl, r.Skipped)
			case len(r.NsPerOp) != 1 || r.Median <= 0:
				t.Errorf("%s/impl=%s: %d repetitions, median %v", w.Name, r.Impl, len(r.NsPerOp), r.Median)
			default:
				measured++
			}
			if r.Ours && r.Ratio != 0 || !r.Ours && r.Median > 0 && w.Pending == "" && r.Ratio <= 0 {
				t.Errorf("%s/impl=%s: ratio %v", w.Name, r.Impl, r.Ratio)
			}
		}
		if measured == 0 {
			t.Errorf("%s: nothing measured", w.Name)
		}
	}
	if strings.Join(names, " ") != strings.Join(smokeOnly, " ") {
		t.Errorf("workloads %v, want %v", names, smokeOnly)
	}

	data, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	if err := wellFormed(data); err != nil {
		t.Errorf("the SVG is not well-formed XML: %v", err)
	}
	for _, name := range smokeOnly {
		if !bytes.Contains(data, []byte(strings.TrimPrefix(name, name[:strings.Index(name, "/")+1]))) {
			t.Errorf("the chart does not name %s", name)
		}
	}

	// The table, from the same results.
	saved := filepath.Join(t.TempDir(), "results.json")
	if err := os.WriteFile(saved, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	if code := run(context.Background(), []string{"--from", saved}, &table, &errs); code != 0 {
		t.Fatalf("compare --from: exit %d\n%s", code, errs.String())
	}
	for _, want := range append([]string{"machine", "load", "ours÷"}, smokeOnly...) {
		if !strings.Contains(table.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, table.String())
		}
	}
}

func wellFormed(data []byte) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		if _, err := d.Token(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--only", "("},
		{"--only", "^NoSuchWorkload$"},
		{"--placements", "three"},
		{"--reps", "0"},
		{"--ops", "-1"},
		{"stray"},
	} {
		var out, errs bytes.Buffer
		if code := run(context.Background(), args, &out, &errs); code != 2 || errs.Len() == 0 {
			t.Errorf("compare %q: exit %d, stderr %q; want 2 and a message", args, code, errs.String())
		}
	}
}
