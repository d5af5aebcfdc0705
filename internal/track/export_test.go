package track

import (
	"os"

	"golang.org/x/sys/unix"
)

// With TRACK_TEST_NO_PIDFD set, this test binary — the tests, their
// children, and the trackers they start, which are this binary too — has
// no pidfds, as on a kernel before Linux 5.3. A package-level variable is
// initialised before any init function, so before a tracker starts.
var _ = func() bool {
	if os.Getenv("TRACK_TEST_NO_PIDFD") != "" {
		pidfdOpen = func(int, int) (int, error) { return -1, unix.ENOSYS }
	}
	return true
}()

// Exited reports, for the tests, whether every thread of the process pid
// (whose start time's low bits are start32) has exited, so that all its
// files are closed: its pidfd polls readable then.
func Exited(pid int, start32 uint32) bool {
	fd := openPidfd(pid, start32)
	if fd < 0 {
		return true // reaped, or the pid names another process now
	}
	defer unix.Close(fd)
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(p, 0)
	return err == nil && n > 0
}
