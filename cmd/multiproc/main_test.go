package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/multiproc/multiproc/barrier"
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/proc"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/sem"
)

// cliPath is the multiproc command, built once for the tests.
var cliPath string

func TestMain(m *testing.M) {
	if proctest.IsChild() {
		proctest.Main(m) // runs the role and exits
	}
	dir, err := os.MkdirTemp("", "multiproc-cli-test")
	if err != nil {
		panic(err)
	}
	cliPath = filepath.Join(dir, "multiproc")
	if out, err := exec.Command(goTool(), "build", "-o", cliPath, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/multiproc: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func init() {
	proctest.Register("leak", leakRole)
	proctest.Register("lock-hold", lockHoldRole)
	proctest.Register("barrier-wait", barrierWaitRole)
}

// barrierWaitRole waits at the barrier args[0], saying "waiting" first.
func barrierWaitRole(args []string) error {
	b, err := barrier.Open(args[0])
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Println("waiting")
	_, err = b.Wait(context.Background())
	return err
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// result is one run of the command.
type result struct {
	code           int
	stdout, stderr string
}

func mp(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(cliPath, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return r
}

func (r result) must(t *testing.T, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	return r
}

// leakRole makes one untracked object per kind in args ("raw", "lock"),
// as a program whose tracker never ran leaves them, prints "obj NAME" for
// each and exits.
func leakRole(args []string) error {
	me := proc.Self()
	for _, kind := range args {
		var f *segment.File
		var err error
		switch kind {
		case "raw":
			f, err = segment.Create(segment.Generate("raw"), 4096, segment.CreateOptions{}, nil)
			if err == nil {
				err = segment.SetMeta(f.Fd(), segment.Meta{Kind: "raw", PID: me.PID, Start: me.Start, Created: time.Now().UnixNano()})
			}
		case "lock":
			h := layout.Header{Kind: layout.KindLock, PayloadSize: 64, CreatorPID: uint32(me.PID), CreatorStart: me.Start, Created: time.Now().UnixNano()}
			f, err = segment.Create(segment.Generate("lock"), layout.HeaderSize+64, segment.CreateOptions{}, func(b []byte) error {
				h.Encode(b)
				return nil
			})
		default:
			err = fmt.Errorf("unknown kind %q", kind)
		}
		if err != nil {
			return err
		}
		fmt.Println("obj", f.Name)
		f.Close()
	}
	return nil
}

// lockHoldRole takes the Lock args[0], says "holding" and waits to be killed.
func lockHoldRole(args []string) error {
	l, err := sem.OpenLock(args[0])
	if err != nil {
		return err
	}
	l.Lock()
	fmt.Println("holding")
	for { // not select{}: the runtime would call that a deadlock and exit
		time.Sleep(time.Hour)
	}
}

func leaked(t *testing.T, kinds ...string) []string {
	t.Helper()
	c := proctest.Start(t, "leak", kinds...)
	c.MustSucceed()
	var names []string
	for _, l := range c.Output() {
		if n, ok := strings.CutPrefix(l, "obj "); ok {
			names = append(names, n)
			t.Cleanup(func() { os.Remove(segment.Path(n)) })
		}
	}
	if len(names) != len(kinds) {
		t.Fatalf("leak role made %v", names)
	}
	return names
}

// foreign makes a file in /dev/shm that is not multiproc's; the test fails
// if anything else removes it.
func foreign(t *testing.T, prefix string, content []byte) string {
	t.Helper()
	name := fmt.Sprintf("%s%d_%d", prefix, os.Getpid(), time.Now().UnixNano())
	if err := os.WriteFile(segment.Path(name), content, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Remove(segment.Path(name)); err != nil {
			t.Errorf("foreign file %s was touched: %v", name, err)
		}
	})
	return name
}

func glibcSem() []byte {
	b := make([]byte, 32)
	binary.LittleEndian.PutUint32(b[0:], 1)
	binary.LittleEndian.PutUint32(b[8:], 128)
	return b
}

func exists(name string) bool {
	_, err := os.Lstat(segment.Path(name))
	return err == nil
}

// line returns the line of out that starts with prefix ("" if none).
func line(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
