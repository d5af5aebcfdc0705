package track

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/proc"
	"github.com/multiproc/multiproc/internal/shmfile"
	"golang.org/x/sys/unix"
)

// HeldPollInterval is how often the tracker, once every client is gone,
// tests again the objects that another process still holds.
const HeldPollInterval = 200 * time.Millisecond

// server is the tracker process: it reads the connection until EOF, then
// removes what is left (see the package documentation).
type server struct {
	live    map[string]Entry
	clients map[int]uint32 // pid → start32 of every client that said hello
	reg     *registry
	out     io.Writer
}

// exitGrace bounds how long the tracker, at EOF, waits for the clients
// that said hello to finish exiting before it calls an object still held
// "open in another process". A process closes its fds one by one as it
// exits, so the pipe may report EOF while the same dying process still
// holds the flocks of objects it had open; it is dead (a zombie at worst)
// once they are all released. A client that closed the pipe but lives on
// (it exec'd another program) is not waited for past this bound.
const exitGrace = 2 * time.Second

// serve is the tracker's main; it returns the exit status.
func serve(program proc.ID) int {
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGPIPE)
	in := os.NewFile(serveFd, "tracker connection")
	s := &server{live: map[string]Entry{}, clients: map[int]uint32{}, out: os.Stderr}
	reg, err := createRegistry(proc.Self(), program)
	if err != nil {
		fmt.Fprintf(s.out, "multiproc tracker: no registry file (%v): leaks are still cleaned up at exit, but not if the tracker itself is killed\n", err)
	}
	s.reg = reg
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
	s.read(in)
	s.reg.clientsGone()
	s.drain()
	<-swept
	s.reg.remove()
	return 0
}

// read applies messages until every client is gone (EOF). Records are
// written to the registry in batches: one write per burst of messages.
func (s *server) read(in io.Reader) {
	br := bufio.NewReaderSize(in, 16<<10)
	var batch []byte
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			for err == bufio.ErrBufferFull { // no message is this long: skip it
				_, err = br.ReadSlice('\n')
			}
			continue
		}
		if err != nil {
			break // EOF; a partial last line was never a whole message
		}
		text := string(line[:len(line)-1])
		if pid, start, ok := parseHello(text); ok {
			s.clients[pid] = start
		} else if apply(s.live, text) {
			batch = append(batch, line...)
		}
		if br.Buffered() == 0 {
			s.reg.record(batch, s.live)
			batch = batch[:0]
		}
	}
	s.reg.record(batch, s.live)
}

// drain removes every registered object nobody holds, printing a line for
// each, and watches the held ones until they can be removed too.
func (s *server) drain() {
	announced := map[string]bool{}
	eof := time.Now()
	for {
		var done []byte
		for _, e := range sorted(s.live) {
			kind := describe(e.File)
			removed, err := shmfile.TryRemove(shmfile.Path(e.File), e.id())
			switch {
			case err != nil:
				fmt.Fprintf(s.out, "multiproc tracker: cannot remove leaked %s %s: %v\n", kind, e.File, err)
			case removed:
				fmt.Fprintf(s.out, "multiproc tracker: removed leaked %s %s (created by pid %d, never unlinked)\n", kind, e.File, e.PID)
			case isFile(e):
				continue
			}
			// Removed, gone, replaced or unremovable: forget it.
			delete(s.live, e.File)
			done = append(done, "U "+quote(e.File)+"\n"...)
		}
		s.reg.record(done, s.live)
		if len(s.live) == 0 {
			return
		}
		if s.clientsExiting() && time.Since(eof) < exitGrace {
			time.Sleep(time.Millisecond) // their flocks go within moments
			continue
		}
		for _, e := range sorted(s.live) {
			if !announced[e.File] {
				announced[e.File] = true
				fmt.Fprintf(s.out, "multiproc tracker: leaked %s %s is still open in another process; it will be removed once nobody holds it\n", describe(e.File), e.File)
			}
		}
		time.Sleep(HeldPollInterval)
	}
}

// clientsExiting reports whether a client that said hello has not yet
// finished exiting, forgetting those that have.
func (s *server) clientsExiting() bool {
	for pid, start := range s.clients {
		if exited(pid, start) {
			delete(s.clients, pid)
		}
	}
	return len(s.clients) > 0
}

// exited reports whether every thread of the process pid (with start time
// start32) has finished exiting, so that all its files are closed and its
// flocks released. proc.Alive is not that: it calls a process dead as soon
// as its main thread is a zombie, while its other threads may still be
// closing files. A pidfd polls readable only once the whole thread group
// has exited, after the last thread released its files.
func exited(pid int, start32 uint32) bool {
	start, _, err := proc.Stat(pid)
	if err != nil || uint32(start) != start32 {
		return true // reaped, or the pid now names another process
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return err == unix.ESRCH || !proc.Alive(pid, start32)
	}
	defer unix.Close(fd)
	if start, _, err := proc.Stat(pid); err != nil || uint32(start) != start32 {
		return true // reused between the two looks: the fd is another's
	}
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(pfd, 0)
	return err == nil && n > 0 && pfd[0].Revents&unix.POLLIN != 0
}

// hello is the first message of every client: "H <pid> <start32>".
func hello() string {
	me := proc.Self()
	return fmt.Sprintf("H %d %d\n", me.PID, me.Start32())
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

// describe names the kind of an object for messages, from its header (read
// with pread, never mapped), its metadata attribute or its name.
func describe(file string) string {
	fd, err := unix.Open(shmfile.Path(file), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err == nil {
		defer unix.Close(fd)
		var st unix.Stat_t
		head := make([]byte, layout.HeaderSize)
		if unix.Fstat(fd, &st) == nil {
			if n, _ := unix.Pread(fd, head, 0); n == len(head) {
				if h, err := layout.DecodeHead(head, st.Size); err == nil {
					return h.Kind.String()
				}
			}
		}
		if n, _ := unix.Fgetxattr(fd, "user.multiproc", nil); n > 0 {
			return layout.KindRaw.String()
		}
		// A multiproc semaphore: the glibc sem_t, then a trailer whose
		// magic and kind (posixsem.Trailer, which this package cannot
		// import) name it.
		trailer := make([]byte, 16)
		if n, _ := unix.Pread(fd, trailer, 32); n == len(trailer) && string(trailer[:8]) == "MPGOSEM\x00" {
			if k := layout.Kind(binary.LittleEndian.Uint32(trailer[12:])); k == layout.KindSemaphore || k == layout.KindBounded {
				return k.String()
			}
		}
	}
	if strings.HasPrefix(file, "sem.") {
		return "semaphore"
	}
	return "object"
}
