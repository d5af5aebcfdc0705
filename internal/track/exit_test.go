package track

import (
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/multiproc/multiproc/internal/proc"
)

// TestExitOfReadsZombiesAndReapedProcesses checks both sources of how a
// process ended: a zombie's /proc/PID/stat, then, once its parent reaped
// it, PIDFD_GET_INFO (whose struct layout this also checks).
func TestExitOfReadsZombiesAndReapedProcesses(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		kill bool
		want end
	}{
		{[]string{"sh", "-c", "exit 3"}, false, end{known: true, code: 3}},
		{[]string{"true"}, false, end{known: true}},
		{[]string{"sleep", "60"}, true, end{known: true, signal: unix.SIGKILL}},
	} {
		cmd := exec.Command(tc.argv[0], tc.argv[1:]...)
		if err := cmd.Start(); err != nil {
			t.Skip(err)
		}
		pid := cmd.Process.Pid
		start, _, err := proc.Stat(pid)
		if err != nil {
			t.Fatal(err)
		}
		fd := openPidfd(pid, uint32(start))
		if fd < 0 {
			t.Skip("no pidfds")
		}
		defer unix.Close(fd)
		if tc.kill {
			cmd.Process.Kill()
		}
		if _, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, -1); err != nil {
			t.Fatal(err)
		}
		if got, ok := exitOf(fd, pid, uint32(start)); !ok || got != tc.want {
			t.Errorf("%v, a zombie: %+v, %v; want %+v", tc.argv, got, ok, tc.want)
		}
		cmd.Wait()
		got, ok := exitOf(fd, pid, uint32(start))
		if !ok {
			t.Logf("%v, reaped: this kernel has no PIDFD_INFO_EXIT (Linux 6.15)", tc.argv)
			continue
		}
		if got != tc.want {
			t.Errorf("%v, reaped: %+v; want %+v", tc.argv, got, tc.want)
		}
	}
}
