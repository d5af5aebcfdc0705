// Package seedtest runs the example programs for their tests as a user
// would, and holds them to what the Python programs they are twins of
// print (the seeds in shared/seeds).
//
// An example's test builds it (proctest.Build), runs it across real
// processes, and compares its output with the Python program's: the
// output Python printed is kept in the test as a constant, GoPrint turns
// it into what Go prints for the same values, and a second test runs
// the Python program itself (testdata/*.py), when python3 is installed,
// to keep that constant honest.
package seedtest

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/internal/proctest"
)

// A Run is what an example printed.
type Run struct {
	Out    string   // its standard output
	Lines  []string // Out split into lines, without the newlines
	Stderr string   // its standard error (empty, but for ProgramStderr)
	PID    int      // the program's own pid
}

// Program builds the example in the test's package directory and runs it
// with args, bounded by the test's deadline. It fails the test if the
// program fails or writes to its standard error (a correct program prints
// nothing there: not its own messages, not its workers', not its
// tracker's), and if it leaves anything in /dev/shm.
func Program(t testing.TB, args ...string) Run {
	t.Helper()
	run := ProgramStderr(t, args...)
	if run.Stderr != "" {
		t.Fatalf("the program wrote to stderr:\n%s\nstdout:\n%s", run.Stderr, run.Out)
	}
	return run
}

// ProgramStderr is Program for an example that draws on its standard
// error (a progress bar): what it wrote there is returned in the Run.
func ProgramStderr(t testing.TB, args ...string) Run {
	t.Helper()
	proctest.CheckShm(t)
	exe := proctest.Build(t, ".")
	cmd := exec.CommandContext(proctest.Context(t), exe, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	return Run{Out: stdout.String(), Lines: lines(stdout.String()), Stderr: stderr.String(), PID: cmd.Process.Pid}
}

// Python runs the Python program file (a path relative to the test's
// package directory) with python3 and returns what it printed, skipping
// the test when python3 is not installed.
func Python(t testing.TB, file string) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not in PATH")
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(proctest.Context(t), py, file)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3 %s: %v\n%s\nstderr:\n%s", file, err, out, stderr.String())
	}
	return string(out)
}

// PrintsLikePython runs the example (Program) and fails the test unless
// it prints python, Python's output, as GoPrint writes it.
func PrintsLikePython(t testing.TB, python string, args ...string) Run {
	t.Helper()
	run := Program(t, args...)
	if want := GoPrint(python); run.Out != want {
		t.Fatalf("printed\n%s\nwant\n%s\n(Python printed\n%s)", run.Out, want, python)
	}
	return run
}

// PythonPrints runs the Python program file (Python) and fails the test
// unless it prints want.
func PythonPrints(t testing.TB, file, want string) {
	t.Helper()
	if got := Python(t, file); got != want {
		t.Fatalf("python3 %s printed\n%s\nwant\n%s", file, got, want)
	}
}

// GoPrint returns Python's output python with every line that is the
// repr of a flat list ([1, 4, 9], [42, None, 'hello']) written as Go's
// fmt prints the same values in a slice ([1 4 9], [42 <nil> hello]);
// other lines are left as they are. Elements must not contain ", ".
func GoPrint(python string) string {
	var b strings.Builder
	for _, l := range lines(python) {
		if strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]") {
			elems := strings.Split(l[1:len(l)-1], ", ")
			for i, e := range elems {
				switch {
				case e == "None":
					elems[i] = "<nil>"
				case len(e) >= 2 && e[0] == '\'' && e[len(e)-1] == '\'':
					elems[i] = e[1 : len(e)-1]
				}
			}
			l = "[" + strings.Join(elems, " ") + "]"
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
