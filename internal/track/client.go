package track

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/proc"
	"github.com/multiproc/multiproc/internal/reexec"
	"github.com/multiproc/multiproc/internal/shmfile"
	"golang.org/x/sys/unix"
)

const (
	// roleTracker is the tracker's role (internal/reexec); its one
	// argument is "<program pid>:<program start>".
	roleTracker = "multiproc.tracker"
	// envConn names an inherited connection: "<fd>:<dev>:<ino>:<tracker pid>".
	// dev and ino identify the pipe, so a stale variable that reached a
	// process without the fd never makes it write to some other file.
	envConn = "MULTIPROC_TRACKER_FD"

	// serveConn is the inherited file that is the tracker's read end;
	// servePidfd a pidfd for the process that started the tracker, so the
	// tracker learns how its first client ended even if that client is
	// gone before the tracker has read its hello.
	serveConn  = "conn"
	servePidfd = "pidfd"
)

// ErrNoTracker is returned by Inherit when the tracker cannot be started.
var ErrNoTracker = errors.New("multiproc resource tracker unavailable")

// client is this process's side of the connection.
type client struct {
	mu     sync.Mutex
	conn   *os.File // write end, nil until started or inherited
	connID [2]uint64
	pid    int               // the tracker's pid
	owned  map[string]string // file → its R message, replayed after a restart
	failed bool              // the tracker could not be started; warned once
}

var self = client{owned: map[string]string{}}

func init() {
	// A tracker runs from here, before the program's main, whatever main
	// does; then it exits.
	reexec.RegisterInit(roleTracker, runTracker)
	self.adopt()
}

// runTracker is the tracker role's body.
func runTracker(args []string) int {
	in := reexec.FD(serveConn)
	if len(args) != 1 || in < 0 || !isPipeEnd(in, unix.O_RDONLY) {
		fmt.Fprintf(os.Stderr, "multiproc tracker: started without its connection (args %q); exiting\n", args)
		return 1
	}
	prog, ok := parseID(args[0])
	if !ok {
		fmt.Fprintf(os.Stderr, "multiproc tracker: bad program id %q; exiting\n", args[0])
		return 1
	}
	return serve(prog, in, reexec.FD(servePidfd))
}

// Register records that this process created the file with identity id,
// to be published as file (a name in /dev/shm), holding an object of kind
// k whose name lives as life says: the tracker removes it when that
// lifetime ends (see Lifetime). A Persistent object is not registered. It
// starts the tracker on first use. Registration never fails the caller: if
// no tracker can run, a warning is printed once and the object is left to
// `multiproc clean`.
//
// Creators register a file before they publish it under its name, so that
// no instant exists in which a SIGKILL leaves a named, unregistered object
// behind. The tracker removes only a file that still has that identity
// under that name, so registering a file that never gets the name removes
// nothing. The returned undo restores the registration that file had
// before (none, or an earlier object's), for a creator whose publication
// failed.
func Register(file string, id shmfile.ID, k layout.Kind, life Lifetime) (undo func()) {
	if life == Persistent {
		return func() {}
	}
	me := proc.Self()
	msg := Entry{File: file, Dev: id.Dev, Ino: id.Ino, PID: me.PID, Start32: uint32(me.Start), Kind: k, Lifetime: life}.line()
	self.mu.Lock()
	defer self.mu.Unlock()
	prev, hadPrev := self.owned[file]
	self.owned[file] = msg
	if self.conn != nil || self.startLocked() {
		self.sendLocked(msg)
	}
	return func() {
		self.mu.Lock()
		defer self.mu.Unlock()
		if self.owned[file] != msg {
			return // registered again since: not ours to undo
		}
		if hadPrev {
			self.owned[file] = prev
		} else {
			delete(self.owned, file)
		}
		if self.conn == nil {
			return
		}
		if hadPrev {
			self.sendLocked(prev)
		} else {
			self.sendLocked("U " + strconv.Quote(file) + "\n")
		}
	}
}

// Unregister records that the object file was removed on purpose, so the
// tracker forgets it. It never starts a tracker.
func Unregister(file string) {
	self.mu.Lock()
	defer self.mu.Unlock()
	delete(self.owned, file)
	if self.conn != nil {
		self.sendLocked("U " + strconv.Quote(file) + "\n")
	}
}

// Inherit makes the process cmd will start a client of this program's
// tracker (starting the tracker if needed): the connection is appended to
// cmd.ExtraFiles and named in cmd.Env (os.Environ() if cmd.Env is nil).
// The child never starts a tracker of its own: objects it creates end as
// the program's do (see Lifetime) — those made without a name when the
// child exits, named ones once the last process of the program is gone.
// The pool package and the test harness start their workers this way.
// Call it before cmd.Start.
func Inherit(cmd *exec.Cmd) error {
	self.mu.Lock()
	defer self.mu.Unlock()
	if self.conn == nil && !self.startLocked() {
		return ErrNoTracker
	}
	fd := 3 + len(cmd.ExtraFiles)
	cmd.ExtraFiles = append(cmd.ExtraFiles, self.conn)
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(without(env, envConn), fmt.Sprintf("%s=%d:%d:%d:%d", envConn, fd, self.connID[0], self.connID[1], self.pid))
	return nil
}

// PID returns the pid of the tracker this process talks to, or 0 if it has
// none (yet).
func PID() int {
	self.mu.Lock()
	defer self.mu.Unlock()
	if self.conn == nil {
		return 0
	}
	return self.pid
}

// sendLocked writes msg to the running tracker. A failed write means the
// tracker is gone (EPIPE): start a new one and replay what this process
// still owns, which already reflects msg.
func (c *client) sendLocked(msg string) {
	if _, err := io.WriteString(c.conn, msg); err == nil {
		return
	}
	c.dropLocked()
	if len(c.owned) == 0 || !c.startLocked() {
		return
	}
	for _, m := range c.owned {
		if _, err := io.WriteString(c.conn, m); err != nil {
			c.dropLocked()
			c.warnLocked(err)
			return
		}
	}
}

func (c *client) dropLocked() {
	c.conn.Close()
	c.conn, c.pid = nil, 0
}

// startLocked starts a tracker for this process and its future children.
func (c *client) startLocked() bool {
	if c.failed {
		return false
	}
	r, w, err := os.Pipe()
	if err != nil {
		c.warnLocked(err)
		return false
	}
	me := proc.Self()
	// This very binary (/proc/self/exe, even if its file was replaced
	// since), in the tracker's role. A Cmd reaps it, should it ever exit
	// before us; it is never stopped: it ends when its clients are gone.
	cmd := reexec.Command(roleTracker, fmt.Sprintf("%d:%d", me.PID, me.Start))
	cmd.Cmd.Args = []string{filepath.Base(os.Args[0]) + " [multiproc tracker]"}
	cmd.Cmd.Env = without(cmd.Cmd.Env, envConn)
	cmd.Cmd.Stderr = os.Stderr
	cmd.Cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.AddFile(serveConn, r)
	if fd, err := pidfdOpen(os.Getpid(), 0); err == nil {
		pidfd := os.NewFile(uintptr(fd), "pidfd")
		defer pidfd.Close()
		cmd.AddFile(servePidfd, pidfd)
	}
	err = cmd.Start()
	r.Close()
	if err != nil {
		w.Close()
		c.warnLocked(err)
		return false
	}
	var st unix.Stat_t
	unix.Fstat(int(w.Fd()), &st)
	c.conn, c.connID, c.pid = w, [2]uint64{st.Dev, st.Ino}, cmd.Pid()
	io.WriteString(w, hello())
	return true
}

func (c *client) warnLocked(err error) {
	c.failed = true
	fmt.Fprintf(os.Stderr, "multiproc: cannot run the resource tracker (%v); objects this program leaks stay in /dev/shm until `multiproc clean`\n", err)
}

// adopt takes over a connection inherited from the parent process, if the
// environment names one and the fd really is that pipe's write end.
func (c *client) adopt() {
	v, ok := os.LookupEnv(envConn)
	if !ok {
		return
	}
	os.Unsetenv(envConn) // this process's children get it only through Inherit
	var fd, pid int
	var dev, ino uint64
	if n, _ := fmt.Sscanf(v, "%d:%d:%d:%d", &fd, &dev, &ino, &pid); n != 4 || fd < 3 {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Dev != dev || st.Ino != ino || !isPipeEnd(fd, unix.O_WRONLY) {
		return
	}
	unix.CloseOnExec(fd)
	c.conn, c.connID, c.pid = os.NewFile(uintptr(fd), "multiproc-tracker"), [2]uint64{dev, ino}, pid
	if _, err := io.WriteString(c.conn, hello()); err != nil {
		c.dropLocked() // the tracker is gone; Register starts another
	}
}

// isPipeEnd reports whether fd is a pipe opened with access mode acc.
func isPipeEnd(fd, acc int) bool {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return false
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	return err == nil && fl&unix.O_ACCMODE == acc
}

func parseID(s string) (proc.ID, bool) {
	p, st, ok := strings.Cut(s, ":")
	pid, err1 := strconv.Atoi(p)
	start, err2 := strconv.ParseUint(st, 10, 64)
	if !ok || err1 != nil || err2 != nil || pid <= 0 {
		return proc.ID{}, false
	}
	return proc.ID{PID: pid, Start: start}, true
}

func without(env []string, keys ...string) []string {
	out := make([]string, 0, len(env)+1)
next:
	for _, kv := range env {
		for _, k := range keys {
			if strings.HasPrefix(kv, k+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}
