package pool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"reflect"
	"runtime"
	"strconv"
	"strings"

	"github.com/multiproc/multiproc/internal/codec"
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/ring"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/wait"
)

// A Conn is one end of a Pipe: Python's Connection, for items of type T.
//
// The two ends of a pipe are one shared segment with one single-producer,
// single-consumer ring per direction (internal/ring): no lock, one store
// to publish a message, a wake-up only when the other side sleeps. An end
// belongs to one process at a time — the creator holds both; the process
// that opens an end (OpenConn, or decoding it from a task's argument) takes
// it over, and the creator's handle on that end then fails with
// ErrEndTaken — the Go form of Python's "pass one end to the child and
// close it in the parent". Goroutines of one process may share an end.
//
// Recv returns io.EOF once the other end is closed and everything it sent
// has been received, and an error wrapping ErrPeerDied once the process
// holding the other end has died (noticed within the poll interval): a
// pipe never hangs on a dead peer. A Conn marshals as its name and end.
type Conn[T any] struct {
	obj  *segment.Object
	e    *ring.End
	k    *carrier[T]
	kb   *carrier[[]byte] // SendBytes/RecvBytes
	end  int
	life wait.Handle
}

// Pipe returns the two ends of a new pipe (Python's Pipe(duplex)). Duplex,
// both ends send and receive; one way, the first end only receives and the
// second only sends, as in Python. Options: Capacity (bytes per
// direction), WithCodec, Name, Persistent, Mode.
func Pipe[T any](duplex bool, opts ...QueueOption) (*Conn[T], *Conn[T], error) {
	o := segment.Collect[queueOptions](opts)
	c, info, err := itemCodec[T](o)
	if err != nil {
		return nil, nil, fmt.Errorf("pool: Pipe[%s]: %w", reflect.TypeFor[T](), err)
	}
	capacity := DefaultPipeCapacity
	if o.hasCapacity {
		if o.capacity < ring.MinCapacity || o.capacity > ring.MaxCapacity {
			return nil, nil, fmt.Errorf("pool: Pipe: %w: Capacity(%d): must be from %d to %d bytes", ErrInvalidArgument, o.capacity, ring.MinCapacity, ring.MaxCapacity)
		}
		capacity = (o.capacity + 7) &^ 7
	}
	g := ring.PipeGeometry{Capacity: capacity, Duplex: duplex, ItemFormat: uint32(info.ID)}
	ti := layout.TypeInfo{Name: info.Type, Size: info.Size, Hash: info.Hash}
	obj, err := segment.CreateObject(segment.ObjectSpec{
		Kind:        layout.KindPipe,
		PayloadSize: ring.PipePayloadSize(capacity, duplex),
		Elem:        &ti,
	}, o.Options, func(p []byte) error { return ring.InitPipe(p, g) })
	if err != nil {
		return nil, nil, err
	}
	a := new(Conn[T])
	if err := a.attach(obj, 0, false, c, info); err != nil {
		obj.Unlink()
		obj.Close()
		return nil, nil, err
	}
	// The second end gets a handle of its own (not the creator's), so
	// that closing it ends only it, whatever the pipe's lifetime.
	obj2, err := segment.OpenObject(obj.Name, layout.KindPipe, nil, o.Open())
	if err == nil {
		b := new(Conn[T])
		if err = b.attach(obj2, 1, false, c, info); err == nil {
			return a, b, nil
		}
		obj2.Close()
	}
	obj.Unlink()
	obj.Close()
	return nil, nil, err
}

// OpenConn opens an end of a pipe by the name its Name method returns
// ("NAME:0" or "NAME:1"), taking the end over from whichever process held
// it. The item type and codec must be the pipe's.
func OpenConn[T any](name string, opts ...QueueOption) (*Conn[T], error) {
	c := new(Conn[T])
	if err := c.open(name, segment.Collect[queueOptions](opts)); err != nil {
		return nil, err
	}
	return c, nil
}

// open opens the end called name into c, a zero Conn.
func (c *Conn[T]) open(name string, o queueOptions) error {
	cd, want, err := itemCodec[T](o)
	if err != nil {
		return fmt.Errorf("pool: OpenConn[%s]: %w", reflect.TypeFor[T](), err)
	}
	i := strings.LastIndexByte(name, ':')
	end, perr := strconv.Atoi(name[i+1:])
	if i < 0 || perr != nil || end < 0 || end > 1 {
		return fmt.Errorf("pool: OpenConn(%q): %w: a pipe end is named NAME:0 or NAME:1", name, ErrInvalidName)
	}
	obj, err := segment.OpenObject(name[:i], layout.KindPipe, nil, o.Open())
	if err != nil {
		return err
	}
	h := obj.Header
	got := codec.Info{Hash: h.TypeHash, Size: h.ElemSize, Type: h.TypeNameString()}
	err = c.attach(obj, end, true, cd, want)
	if err == nil {
		got.ID = codec.ID(c.e.PipeGeometry().ItemFormat)
		err = want.Match(obj.Name, got)
	}
	if err != nil {
		obj.Close()
		return &fs.PathError{Op: "open", Path: obj.Path(), Err: err}
	}
	return nil
}

// attach makes c, a zero Conn, the handle on end of the pipe in obj; take
// makes this process the end's owner.
func (c *Conn[T]) attach(obj *segment.Object, end int, take bool, cd codec.Codec[T], info codec.Info) error {
	c.obj, c.end = obj, end
	c.life.Init()
	e, err := ring.AttachEnd(obj, end, take, &c.life)
	if err != nil {
		return err
	}
	c.e = e
	what := fmt.Sprintf("pool: Conn[%s] %s:%d", reflect.TypeFor[T](), obj.Name, end)
	c.k = newCarrier(cd, info, e.MaxRecord(), obj.File, what)
	bc, binfo, _ := codec.For[[]byte]()
	c.kb = newCarrier(bc, binfo, e.MaxRecord(), obj.File, what)
	return nil
}

// Name returns the end's name, "NAME:0" or "NAME:1", for OpenConn in
// another process.
func (c *Conn[T]) Name() string { return c.obj.Name + ":" + strconv.Itoa(c.end) }

// Send sends x to the other end, waiting while the pipe is full until ctx
// ends. It fails with an error wrapping ErrPeerClosed (the other end was
// closed), ErrPeerDied, ErrWrongWay (the receiving end of a one-way pipe),
// ErrEndTaken, or ErrClosed; an x that cannot be encoded is an error naming
// its type, and nothing is sent.
func (c *Conn[T]) Send(ctx context.Context, x T) error { return send(c, c.k, ctx, &x) }

// SendBytes sends b as a message of raw bytes (Python's send_bytes), to
// be received with RecvBytes.
func (c *Conn[T]) SendBytes(ctx context.Context, b []byte) error { return send(c, c.kb, ctx, &b) }

// Recv receives the next message, waiting for one until ctx ends. It
// returns io.EOF once the other end is closed and everything it sent has
// been received, an error wrapping ErrPeerDied once the other end's process
// has died and nothing is left, and an error wrapping ErrCorrupt for a
// message that does not decode (or one sent with SendBytes: RecvBytes
// takes those).
func (c *Conn[T]) Recv(ctx context.Context) (T, error) { return recv(c, c.k, ctx) }

// RecvBytes receives the next message of raw bytes (Python's recv_bytes).
func (c *Conn[T]) RecvBytes(ctx context.Context) ([]byte, error) { return recv(c, c.kb, ctx) }

// recvOp and sendOp name the operation for messages.
func recvOp(raw bool) string {
	if raw {
		return "RecvBytes"
	}
	return "Recv"
}

// Poll reports whether a Recv would return at once — a message waits, or
// the other end is closed or gone — waiting until one would or ctx ends
// (then false). Python's poll(timeout) is Poll with a ctx that has a
// deadline; poll() is Poll(ctx) with a ctx already done.
func (c *Conn[T]) Poll(ctx context.Context) (bool, error) {
	defer runtime.KeepAlive(c)
	if c.life.Closed() {
		return false, c.closedErr("Poll")
	}
	ok, err := c.e.Poll(ctx)
	return ok, c.opError("Poll", err)
}

// Close closes this end: the other end's Recv drains what was sent and
// then returns io.EOF, its Send fails. For a pipe made without a Name, the
// creator's Close of its first end also removes the pipe's name (see the
// package's Lifetime section); ends already open keep working. Close is
// idempotent.
func (c *Conn[T]) Close() error {
	c.e.CloseEnd()
	if !c.life.Close(c.e.Kick) {
		return nil
	}
	return closeOwner(c.obj.File)
}

// send and recv are Conn's Send and Recv for a carrier of item type V (T,
// or []byte for the raw-bytes messages).
func send[T, V any](c *Conn[T], k *carrier[V], ctx context.Context, x *V) error {
	defer runtime.KeepAlive(c)
	if c.life.Closed() {
		return c.closedErr("Send")
	}
	o, err := k.encode(x)
	if err != nil {
		return err
	}
	kind := o.kind
	if k != any(c.k) {
		kind = bytesKind(kind)
	}
	err = c.e.Send(ctx, o.n, kind, func(dst []byte) error { return k.fill(&o, dst) })
	k.done(&o, err)
	return c.opError("Send", err)
}

func recv[T, V any](c *Conn[T], k *carrier[V], ctx context.Context) (V, error) {
	defer runtime.KeepAlive(c)
	var zero V
	if c.life.Closed() {
		return zero, c.closedErr("Recv")
	}
	raw := k != any(c.k)
	var in incoming[V]
	var wrong uint32
	err := c.e.Recv(ctx, func(kind uint32, p []byte) error {
		if isBytesKind(kind) != raw {
			wrong = kind
		}
		k.take(&in, plainKind(kind), p)
		return nil
	})
	if err != nil {
		return zero, c.opError(recvOp(raw), err)
	}
	if wrong != 0 {
		k.finish(&in) // removes a side segment
		if raw {
			return zero, fmt.Errorf("pool: RecvBytes on %s: %w: the message was sent with Send; use Recv", c.Name(), ErrCorrupt)
		}
		return zero, fmt.Errorf("pool: Recv on %s: %w: the message was sent with SendBytes; use RecvBytes", c.Name(), ErrCorrupt)
	}
	return k.finish(&in)
}

// Record kinds of raw-bytes messages, beside the item kinds.
func bytesKind(kind uint32) uint32 { return kind | ring.KindBytesFlag }
func isBytesKind(kind uint32) bool { return kind&ring.KindBytesFlag != 0 }
func plainKind(kind uint32) uint32 { return kind &^ ring.KindBytesFlag }

func (c *Conn[T]) closedErr(op string) error {
	return fmt.Errorf("pool: %s on %s: %w", op, c.Name(), ErrClosed)
}

func (c *Conn[T]) opError(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ring.ErrPeerClosed) && strings.HasPrefix(op, "Recv"):
		return io.EOF
	case errors.Is(err, wait.ErrClosed):
		return c.closedErr(op)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("pool: %s on %s: %w", op, c.Name(), err)
}
