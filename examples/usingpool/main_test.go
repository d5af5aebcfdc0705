package main

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/examples/internal/seedtest"
)

// python is what testdata/seed.py, the Python original, printed in one
// run. Lines 2-11 come in any order, and the pids are the workers' of
// that run.
const python = `[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]
0
4
9
16
25
36
49
64
81
1
400
15477
[15472, 15472, 15475, 15475]
We lacked patience and got a multiprocessing.TimeoutError
For the moment, the pool remains available for more work
Now the pool is closed and no longer available
`

// The one line Go words otherwise: its timeout is the context's.
const (
	pythonTimeout = "We lacked patience and got a multiprocessing.TimeoutError"
	goTimeout     = "We lacked patience and got a context.DeadlineExceeded"
)

var number = regexp.MustCompile(`[0-9]+`)

// normalize sorts the imap_unordered lines of out, checks that the pids
// are pids (not self, the program's own), and writes them as PID, so that
// two runs compare equal.
func normalize(t *testing.T, out string, self int) string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 17 {
		t.Fatalf("want 17 lines:\n%s", out)
	}
	slices.SortFunc(lines[1:11], func(a, b string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x - y
	})
	for _, i := range []int{12, 13} {
		lines[i] = number.ReplaceAllStringFunc(lines[i], func(s string) string {
			if pid, _ := strconv.Atoi(s); pid <= 0 || pid == self {
				t.Errorf("line %d: %q holds %s, want a worker's pid", i+1, lines[i], s)
			}
			return "PID"
		})
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestUsingPoolPrintsWhatPythonPrints builds the example, runs it (a Pool
// of 4 worker processes), and compares its output with the Python
// program's, the lists written as Go prints them and the timeout as Go
// names it.
func TestUsingPoolPrintsWhatPythonPrints(t *testing.T) {
	run := seedtest.Program(t)
	got := normalize(t, run.Out, run.PID)
	want := normalize(t, strings.Replace(seedtest.GoPrint(python), pythonTimeout, goTimeout, 1), 0)
	if got != want {
		t.Fatalf("printed\n%s\nwhich is\n%s\nwant\n%s", run.Out, got, want)
	}
}

func TestPythonPrintsThat(t *testing.T) {
	got := seedtest.Python(t, "testdata/seed.py")
	if normalize(t, got, 0) != normalize(t, python, 0) {
		t.Fatalf("python3 printed\n%s\nwant\n%s", got, python)
	}
}
