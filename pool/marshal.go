package pool

import "fmt"

// Queues, joinable queues and pipe ends travel between processes as their
// names, as Values and Locks do: MarshalText and UnmarshalText (and their
// Binary twins) make that automatic for the item codec, so a task argument
// or a queue item holding a *Queue, a *JoinableQueue or a *Conn is encoded
// as the name, and decoding it in another process opens the object there
// (with the default codec: a queue made WithCodec must be opened by hand).
// The receiver of UnmarshalText must be a zero value; it owns the handle
// it opened: Close it when done. A pipe end decoded in another process is
// taken over by that process (see Conn).

// MarshalText returns the queue's name.
func (q *Queue[T]) MarshalText() ([]byte, error) {
	if q.obj == nil {
		return nil, fmt.Errorf("pool: MarshalText of a Queue that was never opened")
	}
	return []byte(q.obj.Name), nil
}

// UnmarshalText opens the queue named text into q (as OpenQueue[T]).
func (q *Queue[T]) UnmarshalText(text []byte) error {
	if q.obj != nil {
		return fmt.Errorf("pool: UnmarshalText into Queue %s, which is already open", q.obj.Name)
	}
	return q.open(string(text), queueOptions{}, false)
}

// MarshalBinary is MarshalText.
func (q *Queue[T]) MarshalBinary() ([]byte, error) { return q.MarshalText() }

// UnmarshalBinary is UnmarshalText.
func (q *Queue[T]) UnmarshalBinary(b []byte) error { return q.UnmarshalText(b) }

// MarshalText returns the joinable queue's name.
func (q *JoinableQueue[T]) MarshalText() ([]byte, error) {
	if q.Queue == nil {
		return nil, fmt.Errorf("pool: MarshalText of a JoinableQueue that was never opened")
	}
	return q.Queue.MarshalText()
}

// UnmarshalText opens the joinable queue named text into q.
func (q *JoinableQueue[T]) UnmarshalText(text []byte) error {
	if q.Queue != nil {
		return fmt.Errorf("pool: UnmarshalText into JoinableQueue %s, which is already open", q.Name())
	}
	nq := new(Queue[T])
	if err := nq.open(string(text), queueOptions{}, true); err != nil {
		return err
	}
	q.Queue = nq
	return nil
}

// MarshalBinary is MarshalText.
func (q *JoinableQueue[T]) MarshalBinary() ([]byte, error) { return q.MarshalText() }

// UnmarshalBinary is UnmarshalText.
func (q *JoinableQueue[T]) UnmarshalBinary(b []byte) error { return q.UnmarshalText(b) }

// MarshalText returns the end's name, "NAME:0" or "NAME:1".
func (c *Conn[T]) MarshalText() ([]byte, error) {
	if c.obj == nil {
		return nil, fmt.Errorf("pool: MarshalText of a Conn that was never opened")
	}
	return []byte(c.Name()), nil
}

// UnmarshalText opens the pipe end named text into c, taking it over.
func (c *Conn[T]) UnmarshalText(text []byte) error {
	if c.obj != nil {
		return fmt.Errorf("pool: UnmarshalText into Conn %s, which is already open", c.Name())
	}
	return c.open(string(text), queueOptions{})
}

// MarshalBinary is MarshalText.
func (c *Conn[T]) MarshalBinary() ([]byte, error) { return c.MarshalText() }

// UnmarshalBinary is UnmarshalText.
func (c *Conn[T]) UnmarshalBinary(b []byte) error { return c.UnmarshalText(b) }
