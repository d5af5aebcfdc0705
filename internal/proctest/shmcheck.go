package proctest

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/segment"
)

// CheckShm records the entries of /dev/shm now and, when the test ends,
// fails it if entries appeared that are still there, that no process holds
// (after a grace period for children that are exiting), and that this
// process or a child it started made. Entries that were already present
// are left alone, and so are entries some live process holds open and
// entries whose recorded creator is another process: `go test ./...` runs
// other packages' tests at the same time (and other checkouts may run
// theirs), and their objects are not our leaks. An entry whose creator
// cannot be read (a file made outside multiproc: Python's and C's, made
// by interop tests that remove their own) is not counted either, and is
// never removed: CheckShm removes only what it has shown to be ours.
func CheckShm(t testing.TB) {
	t.Helper()
	before := listShm()
	t.Cleanup(func() {
		var leaked []string
		for try := 0; try < 40; try++ {
			leaked = leaked[:0]
			for _, n := range listShm() {
				if !slices.Contains(before, n) && !held(n) && madeByUs(n) {
					leaked = append(leaked, n)
				}
			}
			if len(leaked) == 0 {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Errorf("test left objects in /dev/shm: %v", leaked)
		for _, n := range leaked {
			os.Remove("/dev/shm/" + n)
		}
	})
}

func listShm() []string {
	es, _ := os.ReadDir("/dev/shm")
	names := make([]string, 0, len(es))
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// madeByUs reports whether the entry name was created by this process or
// by a child started through this package, as far as its file records a
// creator (a typed object's header, a semaphore's trailer, a raw segment's
// metadata).
func madeByUs(name string) bool {
	pid, ok := creatorPID(name)
	if !ok {
		return false
	}
	if pid == os.Getpid() {
		return true
	}
	started.Lock()
	defer started.Unlock()
	return started.pids[pid]
}

// creatorPID reads the creator recorded in the file name, without opening
// it for use.
func creatorPID(name string) (int, bool) {
	if m, err := segment.ReadMeta(name); err == nil && m.PID > 0 {
		return m.PID, true
	}
	f, err := os.Open(segment.Path(name))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	if strings.HasPrefix(name, "sem.") {
		// A multiproc semaphore: the 32-byte sem_t, then the trailer of
		// internal/posixsem (which imports this package's users' tests,
		// so it is read here by offset): magic at 32, creator pid at 56.
		var tr [32]byte
		if n, _ := f.ReadAt(tr[:], 32); n == len(tr) && string(tr[:8]) == "MPGOSEM\x00" {
			return int(binary.LittleEndian.Uint32(tr[24:])), true
		}
		return 0, false
	}
	head := make([]byte, layout.HeaderSize)
	st, err := f.Stat()
	if err != nil {
		return 0, false
	}
	if n, _ := f.ReadAt(head, 0); n != len(head) {
		return 0, false
	}
	h, err := layout.DecodeHead(head, st.Size())
	if err != nil {
		return 0, false
	}
	return int(h.CreatorPID), true
}

// started holds the pids of every child this process started.
var started struct {
	sync.Mutex
	pids map[int]bool
}

func noteStarted(pid int) {
	started.Lock()
	defer started.Unlock()
	if started.pids == nil {
		started.pids = make(map[int]bool)
	}
	started.pids[pid] = true
}

func held(name string) bool {
	h, err := segment.Held(name)
	return err == nil && h
}

// Exclusive serialises tests across test binaries (go test runs packages
// in parallel): it blocks until it holds the named lock, a flock on a file
// in the temporary directory, and returns its release. Tests that make
// leaked objects and sweep them take the same lock, so one package's sweep
// never removes another's objects mid-test.
func Exclusive(name string) (release func()) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "multiproc-test-"+name+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		panic("proctest: " + err.Error())
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	return func() { f.Close() }
}
