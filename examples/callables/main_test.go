package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/examples/internal/seedtest"
)

// python is what testdata/seed.py, the seed's five pool calls in one
// program, printed in one run: a function, a lambda, a nested function, a
// method, a static method; Python refuses the lambda and the nested
// function.
const python = `0.6802920994394475
PicklingError: Can't pickle <function <lambda> at 0x7f1140279760>: attribute lookup <lambda> on __main__ failed
AttributeError: Can't pickle local object 'main.<locals>.task'
0.7035688274025826
0.11054288308638904
`

var (
	value   = regexp.MustCompile(`^0(\.\d+)?$`)
	refused = regexp.MustCompile(`^[A-Za-z]+Error: `)
)

// refusals says which of Python's lines are refusals, failing on a line
// that is neither a value nor one.
func refusals(t *testing.T, out string) []bool {
	t.Helper()
	var r []bool
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !value.MatchString(l) && !refused.MatchString(l) {
			t.Fatalf("%q is neither a value nor a refusal:\n%s", l, out)
		}
		r = append(r, refused.MatchString(l))
	}
	return r
}

// TestCallablesExampleRuns builds the example and runs it: through
// Process and through the Pool, the kinds of function Python runs run and
// the ones it refuses are refused with the fix in the message; a method
// value is refused too; the method's state stays in its child.
func TestCallablesExampleRuns(t *testing.T) {
	lines := seedtest.Program(t).Lines
	notRegistered := `function not registered: main\.main\.func\d+ was registered after pool.Init, .*register it in a package-level var`
	want := []*regexp.Regexp{
		regexp.MustCompile(`^Each in a Process of its own`),
		regexp.MustCompile(`^  top-level function returned 0[.\d]*$`),
		regexp.MustCompile(`^  package-level literal returned 0[.\d]*$`),
		regexp.MustCompile(`^  method of obj \(call 1 in the child\) returned 0[.\d]*$`),
		regexp.MustCompile(`^  nested function: refused: pool: Start: ` + notRegistered),
		regexp.MustCompile(`^On a Pool`),
		// The seed's five, in its order.
		regexp.MustCompile(`^  top-level function \(ApplyAsync, Get\): 0[.\d]*$`),
		regexp.MustCompile(`^  lambda: refused: .*Apply: ` + notRegistered),
		regexp.MustCompile(`^  nested function: refused: .*Apply: ` + notRegistered),
		regexp.MustCompile(`^  method of obj: 0[.\d]*$`),
		regexp.MustCompile(`^  package-level literal \(the static method\): 0[.\d]*$`),
		regexp.MustCompile(`^  obj.Task, a method value: refused: .*function not registered: main\.\(\*CustomClass\)\.Task is a method value, .*pool.RegisterMethod\(T.Method\)`),
		regexp.MustCompile(`^obj.Calls in the parent: 0$`),
	}
	if len(lines) != len(want) {
		t.Fatalf("want %d lines:\n%s", len(want), strings.Join(lines, "\n"))
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d: %q, want %v", i+1, lines[i], re)
		}
	}
	// The Pool refuses exactly what Python's refuses.
	var goRefusals []bool
	for _, l := range lines[6:11] {
		goRefusals = append(goRefusals, strings.Contains(l, ": refused: "))
	}
	if pyRefusals := refusals(t, python); !slices.Equal(goRefusals, pyRefusals) {
		t.Errorf("the Pool refuses %v of the seed's five, Python %v", goRefusals, pyRefusals)
	}
}

func TestPythonRefusesThat(t *testing.T) {
	got := seedtest.Python(t, "testdata/seed.py")
	if r, want := refusals(t, got), refusals(t, python); !slices.Equal(r, want) {
		t.Fatalf("python3 printed\n%s\nrefusing %v; want %v, as\n%s", got, r, want, python)
	}
}
