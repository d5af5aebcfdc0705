//go:build linux

package proc

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// ID is a process identity that survives pid reuse.
type ID struct {
	PID   int
	Start uint64 // start time in clock ticks since boot; 0 if unknown
	Tag   uint32 // the identity tag stored beside the pid (see the package doc); 0 if unknown
}

// The tag, bits high to low (see the package doc):
//
//	31     tagPidfs: bits 30..0 hold pidfs inode bits, else start-time bits
//	30..0  the low 31 bits of the pidfs inode number or of the start time
const (
	tagPidfs = 1 << 31
	tagBits  = 1<<31 - 1
)

// StartTag is the start-time tag of a process that started start clock
// ticks after boot. StartTag(uint64(start32)) makes the same tag from the
// low 32 bits of a start time, for records that keep only those (the
// tracker's).
func StartTag(start uint64) uint32 { return uint32(start) & tagBits }

func pidfsTag(ino uint64) uint32 { return uint32(ino)&tagBits | tagPidfs }

// IsPidfsTag reports whether tag holds pidfs inode bits rather than start
// time bits.
func IsPidfsTag(tag uint32) bool { return tag&tagPidfs != 0 }

var (
	selfOnce  sync.Once
	self      ID
	selfKnown bool // self.Tag was read from the kernel, not left 0 for want of a way
)

// Self returns the calling process's identity, with a pidfs tag if this
// process can open a pidfd on itself and pidfds live on pidfs, else with a
// start-time tag. It is read once; Go cannot fork, so a cached identity is
// never inherited by another pid.
func Self() ID {
	selfOnce.Do(func() {
		pid := os.Getpid()
		id, err := Lookup(pid)
		if err != nil {
			// Neither pidfd nor /proc: the pid alone identifies us now.
			id = ID{PID: pid}
		} else {
			selfKnown = true
		}
		self = id
	})
	return self
}

// Lookup returns the identity of the process that has pid now, with a tag
// of the kind Self uses. It fails with an error wrapping fs.ErrNotExist
// when no process has that pid, or it exited during the look.
func Lookup(pid int) (ID, error) {
	if pid <= 0 {
		return ID{}, fmt.Errorf("proc: pid %d: %w", pid, fs.ErrNotExist)
	}
	p, err := open(pid)
	if err == unix.ESRCH {
		return ID{}, fmt.Errorf("proc: pid %d: %w", pid, fs.ErrNotExist)
	}
	defer p.Close()
	id := ID{PID: pid}
	start, _, serr := Stat(pid)
	if serr == nil {
		id.Start = start
	}
	if ino, ok := p.pidfsIno(); ok {
		id.Tag = pidfsTag(ino)
	} else if serr == nil {
		id.Tag = StartTag(start)
	} else {
		return ID{}, fmt.Errorf("proc: pid %d: no pidfs and no /proc entry: %w", pid, serr)
	}
	if p.Exited() {
		// Gone during the look: the start time may be a newer process's.
		return ID{}, fmt.Errorf("proc: pid %d exited: %w", pid, fs.ErrNotExist)
	}
	return id, nil
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

// Alive reports whether the process identified by pid and tag is still
// running. A zombie counts as dead; a process this one can see neither
// through a pidfd nor in /proc counts as alive while its pid exists,
// because "dead" is only said on evidence.
func Alive(pid int, tag uint32) bool {
	p, alive := Watch(pid, tag)
	p.Close()
	return alive
}

// AliveID is Alive for a full identity: by its tag when it has one, else
// by its full start time (an identity read back from a file that kept only
// the start time).
func AliveID(id ID) bool {
	if id.Tag != 0 || id.Start == 0 {
		return Alive(id.PID, id.Tag)
	}
	p, alive := watch(id.PID, 0, id.Start)
	p.Close()
	return alive
}

// A Process is an open pidfd on a process whose identity has been checked,
// for callers that check the same process again and again: after Watch, a
// check is one poll (Process.Exited).
type Process struct {
	fd int
}

// Watch checks the process identified by pid and tag as Alive does. If it
// is alive and a pidfd could be opened on it, Watch returns that pidfd
// (the caller closes it); the pidfd refers to the identified process, not
// to whoever has the pid later. A process alive by the evidence of /proc
// alone comes with a nil *Process.
func Watch(pid int, tag uint32) (*Process, bool) {
	return watch(pid, tag, 0)
}

// watch implements Watch. With tag 0 and start non-zero it checks the
// full start time instead of a tag.
func watch(pid int, tag uint32, start uint64) (*Process, bool) {
	if pid <= 0 {
		return nil, false
	}
	if me := Self(); pid == me.PID {
		// Our own pid: a word with another identity is a former process's.
		// If we could not read our own identity, we cannot tell: alive.
		if start != 0 {
			return nil, start == me.Start || me.Start == 0
		}
		return nil, tag == me.Tag || !selfKnown
	}
	p, err := open(pid)
	if err == unix.ESRCH {
		return nil, false
	}
	byPidfs := start == 0 && IsPidfsTag(tag)
	if byPidfs && p != nil {
		if ino, ok := p.pidfsIno(); ok && pidfsTag(ino) != tag {
			p.Close()
			return nil, false // the pid names another process now
		}
		// Not on pidfs: this kernel cannot have made the tag; unverified.
	}
	st, state, serr := Stat(pid)
	switch {
	case serr == nil:
		if state == 'Z' || state == 'X' {
			p.Close()
			return nil, false
		}
		if !byPidfs && (start != 0 && st != start || start == 0 && StartTag(st) != tag) {
			p.Close()
			return nil, false // reused, or gone and reused since the pidfd
		}
	case errors.Is(serr, fs.ErrNotExist):
		if p == nil {
			return nil, false // neither a pidfd nor /proc: gone
		}
		// A hidden /proc entry (hidepid), or the process is gone: the
		// pidfd tells.
	}
	if p == nil {
		// No pidfd (pidfd_open denied, or a kernel before 5.3): /proc said
		// alive, or could not be read for another reason; trust it.
		return nil, true
	}
	if p.Exited() {
		p.Close()
		return nil, false
	}
	return p, true
}

// open opens a pidfd on pid: (nil, ESRCH) when no process has the pid,
// (nil, nil) when a pidfd cannot be had (old kernel, EPERM, EMFILE).
func open(pid int) (*Process, error) {
	fd, err := unix.PidfdOpen(pid, 0) // a pidfd is always close-on-exec
	switch {
	case err == nil:
		return &Process{fd: fd}, nil
	case err == unix.ESRCH:
		return nil, err
	}
	return nil, nil
}

// pidfsIno returns the inode number of the pidfd, if pidfds live on pidfs.
func (p *Process) pidfsIno() (uint64, bool) {
	if p == nil {
		return 0, false
	}
	var sfs unix.Statfs_t
	if unix.Fstatfs(p.fd, &sfs) != nil || sfs.Type != unix.PID_FS_MAGIC {
		return 0, false
	}
	var st unix.Stat_t
	if unix.Fstat(p.fd, &st) != nil {
		return 0, false
	}
	return st.Ino, true
}

// Exited reports whether the process has terminated: a pidfd polls
// readable once the whole thread group has exited, before it is reaped. A
// nil Process (no pidfd) reports false.
func (p *Process) Exited() bool {
	if p == nil {
		return false
	}
	pfd := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(pfd, 0)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n > 0 && pfd[0].Revents&(unix.POLLIN|unix.POLLHUP|unix.POLLERR) != 0
	}
}

// Close closes the pidfd. Closing a nil Process does nothing.
func (p *Process) Close() error {
	if p == nil || p.fd < 0 {
		return nil
	}
	err := unix.Close(p.fd)
	p.fd = -1
	return err
}

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
