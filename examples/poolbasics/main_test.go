package main

import (
	"testing"

	"github.com/multiproc/multiproc/examples/internal/seedtest"
)

// python is what testdata/seed.py, the Python original, prints.
const python = `[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]
[8, 27, 64]
Number: 10, Fib: 55, Sqrt: 3.16
Number: 15, Fib: 610, Sqrt: 3.87
Number: 20, Fib: 6765, Sqrt: 4.47
Number: 25, Fib: 6765, Sqrt: 5.00
Number: 30, Fib: 6765, Sqrt: 5.48
Number: 35, Fib: 6765, Sqrt: 5.92
Number: 40, Fib: 6765, Sqrt: 6.32
`

// TestPoolBasicsPrintsWhatPythonPrints builds the example, runs it (one
// Pool of 4 worker processes), and compares its output with the Python
// program's, the lists written as Go prints them.
func TestPoolBasicsPrintsWhatPythonPrints(t *testing.T) { seedtest.PrintsLikePython(t, python) }

func TestPythonPrintsThat(t *testing.T) { seedtest.PythonPrints(t, "testdata/seed.py", python) }
