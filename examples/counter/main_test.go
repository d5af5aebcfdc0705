package main

import (
	"testing"

	"github.com/multiproc/multiproc/examples/internal/seedtest"
	"github.com/multiproc/multiproc/internal/proctest"
)

// The workers are this test binary started again: proctest.Main
// dispatches them (the pool's roles) before any test runs.
func TestMain(m *testing.M) { proctest.Main(m) }

// python is what testdata/seed.py, the Python original, prints.
const python = "Final counter: 4000\n"

// TestCounterPrintsWhatPythonPrints builds the example and runs it as a
// user would: 4 child processes, 1,000 locked increments each.
func TestCounterPrintsWhatPythonPrints(t *testing.T) { seedtest.PrintsLikePython(t, python) }

func TestPythonPrintsThat(t *testing.T) { seedtest.PythonPrints(t, "testdata/seed.py", python) }

// TestCounterLeavesShmClean runs the same in the test binary: the
// children are its own.
func TestCounterLeavesShmClean(t *testing.T) {
	proctest.CheckShm(t)
	if err := run(); err != nil {
		t.Fatal(err)
	}
}

func Example() {
	if err := run(); err != nil {
		panic(err)
	}
	// Output: Final counter: 4000
}
