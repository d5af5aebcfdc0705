package track

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/proc"
	"github.com/multiproc/multiproc/internal/shmfile"
	"golang.org/x/sys/unix"
)

// RegistryPrefix starts the file name of every tracker's registry in /dev/shm.
const RegistryPrefix = "mpgo_tracker_"

// The registry file is text, one record a line, in the connection's own
// message format after a header:
//
//	multiproc tracker registry v2 tracker=<pid>:<start> program=<pid>:<start>
//	R <dev> <ino> <creator pid> <creator start32> <kind> <lifetime> <quoted file name>
//	U <quoted file name>
//	E                       (every client is gone; the tracker is draining)
//
// kind is the layout.Kind number of the object, lifetime the word of its
// Lifetime ("unlink" or "creator"). Version 1 registries (and R messages)
// had neither: "R <dev> <ino> <creator pid> <creator start32> <quoted file
// name>". Readers take both, a v1 record as an object of unknown kind that
// lives until it is unlinked, which is what every object was then.
//
// The tracker appends a batch of records with one write after each batch
// of messages, and rewrites the file with only the live records when it has
// grown past twice their number. Readers replay the records in order and
// skip a line that does not parse (a rewrite cut short by SIGKILL).
const (
	registryMagic  = "multiproc tracker registry "
	registryHeader = registryMagic + "v2 "
)

// maxRegistry bounds what a reader loads: far more than any real registry.
const maxRegistry = 64 << 20

// Entry is one object a tracker has registered.
type Entry struct {
	File     string // file name in /dev/shm
	Dev      uint64 // the file registered: a newer file under the same name is not it
	Ino      uint64
	PID      int         // creator
	Start32  uint32      // low bits of the creator's start time (proc.Alive)
	Kind     layout.Kind // 0 in a version 1 record
	Lifetime Lifetime    // UntilUnlink in a version 1 record
}

// id is the identity of the file registered.
func (e Entry) id() shmfile.ID { return shmfile.ID{Dev: e.Dev, Ino: e.Ino} }

// line is e's R message.
func (e Entry) line() string {
	return fmt.Sprintf("R %d %d %d %d %d %s %s\n", e.Dev, e.Ino, e.PID, e.Start32, uint32(e.Kind), e.Lifetime.word(), strconv.Quote(e.File))
}

// Registry is the content of a tracker's registry file.
type Registry struct {
	File        string  // its file name in /dev/shm
	Tracker     proc.ID // the tracker process
	Program     proc.ID // the process that started it
	ClientsGone bool    // every client has gone; the tracker is removing what is left
	Entries     []Entry // registered and not yet removed, sorted by File
	UID         uint32  // owner of the registry file
}

// IsRegistry reports whether file is named like a tracker registry.
func IsRegistry(file string) bool { return strings.HasPrefix(file, RegistryPrefix) }

// ReadRegistry reads the registry Dir/file without locking it. A file that
// is not a registry is an error naming what is wrong with it.
func ReadRegistry(file string) (Registry, error) {
	p := shmfile.Path(file)
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		if err == unix.ENOENT {
			return Registry{}, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		}
		return Registry{}, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	return readRegistry(f, file)
}

func readRegistry(f *os.File, file string) (Registry, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return Registry{}, &fs.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size > maxRegistry {
		return Registry{}, &fs.PathError{Op: "read", Path: f.Name(), Err: errors.New("not a tracker registry (not a regular file of plausible size)")}
	}
	b, err := io.ReadAll(io.NewSectionReader(f, 0, maxRegistry))
	if err != nil {
		return Registry{}, &fs.PathError{Op: "read", Path: f.Name(), Err: err}
	}
	r, err := parseRegistry(b)
	if err != nil {
		return Registry{}, &fs.PathError{Op: "read", Path: f.Name(), Err: err}
	}
	r.File, r.UID = file, st.Uid
	return r, nil
}

func parseRegistry(b []byte) (Registry, error) {
	var r Registry
	first, rest, _ := bytes.Cut(b, []byte("\n"))
	head, ok := strings.CutPrefix(string(first), registryMagic)
	if !ok {
		return r, errors.New("not a tracker registry (no header)")
	}
	if head, ok = cutVersion(head); !ok {
		return r, fmt.Errorf("tracker registry of an unknown version (%.20q): written by a newer multiproc?", head)
	}
	var tr, pr string
	if n, _ := fmt.Sscanf(head, "tracker=%s program=%s", &tr, &pr); n != 2 {
		return r, errors.New("not a tracker registry (bad header)")
	}
	if r.Tracker, ok = parseID(tr); !ok {
		return r, errors.New("not a tracker registry (bad tracker id)")
	}
	if r.Program, ok = parseID(pr); !ok {
		return r, errors.New("not a tracker registry (bad program id)")
	}
	live := map[string]Entry{}
	sc := bufio.NewScanner(bytes.NewReader(rest))
	sc.Buffer(nil, 4096)
	for sc.Scan() {
		if sc.Text() == "E" {
			r.ClientsGone = true
			continue
		}
		apply(live, sc.Text())
	}
	r.Entries = sorted(live)
	return r, nil
}

// cutVersion cuts a version this reader knows from the start of a header.
func cutVersion(head string) (string, bool) {
	for _, v := range []string{"v2 ", "v1 "} {
		if rest, ok := strings.CutPrefix(head, v); ok {
			return rest, true
		}
	}
	return head, false
}

// apply replays one record (without its newline) on live; it reports
// whether the record was well formed and changed something.
func apply(live map[string]Entry, line string) bool {
	op, rest, _ := strings.Cut(line, " ")
	switch op {
	case "R":
		e, ok := parseR(rest)
		if !ok {
			return false
		}
		live[e.File] = e
		return true
	case "U":
		name, err := strconv.Unquote(rest)
		if _, ok := live[name]; err != nil || !ok {
			return false
		}
		delete(live, name)
		return true
	}
	return false
}

// parseR reads an R record after its "R ", in either version.
func parseR(rest string) (Entry, bool) {
	f := strings.SplitN(rest, " ", 5)
	if len(f) != 5 {
		return Entry{}, false
	}
	dev, err1 := strconv.ParseUint(f[0], 10, 64)
	ino, err2 := strconv.ParseUint(f[1], 10, 64)
	pid, err3 := strconv.Atoi(f[2])
	start, err4 := strconv.ParseUint(f[3], 10, 32)
	if errors.Join(err1, err2, err3, err4) != nil || pid <= 0 {
		return Entry{}, false
	}
	e := Entry{Dev: dev, Ino: ino, PID: pid, Start32: uint32(start), Lifetime: UntilUnlink}
	quoted := f[4]
	if !strings.HasPrefix(quoted, `"`) { // version 2: kind and lifetime first
		g := strings.SplitN(quoted, " ", 3)
		if len(g) != 3 {
			return Entry{}, false
		}
		k, err := strconv.ParseUint(g[0], 10, 32)
		life, ok := parseLifetime(g[1])
		// Kind 0 is a creator that did not say: kept, as an "object".
		if err != nil || !ok || (k != 0 && !layout.Kind(k).Valid()) {
			return Entry{}, false
		}
		e.Kind, e.Lifetime, quoted = layout.Kind(k), life, g[2]
	}
	name, err := strconv.Unquote(quoted)
	if err != nil || !validName(name) {
		return Entry{}, false
	}
	e.File = name
	return e, true
}

// validName accepts what segment.CleanName returns, one file name in
// /dev/shm, that is not a registry.
func validName(name string) bool { return shmfile.IsFileName(name) && !IsRegistry(name) }

func sorted(live map[string]Entry) []Entry {
	es := make([]Entry, 0, len(live))
	for _, e := range live {
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b Entry) int { return strings.Compare(a.File, b.File) })
	return es
}

// registry is the tracker's own registry file, held with LOCK_EX while
// the tracker lives.
type registry struct {
	f     *os.File
	name  string
	head  string
	lines int  // records in the file
	gone  bool // "E" written
}

// createRegistry makes the registry nameless (O_TMPFILE), locks it and
// writes its header before linking it under a fresh name, so no sweeper
// ever sees it published and unlocked.
func createRegistry(tracker, program proc.ID) (*registry, error) {
	fd, err := unix.Open(shmfile.Dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: shmfile.Dir, Err: err}
	}
	f := os.NewFile(uintptr(fd), shmfile.Dir)
	unix.Fchmod(fd, 0o600)
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		f.Close()
		return nil, &fs.PathError{Op: "flock", Path: shmfile.Dir, Err: err}
	}
	r := &registry{f: f, head: fmt.Sprintf("%stracker=%d:%d program=%d:%d\n", registryHeader, tracker.PID, tracker.Start, program.PID, program.Start)}
	if _, err := f.WriteString(r.head); err != nil {
		f.Close()
		return nil, &fs.PathError{Op: "write", Path: shmfile.Dir, Err: err}
	}
	for range 10 {
		var b [8]byte
		rand.Read(b[:])
		name := RegistryPrefix + hex.EncodeToString(b[:])
		err = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), unix.AT_FDCWD, shmfile.Path(name), unix.AT_SYMLINK_FOLLOW)
		if err == nil {
			r.name = name
			return r, nil
		}
		if err != unix.EEXIST {
			break
		}
	}
	f.Close()
	return nil, &fs.PathError{Op: "link", Path: shmfile.Dir, Err: err}
}

// record appends records (whole lines) and compacts the file when it has
// grown well past the live set.
func (r *registry) record(b []byte, live map[string]Entry) {
	if r == nil || len(b) == 0 {
		return
	}
	r.lines += bytes.Count(b, []byte("\n"))
	if r.lines > 2*len(live)+256 {
		r.rewrite(live)
		return
	}
	r.f.Write(b)
}

func (r *registry) rewrite(live map[string]Entry) {
	var b strings.Builder
	b.WriteString(r.head)
	for _, e := range sorted(live) {
		b.WriteString(e.line())
	}
	if r.gone {
		b.WriteString("E\n")
	}
	r.f.WriteAt([]byte(b.String()), 0)
	r.f.Truncate(int64(b.Len()))
	r.f.Seek(int64(b.Len()), io.SeekStart)
	r.lines = len(live) + 1
}

func (r *registry) clientsGone() {
	if r != nil {
		r.gone = true
		r.f.WriteString("E\n")
	}
}

// remove unlinks the registry (it holds the lock, so the name is still
// ours) and closes it, dropping the lock.
func (r *registry) remove() {
	if r == nil {
		return
	}
	unix.Unlink(shmfile.Path(r.name))
	r.f.Close()
}
