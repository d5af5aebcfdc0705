package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/multiproc/multiproc/examples/internal/seedtest"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/pool/cluster/embedded"
)

// TestWithNoServerItRunsEverythingOnThisMachine builds the example and
// runs it with no URL: it starts the embedded server and two worker
// processes, maps x*x over 0 … 9 on them, prints the squares, and shuts
// everything down — nothing on stderr, nothing left in /dev/shm, the
// server's temporary storage gone.
func TestWithNoServerItRunsEverythingOnThisMachine(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the program's server keeps its storage
	run := seedtest.Program(t)
	want := []string{
		"NATS server: embedded, on 127.0.0.1 (a free port, temporary storage)",
		"workers: 2 processes on this machine",
		"[0 1 4 9 16 25 36 49 64 81]",
	}
	if strings.Join(run.Lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("printed\n%s\nwant\n%s", run.Out, strings.Join(want, "\n"))
	}
	if left := natsDirs(t, tmp); len(left) > 0 {
		t.Errorf("the embedded server's storage is left in %s: %v", tmp, left)
	}
}

// TestWithAServerWorkersElsewhereTakeTheTasks runs it as a user with a
// real server would: a worker host started with only WORKER_OF set (the
// server here is the embedded one, in the test), and the caller with -url
// and no workers of its own, so every task runs on the worker host.
// Interrupted, the worker host stops its workers and exits cleanly.
func TestWithAServerWorkersElsewhereTakeTheTasks(t *testing.T) {
	proctest.CheckShm(t)
	srv, err := embedded.Start(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	exe := proctest.Build(t, ".")
	ctx := proctest.Context(t)

	host := exec.CommandContext(ctx, exe)
	host.Env = append(os.Environ(), "WORKER_OF="+srv.URL())
	var hostOut, hostErr bytes.Buffer
	host.Stdout, host.Stderr = &hostOut, &hostErr
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer host.Process.Kill()

	caller := exec.CommandContext(ctx, exe, "-url", srv.URL(), "-workers", "0", "-n", "5")
	var out, stderr bytes.Buffer
	caller.Stdout, caller.Stderr = &out, &stderr
	if err := caller.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("the caller: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), stderr.String())
	}
	if want := "NATS server: " + srv.URL() + "\n[0 1 4 9 16]\n"; out.String() != want {
		t.Fatalf("the caller printed\n%s\nwant\n%s", out.String(), want)
	}

	if err := host.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := host.Wait(); err != nil || hostErr.Len() > 0 {
		t.Fatalf("the worker host: %v\nstdout:\n%s\nstderr:\n%s", err, hostOut.String(), hostErr.String())
	}
	if want := "serving the Pools of " + srv.URL() + " until interrupted\n"; hostOut.String() != want {
		t.Fatalf("the worker host printed\n%s\nwant\n%s", hostOut.String(), want)
	}
}

// natsDirs lists the embedded server's temporary directories in dir.
func natsDirs(t *testing.T, dir string) []string {
	t.Helper()
	dirs, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range dirs {
		if strings.HasPrefix(d.Name(), "multiproc-nats-") {
			names = append(names, d.Name())
		}
	}
	return names
}
