package barrier

import (
	"errors"
	"fmt"
)

// A Barrier travels between processes as its name, as every shared object
// does (MarshalText and UnmarshalText, and their Binary twins for
// encoding/gob and multiproc's queues): a task argument or a queue item
// holding a *Barrier is encoded with the barrier's name, and decoding it
// in another process opens the same barrier there. Functions do not
// travel: a barrier that has an Action must be opened with Open(name,
// Action(fn)) in every process that waits (a decoded one has no Action, and
// completing a cycle there breaks the barrier with ErrNoAction). The
// receiver owns the opened handle: Close it when done.

// MarshalText returns the barrier's name.
func (b *Barrier) MarshalText() ([]byte, error) {
	if b.obj == nil {
		return nil, failf("MarshalText", errors.New("a Barrier that was never opened"))
	}
	return []byte(b.obj.Name), nil
}

// UnmarshalText opens the barrier named text into b, a zero Barrier, as
// Open(text) does.
func (b *Barrier) UnmarshalText(text []byte) error {
	op := "UnmarshalText of Barrier " + string(text)
	if b.obj != nil {
		return failf(op, fmt.Errorf("%w: into Barrier %s, which is open already", ErrInvalidArgument, b.obj.Name))
	}
	return failf(op, b.open(string(text), options{}))
}

// MarshalBinary is MarshalText.
func (b *Barrier) MarshalBinary() ([]byte, error) { return b.MarshalText() }

// UnmarshalBinary is UnmarshalText.
func (b *Barrier) UnmarshalBinary(data []byte) error { return b.UnmarshalText(data) }
