package bench

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkPython runs the same uncontended operations in CPython's
// multiprocessing (spawn context) for the side-by-side ratios in the
// README: the loop of b.N operations runs inside Python, and the time it
// reports, divided by b.N, is the ns/op. It skips without python3.
func BenchmarkPython(b *testing.B) {
	py, err := exec.LookPath("python3")
	if err != nil {
		b.Skip("python3 not found; no Python baseline")
	}
	for _, what := range []string{"lock", "rlock", "semaphore", "value"} {
		b.Run(what, func(b *testing.B) {
			out, err := exec.Command(py, "testdata/pybaseline.py", what, strconv.Itoa(b.N)).Output()
			if err != nil {
				b.Fatalf("python3: %v", err)
			}
			secs, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
			if err != nil {
				b.Fatalf("python3 printed %q", out)
			}
			b.ReportMetric(float64(time.Duration(secs*float64(time.Second)))/float64(b.N), "ns/op")
		})
	}
}
