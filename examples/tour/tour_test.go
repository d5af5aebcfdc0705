package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/internal/proctest"
)

// TestTourRuns builds the tour and runs it as a user would, checking each
// step's result and that it leaves /dev/shm as it found it.
func TestTourRuns(t *testing.T) {
	proctest.CheckShm(t)
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	exe := filepath.Join(t.TempDir(), "tour")
	ctx := proctest.Context(t)
	if out, err := exec.CommandContext(ctx, gobin, "build", "-o", exe, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, exe)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tour failed: %v\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	// Every line is the tour's own: the trackers of the tour and of its
	// children print nothing behind its back (issue 15: a correct program
	// prints nothing; the crash step shows its tracker's line itself).
	if stderr.Len() != 0 {
		t.Errorf("tour wrote to stderr:\n%s", stderr.String())
	}
	if n := strings.Count(string(out), "multiproc tracker:"); n != 1 {
		t.Errorf("tour output has %d tracker lines, want 1 (the crash step's):\n%s", n, out)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(l, "multiproc tracker:") {
			t.Errorf("a tracker line interleaved with the tour's output: %q", l)
		}
	}
	for _, want := range []string{
		"parent reads: \"hello from child",
		"Final counter: 4000",
		"previous lock owner died holding the lock",
		"parent took the lock over ", // a duration, then "after the kill": never "after 0s"
		"after the kill, the owner being dead when it asked",
		"semaphore released too many times",
		"all 3 children saw the event and exited",
		"its tracker says: multiproc tracker: removed leaked Value mpgo_value_",
		"done: every object this tour made is gone",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("tour output lacks %q:\n%s", want, out)
		}
	}
}
