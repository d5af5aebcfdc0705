package pool_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/internal/proctest"
)

// TestStartWithoutInitSaysWhatToAdd builds and runs a program that never
// calls pool.Init: Start refuses, names the fix, and starts nothing
// (never a fork bomb, never a hang).
func TestStartWithoutInitSaysWhatToAdd(t *testing.T) {
	out := buildAndRun(t, "./testdata/noinit")
	for _, want := range []string{
		"process: <nil>",
		"is ErrNoInit: true",
		"pool.Init() as the first line of main",
		"children: 0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestRegisterInMainIsRefusedInTheParent: a function registered in main
// before Init is outside package initialization, which workers run; Start
// refuses it in the parent, with the fix, instead of the worker failing.
func TestRegisterInMainIsRefusedInTheParent(t *testing.T) {
	out := buildAndRun(t, "./testdata/registerinmain")
	for _, want := range []string{
		"is ErrNotRegistered: true",
		"main.main.func1 was registered outside package initialization",
		"package-level var",
		"registered at init: <nil>",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// buildAndRun builds the program in dir and runs it, returning its output
// (stdout and stderr), and failing the test if it fails.
func buildAndRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	proctest.CheckShm(t)
	exe := proctest.Build(t, dir)
	ctx := proctest.Context(t)
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", dir, err, out)
	}
	return string(out)
}
