package reexec

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// ExitCode is Python's Process.exitcode for a finished process: its exit
// status, or minus the number of the signal that killed it (-9 for
// SIGKILL). ps nil (still running) gives 0 and false.
func ExitCode(ps *os.ProcessState) (code int, exited bool) {
	if ps == nil {
		return 0, false
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return -int(ws.Signal()), true
	}
	return ps.ExitCode(), true
}

// Signal is the signal that killed the process, 0 if it exited.
func Signal(ps *os.ProcessState) syscall.Signal {
	if ps == nil {
		return 0
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal()
	}
	return 0
}

// Status says how a finished process ended, in the words every multiproc
// message uses: "exit status 3", "killed by SIGKILL", "killed by SIGSEGV
// (core dumped)"; "running" for nil.
func Status(ps *os.ProcessState) string {
	if ps == nil {
		return "running"
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok {
		return ps.String()
	}
	switch {
	case ws.Signaled():
		s := "killed by " + SignalName(ws.Signal())
		if ws.CoreDump() {
			s += " (core dumped)"
		}
		return s
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	}
	return ps.String()
}

// SignalName is "SIGKILL" for syscall.SIGKILL, "signal 42" for a number
// without a name.
func SignalName(sig syscall.Signal) string {
	if n := unix.SignalName(sig); n != "" {
		return n
	}
	return fmt.Sprintf("signal %d", int(sig))
}
