package track

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/multiproc/multiproc/internal/proc"
)

// How a client ended. A zombie's status is in /proc/PID/stat
// (proc.ZombieStatus) until its parent reaps it; after that, Linux 6.15
// and later keep it for any process holding a pidfd for it (PIDFD_GET_INFO
// with PIDFD_INFO_EXIT). The tracker asks both as soon as a client's pidfd
// says it has exited, and again every statusPoll up to statusWait.
//
// Where neither answers (a kernel without PIDFD_INFO_EXIT and a parent
// that reaped the client first), the end is unknown, and the tracker
// treats it as an exit: anonymous objects are removed silently, named ones
// reported as never unlinked. Only a known death by a signal is called a
// crash.

// pidfdInfo is struct pidfd_info as include/uapi/linux/pidfd.h defines it
// (the first published size, PIDFD_INFO_SIZE_VER0; exit_code took the
// place of spare0 in Linux 6.15). The kernel fills what the size passed in
// the ioctl number covers.
type pidfdInfo struct {
	mask                                                              uint64
	cgroupid                                                          uint64
	pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid uint32
	exitCode                                                          int32
}

var _ [64 - unsafe.Sizeof(pidfdInfo{})]byte
var _ [unsafe.Sizeof(pidfdInfo{}) - 64]byte

const (
	pidfdInfoExit = 1 << 3 // PIDFD_INFO_EXIT
	// pidfdGetInfo is PIDFD_GET_INFO, _IOWR(0xFF, 11, struct pidfd_info):
	// read and write, the struct's size (64), pidfs's magic and number 11.
	pidfdGetInfo = 3<<30 | 64<<16 | 0xFF<<8 | 11
)

// end is how a process ended, as far as the tracker could learn.
type end struct {
	known  bool
	signal unix.Signal // the signal that killed it; 0 when it exited
	code   int         // its exit status, when it exited
}

// killed reports whether the process is known to have died by a signal.
func (e end) killed() bool { return e.known && e.signal != 0 }

// exitOf asks how the process pid (with start time's low bits start32,
// and pidfd for it, or -1) ended. ok is false while it runs or while
// neither source has the answer yet.
func exitOf(pidfd, pid int, start32 uint32) (e end, ok bool) {
	if pidfd >= 0 {
		info := pidfdInfo{mask: pidfdInfoExit}
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(pidfd), pidfdGetInfo, uintptr(unsafe.Pointer(&info)))
		if errno == 0 && info.mask&pidfdInfoExit != 0 {
			return endOf(unix.WaitStatus(info.exitCode))
		}
	}
	// No PIDFD_GET_INFO (ENOTTY, EINVAL), or not reaped yet: a zombie
	// still says it.
	if status, ok := proc.ZombieStatus(pid, start32); ok {
		return endOf(unix.WaitStatus(status))
	}
	return end{}, false
}

func endOf(ws unix.WaitStatus) (end, bool) {
	switch {
	case ws.Signaled():
		return end{known: true, signal: ws.Signal()}, true
	case ws.Exited():
		return end{known: true, code: ws.ExitStatus()}, true
	}
	return end{}, false
}

// pidfdOpen is pidfd_open(2); tests make it fail as on a kernel without
// pidfds (before Linux 5.3).
var pidfdOpen = unix.PidfdOpen

// openPidfd opens a pidfd for the process pid whose start time's low bits
// are start32, or returns -1 if that process is gone (or pidfds are not
// available). The start time is read after the open: a match then proves
// the pidfd is that process's, not a newer one's that took its pid, since
// that process existed before the open.
func openPidfd(pid int, start32 uint32) int {
	fd, _ := followPid(pid, start32)
	return fd
}

// followPid is openPidfd that tells a process that is gone (gone: true)
// from one the tracker cannot follow by pidfd (fd -1, gone false: a kernel
// before Linux 5.3, or no fd left), which must not be taken for gone.
func followPid(pid int, start32 uint32) (fd int, gone bool) {
	fd, err := pidfdOpen(pid, 0)
	if err == unix.ESRCH {
		return -1, true
	}
	start, _, serr := proc.Stat(pid)
	if serr != nil || uint32(start) != start32 {
		if err == nil {
			unix.Close(fd)
		}
		return -1, true // reaped, or the pid names another process now
	}
	if err != nil {
		return -1, false
	}
	return fd, false
}
