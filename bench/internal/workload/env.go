package workload

import (
	"bufio"
	"context"
	"embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The C and Python sources, written out to the Env's directory and built
// or run from there, so the tool works from any directory and from a test
// binary.
//
//go:embed c/*.c c/*.h py/*.py
var sources embed.FS

// DefaultTimeout bounds one measurement when the Env sets none.
const DefaultTimeout = 5 * time.Minute

// An Env is what measurements need from the machine: a scratch directory
// for the bundled sources and the C programs built from them, and the
// paths of gcc and python3. Its methods are safe for concurrent use.
type Env struct {
	// GCC and Python are the paths of gcc and python3, "" when missing.
	GCC, Python string
	// Timeout bounds each measurement (DefaultTimeout if zero).
	Timeout time.Duration

	dir    string
	mu     sync.Mutex
	builds map[string]*cbuild
}

type cbuild struct {
	once sync.Once
	path string
	err  error
}

// NewEnv makes an Env with a scratch directory of its own; Close removes it.
func NewEnv() (*Env, error) {
	dir, err := os.MkdirTemp("", "multiproc-bench-")
	if err != nil {
		return nil, err
	}
	e := &Env{dir: dir, builds: map[string]*cbuild{}}
	e.GCC, _ = exec.LookPath("gcc")
	e.Python = findPython()
	return e, nil
}

// findPython returns the interpreter python3 on the PATH runs: where that
// is a wrapper (pyenv's shim is a shell script that runs pyenv each time),
// running the interpreter itself takes its start-up off every run.
func findPython() string {
	py, err := exec.LookPath("python3")
	if err != nil {
		return ""
	}
	out, err := exec.Command(py, "-c", "import sys; print(sys.executable)").Output()
	if exe := strings.TrimSpace(string(out)); err == nil && filepath.IsAbs(exe) {
		if _, err := os.Stat(exe); err == nil {
			return exe
		}
	}
	return py
}

// Close removes the scratch directory.
func (e *Env) Close() error { return os.RemoveAll(e.dir) }

// Check says why im cannot run here (an error wrapping ErrSkipped), if it
// cannot.
func (e *Env) Check(im *Impl) error {
	switch im.Needs {
	case "gcc":
		if e.GCC == "" {
			return fmt.Errorf("gcc not found: no C baselines: %w", ErrSkipped)
		}
	case "python3":
		if e.Python == "" {
			return fmt.Errorf("python3 not found: no Python baselines: %w", ErrSkipped)
		}
	}
	if im.Home.Placement == TwoCPUs && len(allowedCPUs()) < 2 {
		return fmt.Errorf("this process may run on one CPU only: no two-CPU placement: %w", ErrSkipped)
	}
	return nil
}

func (e *Env) timeout() time.Duration {
	if e.Timeout > 0 {
		return e.Timeout
	}
	return DefaultTimeout
}

// program returns the path of the C program built from c/NAME.c, building
// it on first use.
func (e *Env) program(name string) (string, error) {
	e.mu.Lock()
	b, ok := e.builds[name]
	if !ok {
		b = &cbuild{}
		e.builds[name] = b
	}
	e.mu.Unlock()
	b.once.Do(func() {
		src := filepath.Join(e.dir, name+".c")
		if b.err = e.writeSources("c"); b.err != nil {
			return
		}
		bin := filepath.Join(e.dir, name)
		out, err := exec.Command(e.GCC, "-O2", "-Wall", "-pthread", "-o", bin, src, "-lrt").CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("gcc %s.c: %v\n%s", name, err, out)
			return
		}
		b.path = bin
	})
	return b.path, b.err
}

// Prebuild builds, all at once, the C programs that impls need (a
// measurement would otherwise build its program on first use). A failed
// build is reported by the measurements that need it.
func (e *Env) Prebuild(impls []*Impl) {
	if e.GCC == "" {
		return
	}
	var wg sync.WaitGroup
	seen := map[string]bool{}
	for _, im := range impls {
		if f, ok := im.run.(foreign); ok && f.prog != "" && !seen[f.prog] {
			seen[f.prog] = true
			wg.Go(func() { e.program(f.prog) })
		}
	}
	wg.Wait()
}

// script returns the path of the bundled Python script.
func (e *Env) script() (string, error) {
	if err := e.writeSources("py"); err != nil {
		return "", err
	}
	return filepath.Join(e.dir, "mpbench.py"), nil
}

func (e *Env) writeSources(sub string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	entries, err := sources.ReadDir(sub)
	if err != nil {
		return err
	}
	for _, ent := range entries {
		dst := filepath.Join(e.dir, ent.Name())
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		data, err := sources.ReadFile(sub + "/" + ent.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// foreign is a C or Python implementation: one program run per
// measurement, given MODE VARIANT N PROCS CPUS [SIZE], that forks or
// spawns its own workers and prints "ns/op <float>".
type foreign struct {
	prog          string // C program name, or "" for the Python script
	mode, variant string
	procs, size   int
	placement     Placement
}

func (f foreign) run(ctx context.Context, e *Env, n int, t Timer) (Result, error) {
	var argv []string
	if f.prog == "" {
		script, err := e.script()
		if err != nil {
			return Result{}, err
		}
		argv = []string{e.Python, script}
	} else {
		bin, err := e.program(f.prog)
		if err != nil {
			return Result{}, err
		}
		argv = []string{bin}
	}
	cpus := "-"
	if f.placement != Anywhere {
		var parts []string
		for _, c := range f.placement.CPUs(f.procs) {
			parts = append(parts, strconv.Itoa(c))
		}
		cpus = strings.Join(parts, ",")
	}
	variant := f.variant
	if variant == "" {
		variant = "-"
	}
	argv = append(argv, f.mode, variant, strconv.Itoa(n), strconv.Itoa(f.procs), cpus)
	if f.size > 0 {
		argv = append(argv, strconv.Itoa(f.size))
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout())
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = e.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// The whole group: the program's workers go with it.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var stderr syncBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return Result{}, err
	}
	if err := cmd.Start(); err != nil {
		return Result{}, err
	}
	var ns float64
	var nsErr error = errNoNsPerOp
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "go":
			t.StartTimer()
		case strings.HasPrefix(line, "ns/op "):
			t.StopTimer()
			ns, nsErr = parseNsPerOp(line)
		}
	}
	err = cmd.Wait()
	name := strings.Join(append([]string{filepath.Base(argv[0])}, argv[1:]...), " ")
	if ctx.Err() != nil {
		return Result{}, fmt.Errorf("%s: %w after %v\n%s", name, ctx.Err(), e.timeout(), stderr.String())
	}
	if err != nil {
		return Result{}, fmt.Errorf("%s: %v\n%s", name, err, stderr.String())
	}
	if nsErr != nil {
		return Result{}, fmt.Errorf("%s: %v", name, nsErr)
	}
	return Result{NsPerOp: ns}, nil
}

var errNoNsPerOp = errors.New(`printed no "ns/op" line`)

// parseNsPerOp reads an "ns/op <float>" line.
func parseNsPerOp(line string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, "ns/op ")), 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("bad ns/op line %q", line)
	}
	return v, nil
}
