package main

import (
	"os/exec"
	"testing"

	"github.com/multiproc/multiproc/internal/proctest"
)

// python is what seed 001's program prints.
const python = "[10000, 10200, 10400, 10600, 10800, 11000, 11200, 11400, 11600, 11800, 12000, 12200, 12400, 12600, 12800, 13000, 13200, 13400, 13600, 13800]\n"

// TestWorkerExamplePrintsWhatPythonPrints builds the example, runs it,
// and compares its output with the Python program's, byte for byte; it
// leaves /dev/shm as it found it.
func TestWorkerExamplePrintsWhatPythonPrints(t *testing.T) {
	proctest.CheckShm(t)
	exe := proctest.Build(t, ".")
	out, err := exec.CommandContext(proctest.Context(t), exe).CombinedOutput()
	if err != nil || string(out) != python {
		t.Fatalf("%v: printed\n%s\nwant\n%s", err, out, python)
	}
}
