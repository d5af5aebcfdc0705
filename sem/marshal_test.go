package sem_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/multiproc/multiproc/array"
	"github.com/multiproc/multiproc/barrier"
	"github.com/multiproc/multiproc/internal/codec"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/value"
)

// kit holds one of every shareable kind, as a task argument or a queue
// item would: each travels as its name (issue 9 item 5: before, only Value
// and Array did, and a struct holding a Lock could not be sent).
type kit struct {
	Lock    *sem.Lock
	RLock   *sem.RLock
	Cond    *sem.Condition
	Event   *sem.Event
	Sem     *sem.Semaphore
	Bounded *sem.Semaphore
	Barrier *barrier.Barrier
	Count   *value.Value[int64]
	Flags   *array.Array[int64]
}

func (k *kit) close() {
	for _, c := range []interface{ Close() error }{k.Lock, k.RLock, k.Cond, k.Event, k.Sem, k.Bounded, k.Barrier, k.Count, k.Flags} {
		c.Close()
	}
}

func init() {
	// marshal-kit-user decodes the kit in args[0] (hex of the codec's
	// bytes) and uses every object in it with its parent.
	proctest.Register("marshal-kit-user", func(args []string) error {
		c, _, err := codec.For[kit]()
		if err != nil {
			return err
		}
		b, err := hex.DecodeString(args[0])
		if err != nil {
			return err
		}
		k, err := codec.Decode(c, b)
		if err != nil {
			return err
		}
		defer k.close()
		ctx, cancel := proctest.ChildContext()
		defer cancel()

		// The parent holds the Lock: it is the same lock.
		if k.Lock.TryLock() {
			return errors.New("took the Lock its parent holds")
		}
		fmt.Println("lock is held")
		if err := k.Lock.LockContext(ctx); err != nil {
			return err
		}
		value.Add(k.Count, 1)
		k.Lock.Unlock()

		k.RLock.Lock()
		k.RLock.Lock() // reentrant here too
		value.Add(k.Count, 1)
		k.RLock.Unlock()
		k.RLock.Unlock()

		k.Cond.Lock()
		k.Flags.Set(0, 1)
		k.Cond.NotifyAll()
		k.Cond.Unlock()

		if err := k.Event.Set(); err != nil {
			return err
		}
		if err := k.Sem.Release(); err != nil {
			return err
		}
		// The parent took the bounded semaphore's one token: one release
		// fits, a second passes the bound, which arrived with it.
		if err := k.Bounded.Release(); err != nil {
			return err
		}
		if err := k.Bounded.Release(); !errors.Is(err, sem.ErrReleasedTooManyTimes) {
			return fmt.Errorf("second release of the BoundedSemaphore: %v, want ErrReleasedTooManyTimes", err)
		}
		_, err = k.Barrier.Wait(ctx)
		return err
	})
}

func TestEveryObjectTravelsAsItsNameAndWorksThere(t *testing.T) {
	proctest.CheckShm(t)
	var k kit
	var err error
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	k.Lock, err = sem.NewLock()
	must(err)
	k.RLock, err = sem.NewRLock()
	must(err)
	k.Cond, err = sem.NewCondition(nil)
	must(err)
	k.Event, err = sem.NewEvent()
	must(err)
	k.Sem, err = sem.NewSemaphore(0)
	must(err)
	k.Bounded, err = sem.NewBoundedSemaphore(1)
	must(err)
	k.Barrier, err = barrier.New(2)
	must(err)
	k.Count, err = value.New[int64](0)
	must(err)
	k.Flags, err = array.New[int64](4)
	must(err)
	defer k.close()

	c, _, err := codec.For[kit]()
	must(err)
	b, err := codec.Append(c, nil, &k)
	must(err)

	// Decoding in this process opens second handles on the same objects.
	back, err := codec.Decode(c, b)
	must(err)
	for _, p := range [][2]string{
		{k.Lock.Name(), back.Lock.Name()}, {k.RLock.Name(), back.RLock.Name()}, {k.Cond.Name(), back.Cond.Name()},
		{k.Event.Name(), back.Event.Name()}, {k.Sem.Name(), back.Sem.Name()}, {k.Bounded.Name(), back.Bounded.Name()},
		{k.Barrier.Name(), back.Barrier.Name()}, {k.Count.Name(), back.Count.Name()}, {k.Flags.Name(), back.Flags.Name()},
	} {
		if p[0] != p[1] {
			t.Errorf("decoded %q, sent %q", p[1], p[0])
		}
	}
	if !back.Bounded.Bounded() {
		t.Error("the BoundedSemaphore arrived unbounded")
	}
	back.close()

	ctx := proctest.Context(t)
	k.Lock.Lock()
	must(k.Bounded.Acquire(ctx))
	child := proctest.Start(t, "marshal-kit-user", hex.EncodeToString(b))
	child.WaitLine("lock is held")
	k.Lock.Unlock()

	k.Cond.Lock()
	must(k.Cond.WaitFor(ctx, func() bool { return k.Flags.At(0) == 1 }))
	k.Cond.Unlock()
	must(k.Event.Wait(ctx))
	must(k.Sem.Acquire(ctx))
	if _, err := k.Barrier.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	child.MustSucceed()
	if got := k.Count.Load(); got != 2 {
		t.Fatalf("count %d, want 2 (one under the Lock, one under the RLock)", got)
	}
	if v := k.Bounded.Value(); v != 1 {
		t.Fatalf("bounded semaphore value %d, want 1", v)
	}
}

// A lock inside another object travels with it, not alone; an open handle
// does not take another's name.
func TestMarshalRefusesWhatCannotTravel(t *testing.T) {
	proctest.CheckShm(t)
	v, err := value.New[int64](0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { v.Close(); v.Unlink() }()
	if _, err := v.Lock().MarshalText(); !errors.Is(err, sem.ErrInvalidArgument) {
		t.Errorf("MarshalText of a Value's lock = %v, want ErrInvalidArgument", err)
	}
	l, err := sem.NewLock()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { l.Close(); l.Unlink() }()
	name, err := l.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.UnmarshalText(name); !errors.Is(err, sem.ErrInvalidArgument) {
		t.Errorf("UnmarshalText into an open Lock = %v, want ErrInvalidArgument", err)
	}
	var e sem.Event
	if err := e.UnmarshalText(name); !errors.Is(err, sem.ErrKindMismatch) {
		t.Errorf("UnmarshalText of a Lock's name into an Event = %v, want ErrKindMismatch", err)
	}
}
