package segment_test

import (
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/proctest"
	. "github.com/multiproc/multiproc/internal/segment"
)

func present(name string) bool {
	_, err := os.Lstat(Path(name))
	return err == nil
}

func TestTheLifetimeRule(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		kind layout.Kind
		want Lifetime
	}{
		{Options{}, layout.KindLock, WhileCreatorHolds},
		{Options{Name: "x"}, layout.KindLock, UntilUnlink},
		{Options{}, layout.KindRaw, UntilUnlink}, // Python's SharedMemory
		{Options{Persistent: true}, layout.KindLock, Persistent},
		{Options{Persistent: true, Name: "x"}, layout.KindRaw, Persistent},
	} {
		if got := tc.opts.Lifetime(tc.kind); got != tc.want {
			t.Errorf("%+v, %v: %v, want %v", tc.opts, tc.kind, got, tc.want)
		}
	}
}

func TestTheCreatorsCloseEndsAnAnonymousObject(t *testing.T) {
	proctest.CheckShm(t)
	spec := ObjectSpec{Kind: layout.KindEvent, PayloadSize: 64}
	o, err := CreateObject(spec, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := OpenObject(o.Name, layout.KindEvent, nil, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// An opener's Close ends nothing.
	other.Close()
	if !present(o.Name) {
		t.Fatal("an opener's Close removed the name")
	}
	other, err = OpenObject(o.Name, layout.KindEvent, nil, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if present(o.Name) {
		t.Fatal("the creator's Close left the name of an anonymous object")
	}
	// The opener's mapping still works.
	other.Payload[0] = 1
	if err := o.Unlink(); err != nil {
		t.Fatalf("Unlink after the Close that removed the name: %v", err)
	}
}

func TestCloseLeavesNamedAndPersistentObjects(t *testing.T) {
	proctest.CheckShm(t)
	spec := ObjectSpec{Kind: layout.KindEvent, PayloadSize: 64}
	for _, opts := range []Options{
		{Name: "segment_test_named" + sfx},
		{Persistent: true},
		{Persistent: true, Name: "segment_test_persistent" + sfx},
	} {
		o, err := CreateObject(spec, opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		o.Close()
		if !present(o.Name) {
			t.Errorf("%+v: Close removed the name", opts)
		}
		if err := o.Unlink(); err != nil {
			t.Errorf("%+v: Unlink: %v", opts, err)
		}
		if err := o.Unlink(); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%+v: second Unlink = %v, want fs.ErrNotExist", opts, err)
		}
	}
}

func TestReleaseNeverEndsALifetime(t *testing.T) {
	proctest.CheckShm(t)
	o, err := CreateObject(ObjectSpec{Kind: layout.KindEvent, PayloadSize: 64}, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Unlink()
	o.Release() // what a cleanup does with a handle that became garbage
	if !present(o.Name) {
		t.Fatal("Release removed the name of an anonymous object")
	}
	o.Close() // already released: nothing more happens
	if !present(o.Name) {
		t.Fatal("Close after Release removed the name")
	}
}

func TestAnEmptyNameIsRefusedNotTakenForNone(t *testing.T) {
	proctest.CheckShm(t)
	var o Options
	o.SetName("") // what Name("") does
	_, err := CreateObject(ObjectSpec{Kind: layout.KindLock, PayloadSize: 64}, o, nil)
	if !errors.Is(err, ErrInvalidName) {
		t.Fatalf("CreateObject with Name(\"\") = %v, want ErrInvalidName", err)
	}
	if _, err := o.FileName("sem", "sem."); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("FileName with Name(\"\") = %v, want ErrInvalidName", err)
	}
}
