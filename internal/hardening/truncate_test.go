package hardening

// Truncation: another process of the same user cuts an object's file
// short while this one has it mapped (issue 13, hole 2). The library's own
// reads of such files — Open's validation, the tracker, `multiproc ls`,
// `inspect` and `clean` — turn it into an error and carry on; a handle's
// own operations fault on their next access, which
// runtime/debug.SetPanicOnFault turns into a recoverable panic.

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/admin"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/pool"
	"github.com/multiproc/multiproc/sem"
)

func init() {
	proctest.Register("truncate-and-exit", roleTruncateAndExit)
}

// truncateAll cuts every file of names to size bytes.
func truncateAll(t testing.TB, files []string, size int64) {
	t.Helper()
	for _, f := range files {
		if err := os.Truncate(segment.Path(f), size); err != nil {
			t.Fatalf("truncate %s: %v", f, err)
		}
	}
}

// makeEveryKind makes one object of every kind, named after prefix, and
// returns their file names and a cleanup.
func makeEveryKind(t testing.TB, prefix string) (files []string, cleanup func()) {
	t.Helper()
	var closers []func()
	for i, k := range kindCases {
		name := fmt.Sprintf("%s_%d", prefix, i)
		opened, closeIt, err := k.create(name, 0)
		if err != nil {
			t.Fatalf("%s: %v", k.name, err)
		}
		files = append(files, k.file(opened))
		closers = append(closers, func() { closeIt(true) })
	}
	q, err := pool.NewQueue[int](pool.Name(prefix+"_queue"), pool.Capacity(4096))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, q.Name())
	closers = append(closers, func() { q.Unlink(); q.Close() })
	a, b, err := pool.Pipe[int](true, pool.Name(prefix+"_pipe"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, prefix+"_pipe")
	closers = append(closers, func() { a.Close(); b.Close(); segment.Unlink(prefix + "_pipe") })
	return files, func() {
		for _, c := range closers {
			c()
		}
	}
}

// Open of a truncated object of any kind is an error, never a crash; ls,
// inspect and clean --dry-run read them and carry on.
func TestTruncatedObjectsAreErrorsToOpenAndTheTools(t *testing.T) {
	proctest.CheckShm(t)
	prefix := fmt.Sprintf("hardening_trunc_%d", os.Getpid())
	files, cleanup := makeEveryKind(t, prefix)
	defer cleanup()
	for _, size := range []int64{0, 100, 200} {
		truncateAll(t, files, size)
		for i, k := range kindCases {
			name := fmt.Sprintf("%s_%d", prefix, i)
			closeIt, err := k.open(name, false)
			if err == nil {
				closeIt()
				if k.typed || size == 0 { // a raw segment cut short is a smaller segment
					t.Errorf("%s truncated to %d bytes opened", k.name, size)
				}
			}
		}
		if _, err := pool.OpenQueue[int](prefix + "_queue"); err == nil {
			t.Errorf("a queue truncated to %d bytes opened", size)
		}
		if _, err := pool.OpenConn[int](prefix + "_pipe:1"); err == nil {
			t.Errorf("a pipe truncated to %d bytes opened", size)
		}
		objs, err := admin.List()
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		for _, o := range objs {
			if strings.HasPrefix(o.Name, prefix) || strings.HasPrefix(o.Name, "sem."+prefix) {
				seen++
				if _, err := admin.Inspect(o.Name); err != nil && !errors.Is(err, admin.ErrNotOurs) {
					t.Errorf("Inspect(%s) truncated to %d: %v", o.Name, size, err)
				}
			}
		}
		if seen == 0 {
			t.Errorf("ls shows none of the truncated objects")
		}
		if _, err := admin.Sweep(admin.SweepOptions{DryRun: true}); err != nil {
			t.Errorf("clean --dry-run over truncated objects: %v", err)
		}
	}
}

// roleTruncateAndExit: PREFIX. A program that makes one object of every
// kind, named and not, truncates them all and exits: its tracker removes
// them, whatever their bytes.
func roleTruncateAndExit(args []string) error {
	t := &testing.T{}
	files, _ := makeEveryKind(t, args[0])
	l, err := sem.NewLock() // an unnamed one too
	if err != nil {
		return err
	}
	files = append(files, l.Name())
	for _, f := range files {
		if err := os.Truncate(segment.Path(f), 3); err != nil {
			return err
		}
	}
	fmt.Println("truncated")
	os.Exit(0) // no Close: the tracker ends their lives
	return nil
}

func TestTrackerRemovesTruncatedObjects(t *testing.T) {
	proctest.CheckShm(t)
	prefix := fmt.Sprintf("hardening_trunc_exit_%d", os.Getpid())
	c := proctest.StartProgram(t, "truncate-and-exit", prefix)
	c.WaitLine("truncated")
	if err := c.Wait(); err != nil {
		t.Fatalf("%v: %s", err, c.Stderr())
	}
	if strings.Contains(c.Stderr(), "fatal") || strings.Contains(c.Stderr(), "SIGBUS") {
		t.Fatalf("the tracker crashed on truncated objects:\n%s", c.Stderr())
	}
	ents, _ := os.ReadDir(segment.Dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), prefix) {
			t.Errorf("%s left in /dev/shm after its program exited", e.Name())
		}
	}
}

// A handle whose file is truncated faults on its next access (a SIGBUS);
// with debug.SetPanicOnFault, as sem's documentation advises, that is a
// panic the caller can recover from, not a dead process.
func TestAHandleOnATruncatedFileFaultsRecoverably(t *testing.T) {
	proctest.CheckShm(t)
	l, err := sem.NewLock()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.Truncate(segment.Path(l.Name()), 0); err != nil {
		t.Fatal(err)
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	faulted := func() (fault bool) {
		defer func() {
			if r := recover(); r != nil {
				_, isRT := r.(runtime.Error)
				fault = isRT
			}
		}()
		l.Lock()
		return false
	}()
	if !faulted {
		t.Fatal("Lock on a truncated file neither faulted nor panicked")
	}
}
