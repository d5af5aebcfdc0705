package sem

import (
	"errors"
	"fmt"

	"github.com/multiproc/multiproc/internal/layout"
)

// Every object of this package travels between processes as its name, as
// a Value or an Array does. MarshalText and UnmarshalText (and their
// Binary twins, for encoding/gob and multiproc's queues) make that
// automatic for codecs: a task argument or a queue item holding a *Lock, an
// *Event or a *Semaphore is encoded with the object's name, and decoding it
// in another process opens the same object there, as Open* does. The
// receiver owns the opened handle: Close it when done.
//
// Unmarshaling goes into a zero object (new(Lock), a struct field) and
// fails on one already open. A lock that lives inside another object (a
// Value's or an Array's) travels with that object, not by itself.

// MarshalText returns the Lock's name.
func (l *Lock) MarshalText() ([]byte, error) { return l.h.marshal("MarshalText") }

// UnmarshalText opens the Lock named text into l, a zero Lock.
func (l *Lock) UnmarshalText(text []byte) error {
	if err := l.h.unmarshalable("Lock", text); err != nil {
		return err
	}
	obj, err := openObject(string(text), layout.KindLock, lockPayload, options{}, nil)
	if err != nil {
		return failf("UnmarshalText of Lock "+string(text), err)
	}
	l.h.initOwn("Lock", obj)
	return nil
}

// MarshalBinary is MarshalText.
func (l *Lock) MarshalBinary() ([]byte, error) { return l.MarshalText() }

// UnmarshalBinary is UnmarshalText.
func (l *Lock) UnmarshalBinary(b []byte) error { return l.UnmarshalText(b) }

// MarshalText returns the RLock's name.
func (r *RLock) MarshalText() ([]byte, error) { return r.h.marshal("MarshalText") }

// UnmarshalText opens the RLock named text into r, a zero RLock.
func (r *RLock) UnmarshalText(text []byte) error {
	if err := r.h.unmarshalable("RLock", text); err != nil {
		return err
	}
	obj, err := openObject(string(text), layout.KindRLock, lockPayload, options{}, nil)
	if err != nil {
		return failf("UnmarshalText of RLock "+string(text), err)
	}
	r.init(func(h *lockHandle) { h.initOwn("RLock", obj) })
	return nil
}

// MarshalBinary is MarshalText.
func (r *RLock) MarshalBinary() ([]byte, error) { return r.MarshalText() }

// UnmarshalBinary is UnmarshalText.
func (r *RLock) UnmarshalBinary(b []byte) error { return r.UnmarshalText(b) }

// marshal is a lock's MarshalText: its name, if it has one of its own.
func (h *lockHandle) marshal(op string) ([]byte, error) {
	switch {
	case h.file == nil:
		return nil, failf(op, errors.New("a lock that was never opened"))
	case h.obj == nil:
		return nil, h.fail(op, fmt.Errorf("%w: it travels with its %s: marshal that", ErrInvalidArgument, h.kind))
	}
	return []byte(h.name), nil
}

// unmarshalable checks that a lock handle is zero, ready for UnmarshalText.
func (h *lockHandle) unmarshalable(what string, text []byte) error {
	if h.file != nil {
		return failf("UnmarshalText of "+what+" "+string(text), fmt.Errorf("%w: into %s %s, which is open already", ErrInvalidArgument, what, h.name))
	}
	return nil
}

// MarshalText returns the Condition's name. Its lock travels with it:
// decoding opens the Condition and the lock it uses, as OpenCondition does.
func (c *Condition) MarshalText() ([]byte, error) {
	if c.obj == nil {
		return nil, failf("MarshalText", errors.New("a Condition that was never opened"))
	}
	return []byte(c.obj.Name), nil
}

// UnmarshalText opens the Condition named text, and its lock, into c, a
// zero Condition.
func (c *Condition) UnmarshalText(text []byte) error {
	op := "UnmarshalText of Condition " + string(text)
	if c.obj != nil {
		return failf(op, fmt.Errorf("%w: into Condition %s, which is open already", ErrInvalidArgument, c.obj.Name))
	}
	return failf(op, c.open(string(text), options{}))
}

// MarshalBinary is MarshalText.
func (c *Condition) MarshalBinary() ([]byte, error) { return c.MarshalText() }

// UnmarshalBinary is UnmarshalText.
func (c *Condition) UnmarshalBinary(b []byte) error { return c.UnmarshalText(b) }

// MarshalText returns the Event's name.
func (e *Event) MarshalText() ([]byte, error) {
	if e.obj == nil {
		return nil, failf("MarshalText", errors.New("an Event that was never opened"))
	}
	return []byte(e.obj.Name), nil
}

// UnmarshalText opens the Event named text into e, a zero Event.
func (e *Event) UnmarshalText(text []byte) error {
	op := "UnmarshalText of Event " + string(text)
	if e.obj != nil {
		return failf(op, fmt.Errorf("%w: into Event %s, which is open already", ErrInvalidArgument, e.obj.Name))
	}
	obj, err := openObject(string(text), layout.KindEvent, eventSize, options{}, nil)
	if err != nil {
		return failf(op, err)
	}
	e.init(obj)
	return nil
}

// MarshalBinary is MarshalText.
func (e *Event) MarshalBinary() ([]byte, error) { return e.MarshalText() }

// UnmarshalBinary is UnmarshalText.
func (e *Event) UnmarshalBinary(b []byte) error { return e.UnmarshalText(b) }

// MarshalText returns the semaphore's name ("/NAME", as Name does).
func (s *Semaphore) MarshalText() ([]byte, error) {
	if s.file == nil {
		return nil, failf("MarshalText", errors.New("a Semaphore that was never opened"))
	}
	return []byte(s.name), nil
}

// UnmarshalText opens the semaphore named text into s, a zero Semaphore,
// as OpenNamed does: a BoundedSemaphore arrives bounded, and a semaphore
// made by C or Python opens too (it was sent as one).
func (s *Semaphore) UnmarshalText(text []byte) error {
	op := "UnmarshalText of Semaphore " + string(text)
	if s.file != nil {
		return failf(op, fmt.Errorf("%w: into Semaphore %s, which is open already", ErrInvalidArgument, s.name))
	}
	return failf(op, s.open(string(text), semAnyNamed, options{}))
}

// MarshalBinary is MarshalText.
func (s *Semaphore) MarshalBinary() ([]byte, error) { return s.MarshalText() }

// UnmarshalBinary is UnmarshalText.
func (s *Semaphore) UnmarshalBinary(b []byte) error { return s.UnmarshalText(b) }
