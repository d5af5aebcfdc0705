package sem

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/semlink"
)

// A lock record inside another kind of object (as Value and Array keep
// theirs), wrapped through semlink, and a Condition on it reopened by name.
func TestEmbeddedLockThroughSemlink(t *testing.T) {
	proctest.CheckShm(t)
	obj, err := segment.CreateObject(segment.ObjectSpec{Kind: layout.KindValue, PayloadSize: 256}, segment.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Unlink()
	defer obj.Close()
	const off = layout.HeaderSize + 64
	l := semlink.WrapLock(obj.File, layout.KindValue, off).(*Lock)
	r := semlink.WrapRLock(obj.File, layout.KindValue, off+64).(*RLock)
	if l.Name() != obj.Name || r.Name() != obj.Name {
		t.Fatalf("names %q, %q; want the object's %q", l.Name(), r.Name(), obj.Name)
	}
	c, err := NewCondition(l)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Unlink()
	defer c.Close()
	c2, err := OpenCondition(c.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	l2, ok := c2.Locker().(*Lock)
	if !ok || l2.Name() != obj.Name {
		t.Fatalf("reopened condition's lock: %T %v", c2.Locker(), c2.Locker())
	}
	// The same record: holding one excludes the other.
	l.Lock()
	if l2.TryLock() {
		t.Fatal("the reopened lock is not the embedded record")
	}
	if r.State().Locked {
		t.Fatal("the RLock next to it is locked too")
	}
	l.Unlock()
	if err := l2.LockContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	l2.Unlock()
	// Borrowed: Close leaves the object's file alone; Unlink refuses.
	if err := l.Unlink(); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "Value") {
		t.Fatalf("Unlink of an embedded lock = %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if obj.Bytes()[0] != layout.Magic[0] {
		t.Fatal("the object's mapping is gone after closing a borrowed lock")
	}
}
