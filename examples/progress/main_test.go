package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/examples/internal/seedtest"
)

// frame is one drawing of the bar: its description, percentage and count.
var frame = regexp.MustCompile(`squaring(?: \((\d+) failed\))? +(\d+)% \|[^|]*\| \((\d+)/(\d+),`)

// TestProgressDrawsTheBarAndPrintsStats builds the example and runs a Map
// of 120 tasks on 2 workers, every 40th failing: the bar's frames count
// up to 120/120 with the 3 failures, the failures are reported, the sum is
// that of the other squares, and the stats have a row for each worker
// whose tasks add up to the call's.
func TestProgressDrawsTheBarAndPrintsStats(t *testing.T) {
	const tasks, fail = 120, 40
	run := seedtest.ProgramStderr(t, "-tasks", strconv.Itoa(tasks), "-workers", "2", "-work", "2ms", "-fail", strconv.Itoa(fail))

	frames := frame.FindAllStringSubmatch(run.Stderr, -1)
	if len(frames) == 0 {
		t.Fatalf("no bar on stderr:\n%q", run.Stderr)
	}
	last, lastFailed := -1, -1
	for _, f := range frames {
		failed, _ := strconv.Atoi(f[1])
		done, _ := strconv.Atoi(f[3])
		if total, _ := strconv.Atoi(f[4]); total != tasks || done < last || failed < lastFailed {
			t.Fatalf("frame %q after %d done, %d failed", f[0], last, lastFailed)
		}
		last, lastFailed = done, failed
	}
	if end := frames[len(frames)-1]; end[2] != "100" || last != tasks || lastFailed != tasks/fail {
		t.Errorf("the last frame is %q, want 100%% (%d/%d) with %d failed", end[0], tasks, tasks, tasks/fail)
	}

	want, sum := []string{"3 of 120 tasks failed; the first: pool: task 39 ", "sum of the squares: "}, 0
	for x := range tasks {
		if x%fail != fail-1 {
			sum += x * x
		}
	}
	want[1] += strconv.Itoa(sum)
	if len(run.Lines) != 5 || !strings.HasPrefix(run.Lines[0], want[0]) || !strings.HasSuffix(run.Lines[0], "item 39: failed on purpose (-fail)") || run.Lines[1] != want[1] {
		t.Fatalf("stdout:\n%s\nwant %q..., %q and the stats", run.Out, want[0], want[1])
	}
	if h := strings.Fields(run.Lines[2]); strings.Join(h, " ") != "worker pid tasks chunks busy idle restarts" {
		t.Fatalf("stats header %q", run.Lines[2])
	}
	ran := 0
	for i, row := range run.Lines[3:] {
		f := strings.Fields(row)
		pid, _ := strconv.Atoi(f[1])
		n, _ := strconv.Atoi(f[2])
		if len(f) != 7 || f[0] != strconv.Itoa(i) || pid <= 0 || pid == run.PID || f[6] != "0" {
			t.Errorf("stats row %q", row)
		}
		ran += n
	}
	if ran != tasks {
		t.Errorf("the workers ran %d tasks, want %d:\n%s", ran, tasks, run.Out)
	}
}
