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
	if out, err := exec.Command(gobin, "build", "-o", exe, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(exe).CombinedOutput()
	if err != nil {
		t.Fatalf("tour failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		"parent reads: \"hello from child",
		"Final counter: 4000",
		"previous lock owner died holding the lock",
		"semaphore released too many times",
		"all 3 children saw the event and exited",
		"its tracker removed it",
		"done: every object this tour made is gone",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("tour output lacks %q:\n%s", want, out)
		}
	}
}
