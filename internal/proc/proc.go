//go:build linux

package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// ID is a process identity that survives pid reuse.
type ID struct {
	PID   int
	Start uint64 // start time in clock ticks since boot
}

// Start32 is the low half of the start time, the part stored beside a pid
// in a 64-bit lock word. Two processes with the same pid collide only if they
// started exactly 2^32 ticks (about 497 days at 100 Hz) apart.
func (id ID) Start32() uint32 { return uint32(id.Start) }

var (
	selfOnce sync.Once
	self     ID
)

// Self returns the calling process's identity. It is read once; Go cannot
// fork, so a cached identity is never inherited by another pid.
func Self() ID {
	selfOnce.Do(func() {
		pid := os.Getpid()
		st, _, err := Stat(pid)
		if err != nil {
			// /proc unavailable: the pid alone still identifies us now.
			st = 0
		}
		self = ID{PID: pid, Start: st}
	})
	return self
}

// Stat reads the start time and the state letter of pid from
// /proc/PID/stat. It returns an error wrapping fs.ErrNotExist when there is
// no such process.
func Stat(pid int) (start uint64, state byte, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	return parseStat(b)
}

// parseStat parses the fields after comm: comm may hold spaces and
// parentheses, so the parse starts after the last ')'.
func parseStat(b []byte) (start uint64, state byte, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, 0, errors.New("proc: malformed stat line")
	}
	fields := bytes.Fields(b[i+1:])
	// fields[0] is field 3 (state); field 22 (starttime) is fields[19].
	if len(fields) < 20 || len(fields[0]) != 1 {
		return 0, 0, errors.New("proc: malformed stat line")
	}
	start, err = strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("proc: bad starttime: %w", err)
	}
	return start, fields[0][0], nil
}

// ZombieStatus returns the wait status (as waitpid(2) reports it) of the
// process pid whose start time's low 32 bits are start32, if it has exited
// and its parent has not reaped it yet: /proc/PID/stat shows a zombie's
// exit_code (field 52, Linux 3.5 and later) to any process allowed to
// read it. ok is false for a process that runs, was reaped, or whose pid
// now names another process.
func ZombieStatus(pid int, start32 uint32) (status int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	start, state, err := parseStat(b)
	if err != nil || state != 'Z' || uint32(start) != start32 {
		return 0, false
	}
	fields := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:])
	if len(fields) < 50 { // fields[0] is field 3; exit_code is field 52
		return 0, false
	}
	code, err := strconv.Atoi(string(fields[49]))
	return code, err == nil
}

// Alive reports whether the process identified by pid and the low 32 bits
// of its start time is still running. A zombie counts as dead; a process we
// cannot see in /proc (hidepid) but whose pidfd is open and not readable
// counts as alive, because "dead" is only said on evidence.
func Alive(pid int, start32 uint32) bool {
	if pid <= 0 {
		return false
	}
	me := Self()
	if pid == me.PID {
		return start32 == me.Start32() || me.Start == 0
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err == unix.ESRCH {
		return false
	}
	if err == nil {
		defer unix.Close(fd)
	}
	st, state, serr := Stat(pid)
	switch {
	case serr == nil:
		if state == 'Z' || state == 'X' || uint32(st) != start32 {
			return false
		}
	case errors.Is(serr, os.ErrNotExist):
		if err != nil { // neither a pidfd nor /proc: gone
			return false
		}
		// hidden /proc entry: fall through to the pidfd poll
	}
	if err != nil {
		// No pidfd (old kernel or EPERM): /proc said alive, trust it.
		return serr == nil || !errors.Is(serr, os.ErrNotExist)
	}
	// A pidfd polls readable once the process has terminated (zombie included).
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, perr := unix.Poll(pfd, 0)
	if perr == nil && n > 0 && pfd[0].Revents&unix.POLLIN != 0 {
		return false
	}
	return true
}

// AliveID is Alive for a full identity.
func AliveID(id ID) bool { return Alive(id.PID, uint32(id.Start)) }

var (
	nsOnce sync.Once
	ns     uint32
)

// PidNamespace returns the low 32 bits of the inode of the calling
// process's pid namespace (/proc/self/ns/pid), or 0 when it cannot be read.
// Pids, and so lock owners, mean something only inside one namespace.
func PidNamespace() uint32 {
	nsOnce.Do(func() {
		var st unix.Stat_t
		if unix.Stat("/proc/self/ns/pid", &st) == nil {
			ns = uint32(st.Ino)
		}
	})
	return ns
}
