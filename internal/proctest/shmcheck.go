package proctest

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/segment"
	"golang.org/x/sys/unix"
)

// CheckShm records the entries of /dev/shm now and, when the test ends,
// fails it if entries appeared that are still there and that no process
// holds (after a grace period for children that are exiting). Entries that
// were already present are left alone, and so are entries some live process
// holds open: `go test ./...` runs other packages' tests at the same time,
// and their live objects are not our leaks.
func CheckShm(t testing.TB) {
	t.Helper()
	before := listShm()
	t.Cleanup(func() {
		var leaked []string
		for try := 0; try < 40; try++ {
			leaked = leaked[:0]
			for _, n := range listShm() {
				if !slices.Contains(before, n) && !held(n) {
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
