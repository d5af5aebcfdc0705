package reexec_test

// The one stop sequence, and how a child's end is told.

import (
	"bufio"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/reexec"
)

func TestExitCodeAndStatus(t *testing.T) {
	c := reexec.Command("rt.exit", "3")
	if _, err := output(t, c); err == nil {
		t.Fatal("exit 3 reported no error")
	}
	if code, ok := reexec.ExitCode(c.ProcessState()); code != 3 || !ok || reexec.Status(c.ProcessState()) != "exit status 3" {
		t.Fatalf("exit 3: code %d %v, status %q", code, ok, reexec.Status(c.ProcessState()))
	}
	c = startReady(t, "rt.sleep")
	if code, ok := reexec.ExitCode(c.ProcessState()); ok {
		t.Fatalf("running child has exit code %d", code)
	}
	c.Kill()
	if code, ok := reexec.ExitCode(c.ProcessState()); code != -9 || !ok || reexec.Status(c.ProcessState()) != "killed by SIGKILL" {
		t.Fatalf("killed: code %d %v, status %q", code, ok, reexec.Status(c.ProcessState()))
	}
	if err := c.Signal(syscall.SIGTERM); err != os.ErrProcessDone {
		t.Fatalf("Signal after reap: %v", err)
	}
}

// startReady starts role and waits for its "ready" line.
func startReady(t *testing.T, role string) *reexec.Cmd {
	t.Helper()
	c := reexec.Command(role)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c.Cmd.Stdout = w
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { c.Kill(); r.Close() })
	line, err := bufio.NewReader(r).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("%s: %q, %v", role, line, err)
	}
	return c
}

func TestStopAsksFirst(t *testing.T) {
	c := startReady(t, "rt.sleep")
	c.Stop()
	if code, _ := reexec.ExitCode(c.ProcessState()); code != -int(syscall.SIGTERM) {
		t.Fatalf("Stop of a child that heeds SIGTERM: %s", reexec.Status(c.ProcessState()))
	}
}

func TestStopKillsAChildThatIgnoresTheAsk(t *testing.T) {
	c := startReady(t, "rt.ignore-term")
	c.Grace = 50 * time.Millisecond
	c.Stop()
	if code, _ := reexec.ExitCode(c.ProcessState()); code != -int(syscall.SIGKILL) {
		t.Fatalf("Stop of a child that ignores SIGTERM: %s", reexec.Status(c.ProcessState()))
	}
}

func TestStopByClosingInput(t *testing.T) {
	c := reexec.Command("rt.until-eof")
	in, err := c.Cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.Ask = in.Close
	r, w, _ := os.Pipe()
	c.Cmd.Stdout = w
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	defer r.Close()
	bufio.NewReader(r).ReadString('\n')
	c.Stop()
	if code, ok := reexec.ExitCode(c.ProcessState()); code != 0 || !ok {
		t.Fatalf("Stop by closing stdin: %s", reexec.Status(c.ProcessState()))
	}
}

func TestStopAndKillAreIdempotentAndBlock(t *testing.T) {
	c := startReady(t, "rt.ignore-term")
	c.Grace = 50 * time.Millisecond
	done := make(chan struct{})
	for i := range 4 {
		go func() {
			if i%2 == 0 {
				c.Stop()
			} else {
				c.Kill()
			}
			if c.ProcessState() == nil {
				t.Error("Stop or Kill returned before the child was reaped")
			}
			done <- struct{}{}
		}()
	}
	for range 4 {
		<-done
	}
	c.Stop()
	c.Kill()
	var never reexec.Cmd
	never.Cmd = &exec.Cmd{}
	never.Stop() // never started: returns at once
	never.Kill()
}
