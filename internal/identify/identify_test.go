package identify_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/admin"
	"github.com/multiproc/multiproc/array"
	"github.com/multiproc/multiproc/barrier"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
	"github.com/multiproc/multiproc/value"
)

func TestMain(m *testing.M) { proctest.Main(m) }

// A kind of object: how to make one called name, and how to open one.
type kind struct {
	name   string // as the errors say it: "Lock", "raw segment"
	create func(name string) (closer, error)
	open   func(name string) (closer, error) // nil: no Open of its own (raw segments are opened by shm.Open, which maps anything)
}

type closer interface {
	Close() error
	Unlink() error
	Name() string
}

// pad adapts a Barrier (whose Name is the same) and friends.
type pad struct {
	closer
	name string
}

func (p pad) Name() string { return p.name }

var kinds = []kind{
	{"Lock", func(n string) (closer, error) { return sem.NewLock(sem.Name(n)) },
		func(n string) (closer, error) { return sem.OpenLock(n) }},
	{"RLock", func(n string) (closer, error) { return sem.NewRLock(sem.Name(n)) },
		func(n string) (closer, error) { return sem.OpenRLock(n) }},
	{"Condition", func(n string) (closer, error) { return sem.NewCondition(nil, sem.Name(n)) },
		func(n string) (closer, error) { return sem.OpenCondition(n) }},
	{"Event", func(n string) (closer, error) { return sem.NewEvent(sem.Name(n)) },
		func(n string) (closer, error) { return sem.OpenEvent(n) }},
	{"Semaphore", func(n string) (closer, error) { return sem.NewSemaphore(1, sem.Name(n)) },
		func(n string) (closer, error) { return sem.OpenSemaphore(n) }},
	{"BoundedSemaphore", func(n string) (closer, error) { return sem.NewBoundedSemaphore(1, sem.Name(n)) },
		func(n string) (closer, error) { return sem.OpenBoundedSemaphore(n) }},
	{"Barrier", func(n string) (closer, error) { return barrier.New(2, barrier.Name(n)) },
		func(n string) (closer, error) { return barrier.Open(n) }},
	{"Value", func(n string) (closer, error) { return value.New[int64](0, value.Name(n)) },
		func(n string) (closer, error) { return value.Open[int64](n) }},
	{"Array", func(n string) (closer, error) { return array.New[int64](4, array.Name(n)) },
		func(n string) (closer, error) { return array.Open[int64](n) }},
	{"raw segment", func(n string) (closer, error) { return shm.Create(n, 64) }, nil},
}

func testName(t *testing.T, k kind) string {
	return fmt.Sprintf("mpgo_test_names_%d_%s", os.Getpid(), strings.ReplaceAll(k.name, " ", "_"))
}

func mustCreate(t *testing.T, k kind, name string) closer {
	t.Helper()
	o, err := k.create(name)
	if err != nil {
		t.Fatalf("create %s %s: %v", k.name, name, err)
	}
	t.Cleanup(func() { o.Close(); o.Unlink() })
	return o
}

// Every Open takes the name as its New reported it (Name()), with or
// without the leading slash, and as `multiproc ls` prints it. Before,
// OpenSemaphore("sem.NAME"), the listed form, looked for sem.sem.NAME
// (issue 9 item 2).
func TestEveryOpenTakesTheNameAsListedAndAsNamed(t *testing.T) {
	proctest.CheckShm(t)
	made := map[string]closer{}
	for _, k := range kinds {
		made[k.name] = mustCreate(t, k, testName(t, k))
	}
	listed := map[string]string{} // kind → name as ls prints it
	objs, err := admin.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		for _, k := range kinds {
			if strings.HasSuffix(o.Name, testName(t, k)) && o.Kind == k.name {
				listed[k.name] = o.Name
			}
		}
	}
	for _, k := range kinds {
		if k.open == nil {
			continue
		}
		ls, ok := listed[k.name]
		if !ok {
			t.Errorf("%s %s is not listed", k.name, testName(t, k))
			continue
		}
		named := made[k.name].Name()
		for _, form := range []string{named, "/" + strings.TrimPrefix(named, "/"), strings.TrimPrefix(named, "/"), ls, "/" + ls} {
			o, err := k.open(form)
			if err != nil {
				t.Errorf("open %s by %q (Name() %q, listed %q): %v", k.name, form, named, ls, err)
				continue
			}
			if o.Name() != named {
				t.Errorf("open %s by %q: Name() = %q, want %q, as its creator's", k.name, form, o.Name(), named)
			}
			o.Close()
		}
	}
}

// Opening an object as another kind says what it is, whichever file names
// it: a semaphore's sem.NAME found from a Lock's name and the reverse, a
// raw segment (no header) found as a Value. Before: "file does not exist"
// and "corrupt or foreign object: 16 bytes, too short".
func TestOpenOfAnotherKindSaysWhatItIs(t *testing.T) {
	proctest.CheckShm(t)
	for _, have := range kinds {
		name := testName(t, have)
		o := mustCreate(t, have, name)
		for _, want := range kinds {
			if want.open == nil || want.name == have.name ||
				want.name == "Semaphore" && have.name == "BoundedSemaphore" { // a BoundedSemaphore is a Semaphore
				continue
			}
			for _, form := range []string{name, o.Name()} {
				w, err := want.open(form)
				if err == nil {
					w.Close()
					t.Errorf("%s %s opened as a %s", have.name, form, want.name)
					continue
				}
				says := fmt.Sprintf("%s is a %s, not a", form, have.name)
				if strings.HasPrefix(have.name, "E") || strings.HasPrefix(have.name, "A") || strings.HasPrefix(have.name, "R") && have.name != "raw segment" {
					says = fmt.Sprintf("%s is an %s, not a", form, have.name)
				}
				if !errors.Is(err, sem.ErrKindMismatch) || !strings.Contains(err.Error(), says) {
					t.Errorf("open %s %s as a %s: %v; want ErrKindMismatch saying %q", have.name, form, want.name, err, says)
				}
			}
		}
	}
}

// A missing name is still "does not exist", for every kind.
func TestOpenOfNothingSaysItDoesNotExist(t *testing.T) {
	for _, k := range kinds {
		if k.open == nil {
			continue
		}
		if _, err := k.open("mpgo_test_names_nothing_here"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("open %s of a missing name: %v", k.name, err)
		}
	}
}

// A name in another kind's file naming is refused at create, with a
// message saying why: a Lock called sem.x would later open as a semaphore's
// file ("corrupt or foreign object"), a semaphore called sem.x would make
// the file sem.sem.x that its listed name does not find.
func TestNamesOfAnotherKindsFormAreRefusedAtCreate(t *testing.T) {
	proctest.CheckShm(t)
	for _, k := range kinds {
		bads := []string{"sem.mpgo_test_names_x", "/sem.mpgo_test_names_x"}
		if !strings.Contains(k.name, "Semaphore") { // a semaphore's file is sem.NAME: no registry's
			bads = append(bads, "mpgo_tracker_test_names_x")
		}
		for _, bad := range bads {
			o, err := k.create(bad)
			if err == nil {
				o.Close()
				o.Unlink()
				t.Errorf("%s named %q was created", k.name, bad)
				continue
			}
			if !errors.Is(err, sem.ErrInvalidName) || !strings.Contains(err.Error(), "names starting with") && !strings.Contains(err.Error(), "does not start with") {
				t.Errorf("%s named %q: %v; want ErrInvalidName saying why", k.name, bad, err)
			}
		}
	}
}
