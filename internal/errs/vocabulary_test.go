package errs_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/array"
	"github.com/multiproc/multiproc/barrier"
	"github.com/multiproc/multiproc/internal/errs"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
	"github.com/multiproc/multiproc/value"
)

func TestMain(m *testing.M) { proctest.Main(m) }

// One ErrClosed, one ErrOwnerDead, ...: every package's sentinel of a name
// is the one value, so one errors.Is covers them all (issue 9 item 3: three
// ErrClosed values, and array without ErrClosed or ErrOwnerDead, value
// without ErrNoSpace).
func TestEveryPackageReExportsTheOneSentinel(t *testing.T) {
	type export struct {
		pkg string
		err error
	}
	for _, tc := range []struct {
		want    error
		exports []export
	}{
		{errs.ErrClosed, []export{{"sem", sem.ErrClosed}, {"barrier", barrier.ErrClosed}, {"value", value.ErrClosed}, {"array", array.ErrClosed}, {"shm", shm.ErrClosed}}},
		{errs.ErrOwnerDead, []export{{"sem", sem.ErrOwnerDead}, {"value", value.ErrOwnerDead}, {"array", array.ErrOwnerDead}}},
		{errs.ErrNotRecoverable, []export{{"sem", sem.ErrNotRecoverable}, {"value", value.ErrNotRecoverable}, {"array", array.ErrNotRecoverable}}},
		{errs.ErrNotOwner, []export{{"sem", sem.ErrNotOwner}, {"value", value.ErrNotOwner}, {"array", array.ErrNotOwner}}},
		{errs.ErrCorrupt, []export{{"sem", sem.ErrCorrupt}, {"barrier", barrier.ErrCorrupt}, {"value", value.ErrCorrupt}, {"array", array.ErrCorrupt}, {"shm", shm.ErrCorrupt}}},
		{errs.ErrKindMismatch, []export{{"sem", sem.ErrKindMismatch}, {"barrier", barrier.ErrKindMismatch}, {"value", value.ErrKindMismatch}, {"array", array.ErrKindMismatch}, {"shm", shm.ErrKindMismatch}}},
		{errs.ErrInvalidArgument, []export{{"sem", sem.ErrInvalidArgument}, {"barrier", barrier.ErrInvalidArgument}, {"value", value.ErrInvalidArgument}, {"array", array.ErrInvalidArgument}, {"shm", shm.ErrInvalidArgument}}},
		{errs.ErrInvalidName, []export{{"sem", sem.ErrInvalidName}, {"barrier", barrier.ErrInvalidName}, {"value", value.ErrInvalidName}, {"array", array.ErrInvalidName}, {"shm", shm.ErrInvalidName}}},
		{errs.ErrNoSpace, []export{{"sem", sem.ErrNoSpace}, {"barrier", barrier.ErrNoSpace}, {"value", value.ErrNoSpace}, {"array", array.ErrNoSpace}, {"shm", shm.ErrNoSpace}}},
		{errs.ErrForeignOwner, []export{{"sem", sem.ErrForeignOwner}, {"barrier", barrier.ErrForeignOwner}, {"value", value.ErrForeignOwner}, {"array", array.ErrForeignOwner}, {"shm", shm.ErrForeignOwner}}},
		{errs.ErrPidNamespace, []export{{"sem", sem.ErrPidNamespace}, {"barrier", barrier.ErrPidNamespace}, {"value", value.ErrPidNamespace}, {"array", array.ErrPidNamespace}}},
		{errs.ErrTypeMismatch, []export{{"value", value.ErrTypeMismatch}, {"array", array.ErrTypeMismatch}, {"shm", shm.ErrTypeMismatch}}},
		{errs.ErrUnsupportedType, []export{{"value", value.ErrUnsupportedType}, {"array", array.ErrUnsupportedType}}},
	} {
		for _, e := range tc.exports {
			if e.err != tc.want {
				t.Errorf("%s's %q is another value than the shared one", e.pkg, tc.want)
			}
		}
	}
}

// A sentinel carries no package's prefix: it ends messages of every package.
func TestSentinelsHaveNoPrefix(t *testing.T) {
	for _, err := range []error{errs.ErrClosed, errs.ErrOwnerDead, errs.ErrNotRecoverable, errs.ErrNotOwner,
		errs.ErrInvalidArgument, errs.ErrInvalidName, errs.ErrCorrupt, errs.ErrKindMismatch, errs.ErrTypeMismatch,
		errs.ErrUnsupportedType, errs.ErrForeignOwner, errs.ErrNoSpace, errs.ErrPidNamespace,
		sem.ErrReleasedTooManyTimes, barrier.ErrBroken, barrier.ErrPartyDied, barrier.ErrNoAction, value.ErrNoLock} {
		if p, ok := prefixIn(err.Error()); ok {
			t.Errorf("sentinel %q carries the prefix %q", err, p)
		}
	}
}

var packages = []string{"sem", "barrier", "value", "array", "shm", "pool", "segment", "robust", "layout", "posixsem", "shmfile", "wait", "track", "proc", "futex", "identify", "typed"}

// prefixIn returns a package prefix ("sem: ") found in msg.
func prefixIn(msg string) (string, bool) {
	for _, p := range packages {
		if strings.HasPrefix(msg, p+": ") || strings.Contains(msg, " "+p+": ") {
			return p, true
		}
	}
	return "", false
}

// Every error a public package returns carries one prefix, that package's,
// then the operation and the object, then the cause (issue 9 item 3:
// "array: length -1 … : sem: invalid argument", "value …: sem: object
// closed", "sem: Lock of Lock x: sem: object closed"). Panics say the same.
func TestMessagesCarryOnePrefixTheOperationAndTheObject(t *testing.T) {
	proctest.CheckShm(t)
	type probe struct {
		what  string
		pkg   string   // the only prefix allowed, once, at the start
		wants []string // what the message names: the operation, the object
		err   error
	}
	var probes []probe
	add := func(what, pkg string, err error, wants ...string) {
		probes = append(probes, probe{what, pkg, wants, err})
	}
	panicked := func(f func()) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = errors.New(r.(string))
			}
		}()
		f()
		return nil
	}
	bg := context.Background()

	_, err := array.New[float64](-1)
	add("array.New(-1)", "array", err, "New", "-1", "invalid argument")
	a, err := array.New[int64](2)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	a.Unlink()
	add("Array.At after Close", "array", panicked(func() { a.At(0) }), "At of Array "+a.Name(), "object closed")
	// The lock is a *sem.RLock: the caller called sem, which names the Array.
	add("Array's lock after Close", "sem", a.Lock().LockContext(bg), "LockContext of Array "+a.Name()+"'s RLock", "object closed")

	v, err := value.New([2]int64{})
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
	v.Unlink()
	add("Value.Update after Close", "value", v.Update(func(*[2]int64) {}), "Update of Value "+v.Name(), "object closed")
	_, err = v.LoadContext(bg)
	add("Value.LoadContext after Close", "value", err, "LoadContext of Value "+v.Name(), "object closed")
	add("Value.Load after Close", "value", panicked(func() { v.Load() }), "Load of Value "+v.Name(), "object closed")
	_, err = value.Open[int64]("mpgo_test_no_such_value")
	add("value.Open missing", "value", err, "Open mpgo_test_no_such_value", "does not exist")

	l, err := sem.NewLock()
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	l.Unlink()
	add("Lock.LockContext after Close", "sem", l.LockContext(bg), "LockContext of Lock "+l.Name(), "object closed")
	add("Lock.Lock after Close", "sem", panicked(l.Lock), "Lock of Lock "+l.Name(), "object closed")
	add("Lock.Unlock unlocked", "sem", panicked(func() {
		m, _ := sem.NewLock()
		defer func() { m.Close(); m.Unlink() }()
		m.Unlock()
	}), "Unlock of unlocked Lock", "not held")
	_, err = sem.NewSemaphore(-1)
	add("sem.NewSemaphore(-1)", "sem", err, "NewSemaphore", "-1", "invalid argument")
	_, err = sem.OpenLock("mpgo_test_no_such_lock")
	add("sem.OpenLock missing", "sem", err, "OpenLock mpgo_test_no_such_lock", "does not exist")
	s, err := sem.NewBoundedSemaphore(1)
	if err != nil {
		t.Fatal(err)
	}
	add("BoundedSemaphore.Release past its bound", "sem", s.Release(), "Release of BoundedSemaphore "+s.Name(), "released too many times")
	s.Close()
	s.Unlink()
	add("Semaphore.Acquire after Close", "sem", s.Acquire(bg), "Acquire of BoundedSemaphore "+s.Name(), "object closed")
	e, err := sem.NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	e.Unlink()
	add("Event.Wait after Close", "sem", e.Wait(bg), "Wait on Event "+e.Name(), "object closed")
	c, err := sem.NewCondition(nil)
	if err != nil {
		t.Fatal(err)
	}
	add("Condition.Wait without the lock", "sem", c.Wait(bg), "Wait on Condition "+c.Name(), "without holding its lock")
	c.Close()
	c.Unlink()

	_, err = barrier.New(0)
	add("barrier.New(0)", "barrier", err, "New", "parties 0", "invalid argument")
	b, err := barrier.New(2)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	b.Unlink()
	_, err = b.Wait(bg)
	add("Barrier.Wait after Close", "barrier", err, "Wait on Barrier "+b.Name(), "object closed")
	add("Barrier.Abort after Close", "barrier", b.Abort(), "Abort on Barrier "+b.Name(), "object closed")

	_, err = shm.Create("", 0)
	add("shm.Create size 0", "shm", err, "Create", "size 0", "invalid argument")
	_, err = shm.Open("mpgo_test_no_such_segment")
	add("shm.Open missing", "shm", err, "Open mpgo_test_no_such_segment", "does not exist")

	for _, p := range probes {
		if p.err == nil {
			t.Errorf("%s: no error", p.what)
			continue
		}
		msg := p.err.Error()
		if !strings.HasPrefix(msg, p.pkg+": ") {
			t.Errorf("%s: %q does not start with %q", p.what, msg, p.pkg+": ")
			continue
		}
		if q, ok := prefixIn(msg[len(p.pkg)+2:]); ok {
			t.Errorf("%s: %q carries a second prefix %q", p.what, msg, q)
		}
		for _, w := range p.wants {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: %q does not say %q", p.what, msg, w)
			}
		}
	}
}

// The context's own error is returned as it is, never wrapped: a
// cancelled call returns ctx.Err().
func TestContextErrorsAreReturnedAsTheyAre(t *testing.T) {
	for _, err := range []error{context.Canceled, context.DeadlineExceeded} {
		if got := errs.Op("sem", "Lock of Lock x", err); got != err {
			t.Errorf("Op(%v) = %v", err, got)
		}
	}
	if errs.Op("sem", "x", nil) != nil {
		t.Error("Op(nil) is not nil")
	}
	inner := errs.Op("sem", "LockContext of Value v's RLock", errs.ErrClosed)
	if got := errs.Op("value", "Update of Value v", inner).Error(); got != "value: Update of Value v: object closed" {
		t.Errorf("another package's error rewrapped: %q", got)
	}
}
