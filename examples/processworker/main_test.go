package main

import (
	"testing"

	"github.com/multiproc/multiproc/examples/internal/seedtest"
)

// python is what seed 001's program prints (examples/poolworker's
// testdata/seed.py, which its test runs with python3).
const python = "[10000, 10200, 10400, 10600, 10800, 11000, 11200, 11400, 11600, 11800, 12000, 12200, 12400, 12600, 12800, 13000, 13200, 13400, 13600, 13800]\n"

// TestWorkerExamplePrintsWhatPythonPrints builds the example, runs it,
// and compares its output with the Python program's, byte for byte; it
// leaves /dev/shm as it found it.
func TestWorkerExamplePrintsWhatPythonPrints(t *testing.T) {
	if out := seedtest.Program(t).Out; out != python {
		t.Fatalf("printed\n%s\nwant\n%s", out, python)
	}
}
