package track

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/proc"
	"github.com/multiproc/multiproc/internal/shmfile"
)

// The tracker process, in the order its work happens:
//
//  1. follow: one loop polls the connection's read end and a pidfd for
//     every client that said hello. Messages are applied as they come. When
//     a client's pidfd reports that the whole process has exited (its files
//     closed, its flocks released), the loop first reads everything the
//     connection holds — all that client wrote was written before it
//     exited — and then ends the lifetime of the objects that client
//     created without a name (WhileCreatorHolds): their names are removed
//     at once, whoever still holds them. Once the kernel says how the
//     client ended (exitOf), a client killed by a signal gets one line per
//     such object; an exit says nothing.
//  2. At EOF every write end is closed, so every client is gone or has
//     exec'd another program. follow waits up to exitGrace for the clients
//     still exiting, and up to statusWait for how each ended.
//  3. drain: the objects that live until Unlink (UntilUnlink) and are
//     left are removed, each only once nobody holds it, one line each. One
//     that some other process still holds is watched until it is let go.

// HeldPollInterval is how often the tracker, once every client is gone,
// tests again the objects that another process still holds.
const HeldPollInterval = 200 * time.Millisecond

// exitGrace bounds how long the tracker, at EOF, waits for the clients
// that said hello to finish exiting: a process closes its fds one by one
// as it exits, so the pipe may report EOF while the same dying process
// still holds the flocks of objects it had open. A client that closed the
// pipe but lives on (it exec'd another program) is not waited for past
// this bound.
const exitGrace = 2 * time.Second

// statusWait bounds how long the tracker waits, after a client has gone,
// for the kernel to say how it ended (its parent has to reap it first).
const statusWait = 2 * time.Second

// statusPoll is how often the tracker asks again while it waits.
const statusPoll = 5 * time.Millisecond

// server is the tracker process (see the package documentation).
type server struct {
	in      int // the connection's read end, non-blocking
	partial []byte
	eof     time.Time // when the connection reported EOF; zero before

	live    map[string]Entry
	owed    []owed        // queues and pipes removed while held: their side segments, once unheld
	clients map[int]*peer // by pid: every process that said hello
	reg     *registry
	out     io.Writer
}

// peer is one client process of the program, as the tracker follows it.
type peer struct {
	pid     int
	start32 uint32
	pidfd   int       // -1 if none could be opened (it was gone already)
	gone    time.Time // when it was seen to have exited; zero while it runs
	end     end       // how it ended, once settled
	settled bool      // its end is known, or will never be
	removed []Entry   // its anonymous objects removed at its exit, for the lines
}

// serve is the tracker's main, reading the connection's read end in and
// told of its first client by pidfd (-1 if none); it returns the exit
// status.
func serve(program proc.ID, in, pidfd int) int {
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGPIPE)
	s := &server{in: in, live: map[string]Entry{}, clients: map[int]*peer{}, out: os.Stderr}
	if err := unix.SetNonblock(in, true); err != nil {
		fmt.Fprintf(s.out, "multiproc tracker: %v\n", err)
		return 1
	}
	reg, err := createRegistry(proc.Self(), program)
	if err != nil {
		fmt.Fprintf(s.out, "multiproc tracker: no registry file (%v): leaks are still cleaned up at exit, but not if the tracker itself is killed\n", err)
	}
	s.reg = reg
	if pidfd >= 0 && isPidfdOf(pidfd, program.PID) {
		s.clients[program.PID] = &peer{pid: program.PID, start32: uint32(program.Start), pidfd: pidfd}
	}
	// Opportunistic sweep of registries whose tracker was killed: cheap,
	// and safe by the same flock rule.
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		own := ""
		if reg != nil {
			own = reg.name
		}
		sweepOrphans(own)
	}()
	s.follow()
	s.reg.clientsGone()
	s.drain()
	<-swept
	s.reg.remove()
	return 0
}

// follow runs steps 1 and 2: until EOF, and until every client's end is
// settled or past waiting for.
func (s *server) follow() {
	var fds []unix.PollFd
	var polled []*peer
	for {
		now := time.Now()
		if !s.eof.IsZero() {
			if s.running() && now.Sub(s.eof) >= exitGrace {
				s.giveUpOnRunning(now)
			}
			if !s.running() && !s.waitingForStatus() {
				return
			}
		}
		fds, polled = fds[:0], polled[:0]
		if s.eof.IsZero() {
			fds = append(fds, unix.PollFd{Fd: int32(s.in), Events: unix.POLLIN})
		}
		base := len(fds)
		for _, c := range s.sortedClients() {
			if c.gone.IsZero() && c.pidfd >= 0 {
				fds = append(fds, unix.PollFd{Fd: int32(c.pidfd), Events: unix.POLLIN})
				polled = append(polled, c)
			}
		}
		if _, err := unix.Poll(fds, s.pollTimeout(now)); err != nil && err != unix.EINTR {
			fmt.Fprintf(s.out, "multiproc tracker: poll: %v\n", err)
			time.Sleep(statusPoll)
		}
		// Read before acting on exits: what an exited client wrote is in
		// the pipe already.
		s.readAvailable()
		now = time.Now()
		for i, c := range polled {
			if fds[base+i].Revents != 0 {
				s.exited(c, now)
			}
		}
		for _, c := range s.sortedClients() {
			// Clients no pidfd follows: asked after, from /proc. Dead by
			// its word means a zombie at least, whose files may not all be
			// closed yet; their anonymous objects go by identity, which
			// needs no flock, and named ones wait for the drain.
			if c.gone.IsZero() && c.pidfd < 0 && !proc.Alive(c.pid, proc.StartTag(uint64(c.start32))) {
				s.exited(c, now)
			}
		}
		s.settle(now)
	}
}

// pollTimeout is how long follow may sleep in poll, in milliseconds (-1:
// until something happens).
func (s *server) pollTimeout(now time.Time) int {
	d := time.Duration(-1)
	for _, c := range s.clients {
		if c.gone.IsZero() && c.pidfd < 0 {
			d = HeldPollInterval // a client no pidfd follows: look again then
		}
	}
	if s.waitingForStatus() {
		d = statusPoll
	}
	if !s.eof.IsZero() && s.running() {
		if left := exitGrace - now.Sub(s.eof); d < 0 || left < d {
			d = left
		}
	}
	if d < 0 {
		return -1
	}
	return int((d + time.Millisecond - 1) / time.Millisecond)
}

// readAvailable reads and applies every whole message the connection
// holds now; at EOF it records the time.
func (s *server) readAvailable() {
	if !s.eof.IsZero() {
		return
	}
	var buf [16 << 10]byte
	var batch []byte
	for {
		n, err := unix.Read(s.in, buf[:])
		if err == unix.EINTR {
			continue
		}
		if n <= 0 {
			if err == nil { // 0: every write end is closed
				s.eof = time.Now()
			}
			break
		}
		s.partial = append(s.partial, buf[:n]...)
		for {
			i := bytes.IndexByte(s.partial, '\n')
			if i < 0 {
				break
			}
			line := s.partial[:i+1]
			if s.apply(string(line[:i])) {
				batch = append(batch, line...)
			}
			s.partial = s.partial[i+1:]
		}
		if len(s.partial) > 4096 { // no message is this long: drop it
			s.partial = s.partial[:0]
		}
	}
	s.partial = slices.Clip(s.partial)
	s.reg.record(batch, s.live)
}

// apply handles one message; it reports whether it is a registry record.
func (s *server) apply(line string) bool {
	if pid, start, ok := parseHello(line); ok {
		if old := s.clients[pid]; old != nil && old.start32 == start {
			return false // said hello again (a replay after a restart)
		}
		if old := s.clients[pid]; old != nil && old.gone.IsZero() {
			s.exited(old, time.Now()) // its pid was reused: it is gone
		}
		fd, gone := followPid(pid, start)
		c := &peer{pid: pid, start32: start, pidfd: fd}
		s.clients[pid] = c
		if gone {
			s.exited(c, time.Now()) // gone before its hello was read
		}
		return false
	}
	if !apply(s.live, line) {
		return false
	}
	// A record read after its creator was seen to exit (it exited before
	// the tracker read its messages): its lifetime may be over already.
	if r, ok := strings.CutPrefix(line, "R "); ok {
		if e, ok := parseR(r); ok && e.Lifetime == WhileCreatorHolds {
			if c := s.clients[e.PID]; c != nil && c.start32 == e.Start32 && !c.gone.IsZero() {
				s.reg.record([]byte(line+"\n"), s.live)
				s.exited(c, time.Now())
				return false // recorded, and already undone
			}
		}
	}
	return true
}

// exited ends the lifetime of the anonymous objects c created: c has gone,
// and with it every hold it had.
func (s *server) exited(c *peer, now time.Time) {
	if c.gone.IsZero() {
		c.gone = now
	}
	var done []byte
	for _, e := range sorted(s.live) {
		if e.Lifetime != WhileCreatorHolds || e.PID != c.pid || e.Start32 != c.start32 {
			continue
		}
		err := s.removeOwned(e)
		switch {
		case err == nil && c.settled:
			s.sayRemovedBy(c, e) // a record read after its creator was settled
		case err == nil:
			c.removed = append(c.removed, e)
		case !isNotExist(err):
			fmt.Fprintf(s.out, "multiproc tracker: cannot remove %s %s: %v\n", kindWord(e.Kind), e.File, err)
		}
		delete(s.live, e.File)
		done = append(done, "U "+quote(e.File)+"\n"...)
	}
	s.reg.record(done, s.live)
}

// settle learns how the clients that have gone ended, and prints the lines
// of those killed by a signal.
func (s *server) settle(now time.Time) {
	for _, c := range s.sortedClients() {
		if c.gone.IsZero() || c.settled {
			continue
		}
		e, ok := exitOf(c.pidfd, c.pid, c.start32)
		if !ok && c.pidfd >= 0 && now.Sub(c.gone) < statusWait {
			continue // ask again soon
		}
		c.end = e
		c.settled = true
		if c.pidfd >= 0 {
			unix.Close(c.pidfd)
			c.pidfd = -1
		}
		for _, e := range c.removed {
			s.sayRemovedBy(c, e)
		}
		c.removed = nil
		if !s.created(c) {
			delete(s.clients, c.pid) // nothing left to say about it
		}
	}
}

// sayRemovedBy prints the line for e, an anonymous object of c's removed at
// c's exit, if a signal killed c; an exit says nothing.
func (s *server) sayRemovedBy(c *peer, e Entry) {
	if c.end.killed() {
		s.say(RemovedLine("removed", kindWord(e.Kind), e.File, e.PID, whyKilled(unix.SignalName(c.end.signal))))
	}
}

// created reports whether a registered object left was created by c.
func (s *server) created(c *peer) bool {
	for _, e := range s.live {
		if e.PID == c.pid && e.Start32 == c.start32 {
			return true
		}
	}
	return false
}

// waitingForStatus reports whether a client has gone whose end may still
// be learned.
func (s *server) waitingForStatus() bool {
	for _, c := range s.clients {
		if !c.gone.IsZero() && !c.settled {
			return true
		}
	}
	return false
}

// running reports whether a client that said hello has not been seen to
// exit.
func (s *server) running() bool {
	for _, c := range s.clients {
		if c.gone.IsZero() {
			return true
		}
	}
	return false
}

// giveUpOnRunning treats the clients still running past exitGrace after
// EOF as gone: they closed the connection, so they exec'd another program,
// which knows nothing of their objects.
func (s *server) giveUpOnRunning(now time.Time) {
	for _, c := range s.sortedClients() {
		if c.gone.IsZero() {
			s.exited(c, now)
			c.end, c.settled = end{}, true
			if c.pidfd >= 0 {
				unix.Close(c.pidfd)
				c.pidfd = -1
			}
			c.removed = nil
		}
	}
}

// isPidfdOf reports whether fd is a pidfd for the process pid: its fdinfo
// says "Pid:\t<pid>", or "Pid:\t-1" once that process has exited (Linux
// 5.3 and later). Only the process that started the tracker puts a file at
// that fd, so a dead process's pidfd there is its.
func isPidfdOf(fd, pid int) bool {
	b, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(fd))
	return err == nil && (bytes.Contains(b, []byte("\nPid:\t"+strconv.Itoa(pid)+"\n")) || bytes.Contains(b, []byte("\nPid:\t-1\n")))
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

func (s *server) sortedClients() []*peer {
	cs := make([]*peer, 0, len(s.clients))
	for _, c := range s.clients {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b *peer) int { return a.pid - b.pid })
	return cs
}

// endOf returns how the creator of e ended, if the tracker followed it.
func (s *server) endOf(e Entry) end {
	if c := s.clients[e.PID]; c != nil && c.start32 == e.Start32 {
		return c.end
	}
	return end{}
}

// drain is step 3: it removes every object left that nobody holds,
// printing a line for each object that lives until Unlink, and watches
// the held ones until they can be removed too. Anonymous objects left
// here belong to creators the tracker could not follow; their lifetime is
// over, and they go silently.
//
// A removal fails whenever any flock is on the file, and not only a
// holder's: `multiproc ls`, Held and a sweeper take an exclusive one for a
// moment to look. So an object is called "still open in another process"
// only when the kernel shows a shared flock on it (a process has it open),
// or when nothing explains the failure for exitGrace (a holder in another
// pid namespace, whose locks /proc/locks does not show). And while some
// failure is young and unexplained, drain tries again soon before it
// announces anything, so that what a moment's probe delayed is gone by
// the time anything is said about the rest.
func (s *server) drain() {
	announced := map[string]bool{}
	unclear := map[string]time.Time{} // file → since when its failures show no holder
	for {
		var done []byte
		var held []Entry
		now := time.Now()
		young := false
		for _, e := range sorted(s.live) {
			if e.Lifetime == WhileCreatorHolds {
				err := s.removeOwned(e)
				if err != nil && !isNotExist(err) {
					fmt.Fprintf(s.out, "multiproc tracker: cannot remove %s %s: %v\n", kindWord(e.Kind), e.File, err)
				} else if err == nil && s.endOf(e).killed() {
					s.say(RemovedLine("removed", kindWord(e.Kind), e.File, e.PID, whyKilled(unix.SignalName(s.endOf(e).signal))))
				}
				delete(s.live, e.File)
				done = append(done, "U "+quote(e.File)+"\n"...)
				continue
			}
			removed, err := shmfile.TryRemove(shmfile.Path(e.File), e.id())
			if removed {
				removeSides(e)
			}
			switch {
			case err != nil:
				fmt.Fprintf(s.out, "multiproc tracker: cannot remove leaked %s %s: %v\n", kindWord(e.Kind), e.File, err)
			case removed:
				why := WhyNeverUnlinked
				if end := s.endOf(e); end.killed() {
					why = whyKilled(unix.SignalName(end.signal))
				}
				s.say(RemovedLine("removed", kindWord(e.Kind), e.File, e.PID, why))
			case isFile(e):
				shared, exclusive, err := shmfile.Flocks(e.id())
				if err != nil || shared > 0 {
					delete(unclear, e.File)
					held = append(held, e) // open in some process
					continue
				}
				since, ok := unclear[e.File]
				if !ok {
					since, unclear[e.File] = now, now
				}
				switch {
				case now.Sub(since) < exitGrace:
					young = true
				case exclusive == 0:
					held = append(held, e) // a holder we cannot see
				}
				// An exclusive flock that lasts is a sweeper's or a probe's,
				// never a holder's: watched, and nothing said.
				continue
			}
			// Removed, gone, replaced or unremovable: forget it.
			delete(s.live, e.File)
			delete(unclear, e.File)
			done = append(done, "U "+quote(e.File)+"\n"...)
		}
		s.reg.record(done, s.live)
		s.payOwed()
		if len(s.live) == 0 {
			// The program's other processes (a Pool's workers) may still
			// map a queue or pipe whose name went: give them the grace
			// a dying process gets, then leave the rest to its last
			// holder's Close or to `multiproc clean`.
			for end := time.Now().Add(exitGrace); len(s.owed) > 0 && time.Now().Before(end); {
				time.Sleep(statusPoll)
				s.payOwed()
			}
			return
		}
		if young {
			time.Sleep(statusPoll)
			continue
		}
		for _, e := range held {
			if !announced[e.File] {
				announced[e.File] = true
				s.say(fmt.Sprintf("leaked %s %s is still open in another process; it will be removed once nobody holds it", kindWord(e.Kind), e.File))
			}
		}
		time.Sleep(HeldPollInterval)
	}
}

// say prints one line of the tracker's to the program's stderr.
func (s *server) say(line string) { fmt.Fprintf(s.out, "multiproc tracker: %s\n", line) }

// hello is the first message of every client: "H <pid> <start32>".
func hello() string {
	me := proc.Self()
	return fmt.Sprintf("H %d %d\n", me.PID, uint32(me.Start))
}

func parseHello(line string) (pid int, start32 uint32, ok bool) {
	rest, ok := strings.CutPrefix(line, "H ")
	if !ok {
		return 0, 0, false
	}
	if n, _ := fmt.Sscanf(rest, "%d %d", &pid, &start32); n != 2 || pid <= 0 {
		return 0, 0, false
	}
	return pid, start32, true
}

// isFile reports whether e's name still means the file registered.
func isFile(e Entry) bool {
	var st unix.Stat_t
	return unix.Lstat(shmfile.Path(e.File), &st) == nil && st.Dev == e.Dev && st.Ino == e.Ino
}

// removeSides removes, with a queue or a pipe that nobody holds, the side
// segments that carry its items too large for its ring: they live as long
// as it does, not as long as the processes that made them (see
// internal/shmfile/side.go). One still held is left to its last holder.
func removeSides(e Entry) {
	if isOwner(e) {
		shmfile.RemoveSides(shmfile.SidePrefix(e.File, e.Ino))
	}
}

// removeOwned removes the name of e, which lives while its creator holds
// it and whose creator is gone, whoever else holds it. A queue or a pipe
// nobody holds ends with its name, side segments and all (TryRemove
// unlinks under an exclusive flock, so nobody can open it meanwhile); one
// still held owes its side segments, paid once nobody holds it (payOwed)
// — through a descriptor kept now, as the name will be gone.
func (s *server) removeOwned(e Entry) error {
	path := shmfile.Path(e.File)
	if !isOwner(e) {
		return shmfile.Unlink(path, e.id())
	}
	if removed, err := shmfile.TryRemove(path, e.id()); err == nil && removed {
		removeSides(e)
		return nil
	}
	probe, perr := os.Open(path)
	err := shmfile.Unlink(path, e.id())
	switch {
	case perr != nil:
	case err == nil:
		s.owed = append(s.owed, owed{e, probe})
	default:
		probe.Close()
	}
	return err
}

// owed is a queue or a pipe removed while held, and a descriptor of it.
type owed struct {
	e     Entry
	probe *os.File
}

// payOwed removes the side segments of the queues and pipes in owed that
// nobody holds any more (their last holder died before its Close would
// have removed them, or closed before we looked).
func (s *server) payOwed() {
	kept := s.owed[:0]
	for _, o := range s.owed {
		if shmfile.LastHolder(o.probe, o.e.id()) {
			removeSides(o.e)
			o.probe.Close()
			continue
		}
		kept = append(kept, o)
	}
	s.owed = kept
}

func isOwner(e Entry) bool { return e.Kind == layout.KindQueue || e.Kind == layout.KindPipe }
