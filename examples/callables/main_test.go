package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/internal/proctest"
)

// TestCallablesExampleRuns builds the example and runs it: three kinds of
// function run in children, the closure is refused with the fix in the
// message, and the method's state stays in its child.
func TestCallablesExampleRuns(t *testing.T) {
	proctest.CheckShm(t)
	exe := proctest.Build(t, ".")
	out, err := exec.CommandContext(proctest.Context(t), exe).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	want := []*regexp.Regexp{
		regexp.MustCompile(`^top-level function returned 0[.\d]*$`),
		regexp.MustCompile(`^package-level literal returned 0[.\d]*$`),
		regexp.MustCompile(`^method of obj \(call 1 in the child\) returned 0[.\d]*$`),
		regexp.MustCompile(`^refused: pool.Start: function not registered: main\.main\.func\d+ was registered after pool.Init, .*register it in a package-level var`),
		regexp.MustCompile(`^obj.Calls in the parent: 0$`),
	}
	if len(lines) != len(want) {
		t.Fatalf("want %d lines:\n%s", len(want), out)
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d: %q, want %v", i+1, lines[i], re)
		}
	}
}
