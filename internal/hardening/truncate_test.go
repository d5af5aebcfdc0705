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
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/admin"
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/sem"
	"golang.org/x/sys/unix"
)

func init() {
	proctest.Register("truncate-and-exit", roleTruncateAndExit)
}

// makeEveryKind makes one object of every kind, named after prefix, and
// returns their file names and a cleanup.
func makeEveryKind(t testing.TB, prefix string) (files []string, cleanup func()) {
	t.Helper()
	var closers []func()
	for i, k := range everyKind() {
		opened, closeIt, err := k.create(fmt.Sprintf("%s_%d", prefix, i), 0)
		if err != nil {
			t.Fatalf("%s: %v", k.name, err)
		}
		files = append(files, k.file(opened))
		closers = append(closers, func() { closeIt(true) })
	}
	return files, func() {
		for _, c := range closers {
			c()
		}
	}
}

// A file already cut short when it is opened, at every offset — in the
// header, right after it, inside the kind's own part of the payload, its
// last word — is an error to Open (layout.ErrCorrupt: too short for its
// header, or for its kind), and ls, inspect and clean --dry-run read it,
// report it damaged, and carry on. Only a raw segment has no size to
// keep: cut, it is a smaller segment.
func TestTruncatedObjectsAreErrorsToOpenAndTheTools(t *testing.T) {
	proctest.CheckShm(t)
	for _, k := range everyKind() {
		// Generated names: a file cut below the bytes that say it is ours
		// is still ours by its name, so ls must show it.
		opened, closeObj, err := k.create("", 0)
		if err != nil {
			t.Fatalf("%s: %v", k.name, err)
		}
		file := k.file(opened)
		st, err := os.Stat(segment.Path(file))
		if err != nil {
			t.Fatal(err)
		}
		offs := truncOffsets(st.Size())
		slices.Sort(offs)
		for _, size := range slices.Backward(offs) { // shorter and shorter
			what := fmt.Sprintf("%s cut to %d of %d bytes", k.name, size, st.Size())
			if err := os.Truncate(segment.Path(file), size); err != nil {
				t.Fatal(err)
			}
			closeIt, err, fault := openCatchingFaults(func() (func(), error) { return k.open(opened, false) })
			switch {
			case fault != nil:
				t.Errorf("%s: Open faulted: %v", what, fault)
			case err == nil:
				closeIt()
				if k.name != "shm" || size == 0 {
					t.Errorf("%s: opened", what)
				}
			case k.name != "shm" && !errors.Is(err, layout.ErrCorrupt): // an empty raw segment is just empty
				t.Errorf("%s: Open = %v, want ErrCorrupt", what, err)
			}
			objs, err := admin.List()
			if err != nil {
				t.Fatalf("%s: ls: %v", what, err)
			}
			i := slices.IndexFunc(objs, func(o admin.Object) bool { return o.Name == file })
			if i < 0 {
				t.Errorf("%s: ls does not show it", what)
			} else if k.name != "shm" && objs[i].Problem == "" {
				t.Errorf("%s: ls shows it undamaged: %+v", what, objs[i])
			}
			if _, err := admin.Inspect(file); err != nil && !errors.Is(err, admin.ErrNotOurs) && !errors.Is(err, layout.ErrCorrupt) {
				t.Errorf("%s: inspect: %v", what, err)
			}
			if _, err := admin.Sweep(admin.SweepOptions{DryRun: true}); err != nil {
				t.Errorf("%s: clean --dry-run: %v", what, err)
			}
		}
		os.Truncate(segment.Path(file), st.Size()) // the creator's handle closes on whole pages
		closeObj(true)
	}
}

// roleTruncateAndExit: PREFIX CUT. A program that makes one object of
// every kind, named and not, cuts each file to the CUTth of its
// truncOffsets, and exits: its tracker removes them, whatever their bytes.
func roleTruncateAndExit(args []string) error {
	cut, err := strconv.Atoi(args[1])
	if err != nil {
		return err
	}
	t := &testing.T{}
	files, _ := makeEveryKind(t, args[0])
	l, err := sem.NewLock() // an unnamed one too
	if err != nil {
		return err
	}
	files = append(files, l.Name())
	for _, f := range files {
		st, err := os.Stat(segment.Path(f))
		if err != nil {
			return err
		}
		offs := truncOffsets(st.Size())
		if err := os.Truncate(segment.Path(f), offs[cut%len(offs)]); err != nil {
			return err
		}
	}
	fmt.Println("truncated")
	os.Exit(0) // no Close: the tracker ends their lives
	return nil
}

// The tracker reads no object's bytes (it removes files by name and inode
// under the flock rule), so no cut can crash it: a program's objects, cut
// at each offset, are gone once it exits.
func TestTrackerRemovesTruncatedObjects(t *testing.T) {
	proctest.CheckShm(t)
	for cut := range 5 {
		prefix := fmt.Sprintf("hardening_trunc_exit_%d_%d", os.Getpid(), cut)
		c := proctest.StartProgram(t, "truncate-and-exit", prefix, strconv.Itoa(cut))
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
				t.Errorf("%s left in /dev/shm after its program exited (cut %d)", e.Name(), cut)
			}
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

// truncOffsets are the sizes to cut a file of size bytes to: nothing
// left, inside the header, the header alone, inside the kind's own part
// of the payload, all but its last word, and for files of several pages
// the first page alone.
func truncOffsets(size int64) []int64 {
	offs := []int64{0, 64, layout.HeaderSize, layout.HeaderSize + 8, size - 8}
	if size > 2*4096 {
		offs = append(offs, 4096, size-4096)
	}
	return slices.DeleteFunc(offs, func(o int64) bool { return o < 0 || o >= size })
}

// openCatchingFaults runs open with faults turned into panics, so that a
// read of a truncated mapping that escapes segment.Guard is reported as
// such instead of killing the test binary with SIGBUS.
func openCatchingFaults(open func() (func(), error)) (closeIt func(), err error, fault any) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			fault = fmt.Sprintf("%v\n%s", r, debug.Stack())
		}
	}()
	closeIt, err = open()
	return closeIt, err, nil
}

// A file truncated while Open validates it — right after Open mapped it,
// or right after the header checked out and before the kind's own checks
// of its payload — makes that Open fail with ErrTruncated, at every
// offset and for every kind: no read of the cut mapping faults outside
// segment.Guard, and no handle is built on the zeros a cut leaves in the
// last page. A raw segment has nothing to validate: its Open need only
// not fault.
func TestTruncatedWhileOpeningIsErrTruncated(t *testing.T) {
	proctest.CheckShm(t)
	defer segment.SetTestHookAfterMap(nil)
	defer segment.SetTestHookAfterHeader(nil)
	seq, cuts := 0, 0
	defer func() { t.Logf("%d files cut while opening", cuts) }()
	for _, k := range everyKind() {
		for _, moment := range []string{"after map", "after header"} {
			if moment == "after header" && !k.typed {
				continue // no header to check first (a semaphore, a raw segment)
			}
			sizes := map[int64]bool{}
			for i := 0; ; i++ {
				seq++
				name := fmt.Sprintf("hardening_truncopen_%d_%d", os.Getpid(), seq)
				opened, closeObj, err := k.create(name, 0)
				if err != nil {
					t.Fatalf("%s: %v", k.name, err)
				}
				file := k.file(opened)
				st, err := os.Stat(segment.Path(file))
				if err != nil {
					closeObj(true)
					t.Fatal(err)
				}
				offs := truncOffsets(st.Size())
				if i >= len(offs) {
					closeObj(true)
					break
				}
				off := offs[i]
				if sizes[off] || off < 0 {
					closeObj(true)
					continue
				}
				sizes[off] = true
				fired := false
				cut := func(f *segment.File) {
					if f.Name == file && !fired {
						fired = true
						if err := unix.Ftruncate(f.Fd(), off); err != nil {
							t.Errorf("ftruncate: %v", err)
						}
					}
				}
				if moment == "after map" {
					segment.SetTestHookAfterMap(cut)
				} else {
					segment.SetTestHookAfterHeader(func(o *segment.Object) { cut(o.File) })
				}
				closeIt, err, fault := openCatchingFaults(func() (func(), error) { return k.open(opened, false) })
				segment.SetTestHookAfterMap(nil)
				segment.SetTestHookAfterHeader(nil)
				what := fmt.Sprintf("%s cut to %d of %d bytes %s", k.name, off, st.Size(), moment)
				cuts++
				switch {
				case !fired:
					t.Errorf("%s: the file was never cut (the hook did not run)", what)
				case fault != nil:
					t.Errorf("%s: Open faulted outside segment.Guard: %v", what, fault)
				case err == nil:
					closeIt()
					if k.name != "shm" {
						t.Errorf("%s: Open succeeded", what)
					}
				case !errors.Is(err, segment.ErrTruncated):
					t.Errorf("%s: Open = %v, want ErrTruncated", what, err)
				}
				// The creator's handle is on the cut file too: give the
				// file its size back (zeros) before it closes.
				if err := os.Truncate(segment.Path(file), st.Size()); err != nil {
					t.Fatal(err)
				}
				closeObj(true)
			}
		}
	}
}
