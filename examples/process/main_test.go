package main

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/examples/internal/seedtest"
)

// TestProcessExampleRuns builds the example and runs it as a user would:
// the child's info() names the parent's pid as its parent, and its own
// pid is another.
func TestProcessExampleRuns(t *testing.T) {
	run := seedtest.Program(t)
	lines := run.Lines
	if len(lines) != 9 {
		t.Fatalf("want 9 lines:\n%s", run.Out)
	}
	parent, child := run.PID, 0
	const module = "module name: github.com/multiproc/multiproc/examples/process"
	want := []string{
		"main line", module, "parent process: " + strconv.Itoa(os.Getpid()), "process id: " + strconv.Itoa(parent),
		"function f", module, "parent process: " + strconv.Itoa(parent), "process id: ", "hello bob",
	}
	for i, w := range want {
		if i == 7 {
			child, _ = strconv.Atoi(strings.TrimPrefix(lines[i], w))
			if !strings.HasPrefix(lines[i], w) || child <= 0 || child == parent {
				t.Errorf("line %d: %q, want the child's own pid", i+1, lines[i])
			}
			continue
		}
		if lines[i] != w {
			t.Errorf("line %d: %q, want %q", i+1, lines[i], w)
		}
	}
}
