package main

import (
	"testing"

	"github.com/multiproc/multiproc/examples/internal/seedtest"
)

// python is what testdata/seed.py, the Python original, prints.
const python = "[1, 4, 9]\n"

// TestPoolMapPrintsWhatPythonPrints builds the example, runs it (a Pool of
// 5 worker processes), and compares its output with the Python program's,
// the lists written as Go prints them.
func TestPoolMapPrintsWhatPythonPrints(t *testing.T) { seedtest.PrintsLikePython(t, python) }

func TestPythonPrintsThat(t *testing.T) { seedtest.PythonPrints(t, "testdata/seed.py", python) }
