package main

import (
	"testing"

	"github.com/multiproc/multiproc/examples/internal/seedtest"
)

// python is what testdata/seed.py, the Python original, prints.
const python = "[42, None, 'hello']\n"

// TestPipePrintsWhatPythonPrints builds the example, runs it (the message
// crosses from a child process), and compares its output with the Python
// program's, the lists written as Go prints them.
func TestPipePrintsWhatPythonPrints(t *testing.T) { seedtest.PrintsLikePython(t, python) }

func TestPythonPrintsThat(t *testing.T) { seedtest.PythonPrints(t, "testdata/seed.py", python) }
