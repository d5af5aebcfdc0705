package main

import (
	"testing"

	"github.com/multiproc/multiproc/examples/internal/seedtest"
)

// python is what testdata/seed.py, the Python original, prints.
const python = "[10000, 10200, 10400, 10600, 10800, 11000, 11200, 11400, 11600, 11800, 12000, 12200, 12400, 12600, 12800, 13000, 13200, 13400, 13600, 13800]\n"

// TestPoolWorkerPrintsWhatPythonPrints builds the example, runs it (a
// Pool of a worker per CPU), and compares its output with the Python
// program's, byte for byte: this example prints the list as Python does.
func TestPoolWorkerPrintsWhatPythonPrints(t *testing.T) {
	if out := seedtest.Program(t).Out; out != python {
		t.Fatalf("printed\n%s\nwant\n%s", out, python)
	}
}

func TestPythonPrintsThat(t *testing.T) { seedtest.PythonPrints(t, "testdata/seed.py", python) }
