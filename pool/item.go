package pool

// How a queue or a pipe carries items of type T in records of its ring
// (internal/ring), and items too large for the ring in side segments.
//
// Put: a codec that knows an item's size without encoding it (the raw
// codecs: plain T, []byte, string) encodes in place, into the record in
// shared memory, with the ring's lock held — one memmove, the least a
// queue can do. Any other codec encodes into a scratch buffer first,
// without the lock, and the record is a copy of it. An item larger than a
// quarter of the ring goes into a side segment of its own (written before
// the put), and the record carries the segment's name (KindRef): the ring
// never copies it. Get mirrors this: raw items are decoded from the record
// with the lock held, others copied out and decoded after, side segments
// opened, decoded, and removed.
//
// A side segment lives as long as its queue or pipe, not its producer: a
// producer may put a large item and exit (its program too) long before a
// consumer takes it. So it is not tracked; its name starts with the
// owner's prefix (shmfile.SidePrefix: the owner's name and inode), and the
// owner's end removes its side segments (closeOwner, unlinkOwner, and the
// tracker's and admin's removals; see internal/shmfile/side.go). One whose
// record is never taken — a consumer killed between taking the record and
// reading it, a producer killed before its put committed — stays until
// then.

import (
	"fmt"
	"reflect"
	"sync"

	"github.com/multiproc/multiproc/internal/codec"
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/ring"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/shmfile"
)

// Record kinds of a queue or pipe.
const (
	kindItem = ring.KindItem
	kindRef  = ring.KindRef
)

// carrier is a queue's or pipe's item codec and buffers.
type carrier[T any] struct {
	c         codec.Codec[T]
	sizer     codec.Sizer[T] // nil: encode into scratch first
	info      codec.Info
	maxRecord int // the largest item through the ring itself
	bufs      sync.Pool
	what      string // "Queue[T] NAME", for messages
	sides     string // the owner's shmfile.SidePrefix
}

func newCarrier[T any](c codec.Codec[T], info codec.Info, maxRecord int, owner *segment.File, what string) *carrier[T] {
	s, _ := c.(codec.Sizer[T])
	return &carrier[T]{c: c, sizer: s, info: info, maxRecord: maxRecord, sides: sidePrefix(owner), what: what}
}

// sidePrefix starts the names of the side segments of the queue or pipe in f.
func sidePrefix(f *segment.File) string { return shmfile.SidePrefix(f.Name, f.Ino) }

// closeOwner closes f, the File of a queue or a pipe, and then, if its
// name is gone (this Close may have removed it) and nobody holds it any
// more, removes its side segments: the items too large for the ring end
// with the object, not before — a producer may exit long before its items
// are taken. Whoever releases last finds nobody holding it (two closers at
// once may both do it, which is harmless).
func closeOwner(f *segment.File) error {
	probe, perr := f.Probe()
	err := f.Close()
	if perr == nil {
		if f.NameGone() && shmfile.LastHolder(probe, shmfile.ID{Dev: f.Dev, Ino: f.Ino}) {
			shmfile.RemoveSides(sidePrefix(f))
		}
		probe.Close()
	}
	return err
}

// unlinkOwner removes the name of a queue or a pipe. Its side segments stay
// for the handles still open (closeOwner removes them at the last one's
// Close); after this handle's Close (closed), a name nobody holds is
// removed under an exclusive flock, and its side segments with it.
func unlinkOwner(f *segment.File, closed bool) error {
	if closed {
		if removed, err := segment.TryRemoveUnheldID(f.Name, f.Dev, f.Ino); err == nil && removed {
			f.Unlink() // tells the tracker; the name is gone already
			shmfile.RemoveSides(sidePrefix(f))
			return nil
		}
	}
	return f.Unlink()
}

func (k *carrier[T]) buf() *[]byte {
	if b, ok := k.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 256)
	return &b
}

func (k *carrier[T]) putBuf(b *[]byte) {
	if cap(*b) <= 64<<10 { // keep small buffers only
		*b = (*b)[:0]
		k.bufs.Put(b)
	}
}

// outgoing is one item ready to be put: its record's size and kind, and
// what the record holds — the item itself, encoded in place (x), or bytes
// encoded already (data: the encoding in a scratch buffer, or a side
// segment's name) — and what to undo if the put fails.
type outgoing[T any] struct {
	n    int
	kind uint32
	x    *T     // encode in place (a Sizer codec)
	data []byte // or copy these
	side *segment.File
	buf  *[]byte
}

// encode prepares x. The caller reserves a record of o.n bytes and kind
// o.kind, fills it (fill), and then calls done with the put's error.
func (k *carrier[T]) encode(x *T) (outgoing[T], error) {
	if k.sizer != nil {
		n := k.sizer.Size(x)
		if n <= k.maxRecord {
			return outgoing[T]{n: n, kind: kindItem, x: x}, nil
		}
		return k.sideSegment(n, func(dst []byte) error {
			_, err := codec.Append(k.c, dst[:0:n], x)
			return err
		})
	}
	buf := k.buf()
	b, err := codec.Append(k.c, (*buf)[:0], x)
	*buf = b
	if err != nil {
		k.putBuf(buf)
		return outgoing[T]{}, k.encodeError(x, err)
	}
	if len(b) <= k.maxRecord {
		return outgoing[T]{n: len(b), kind: kindItem, data: b, buf: buf}, nil
	}
	o, err := k.sideSegment(len(b), func(dst []byte) error { copy(dst, b); return nil })
	k.putBuf(buf)
	return o, err
}

// sizesInPlace returns the record sizes of xs if every one of them is
// encoded in place (a Sizer codec, every item within the ring's limit).
func (k *carrier[T]) sizesInPlace(xs []T) ([]int, bool) {
	if k.sizer == nil {
		return nil, false
	}
	sizes := make([]int, len(xs))
	for i := range xs {
		n := k.sizer.Size(&xs[i])
		if n > k.maxRecord {
			return nil, false
		}
		sizes[i] = n
	}
	return sizes, true
}

// fill writes o's record payload into dst (len o.n, in the ring).
func (k *carrier[T]) fill(o *outgoing[T], dst []byte) error {
	if o.x == nil {
		copy(dst, o.data)
		return nil
	}
	b, err := codec.Append(k.c, dst[:0:o.n], o.x)
	if err == nil && (len(b) != o.n || o.n > 0 && &b[0] != &dst[0]) {
		return fmt.Errorf("%s: codec said %d bytes and wrote %d", k.what, o.n, len(b))
	}
	return err
}

func (k *carrier[T]) encodeError(x *T, err error) error {
	return fmt.Errorf("%s: cannot encode a %s: %w", k.what, reflect.TypeOf(*x), err)
}

// sideSegment writes an item of n bytes into a segment of its own and
// returns the record that names it.
func (k *carrier[T]) sideSegment(n int, write func([]byte) error) (outgoing[T], error) {
	name := shmfile.GenerateSide(k.sides)
	f, err := segment.Create(name, n, segment.CreateOptions{Kind: layout.KindRaw, Lifetime: segment.Persistent}, write)
	if err != nil {
		return outgoing[T]{}, fmt.Errorf("%s: an item of %d bytes needs a side segment: %w", k.what, n, err)
	}
	return outgoing[T]{n: len(name), kind: kindRef, side: f, data: []byte(name)}, nil
}

// done finishes a put: a side segment stays for its consumer if the put
// committed, and goes if it did not.
func (k *carrier[T]) done(o *outgoing[T], err error) {
	if o.side != nil {
		if err != nil {
			o.side.Unlink()
		}
		o.side.Close()
		o.side.Unmap()
	}
	if o.buf != nil {
		k.putBuf(o.buf)
	}
}

// incoming is one record taken: decoded already (raw items), or copied out
// to decode after the ring's lock is let go.
type incoming[T any] struct {
	v       T
	err     error
	decoded bool
	kind    uint32
	data    []byte // a copy of the record
}

// take receives a record with the ring's lock held.
func (k *carrier[T]) take(in *incoming[T], kind uint32, p []byte) {
	in.kind = kind
	if kind == kindItem && k.sizer != nil {
		in.v, in.err = codec.Decode(k.c, p)
		in.decoded = true
		return
	}
	in.data = append(in.data[:0], p...)
}

// finish decodes what take copied out.
func (k *carrier[T]) finish(in *incoming[T]) (T, error) {
	if !in.decoded {
		switch in.kind {
		case kindItem:
			in.v, in.err = codec.Decode(k.c, in.data)
		case kindRef:
			in.v, in.err = k.readSide(string(in.data))
		default:
			in.err = fmt.Errorf("%w: record of kind %d", ErrCorrupt, in.kind)
		}
	}
	if in.err != nil {
		return in.v, fmt.Errorf("%s: an item did not decode (it is removed from the queue): %w", k.what, in.err)
	}
	return in.v, nil
}

// readSide decodes the item in the side segment name, and removes it.
func (k *carrier[T]) readSide(name string) (T, error) {
	var zero T
	if _, err := segment.CleanName(name, ""); err != nil {
		return zero, fmt.Errorf("%w: side segment name %q", ErrCorrupt, name)
	}
	f, err := segment.Open(name, segment.OpenOptions{})
	if err != nil {
		return zero, fmt.Errorf("%w: side segment %s: %v", ErrCorrupt, name, err)
	}
	defer func() {
		f.Unlink()
		f.Close()
		f.Unmap()
	}()
	// Someone with our uid may cut the file under us: the decode runs
	// under Validate, so that is ErrCorrupt (ErrTruncated), not a SIGBUS.
	var v T
	err = f.Validate(func() (err error) {
		v, err = codec.Decode(k.c, f.Bytes())
		return err
	})
	if err != nil {
		return zero, fmt.Errorf("side segment %s: %w", name, err)
	}
	return v, nil
}
