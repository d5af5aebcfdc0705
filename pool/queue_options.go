package pool

import (
	"fmt"
	"io/fs"
	"reflect"

	"github.com/multiproc/multiproc/internal/codec"
	"github.com/multiproc/multiproc/internal/segment"
)

// A QueueOption tunes NewQueue, NewJoinableQueue, OpenQueue, Pipe and
// OpenConn. Options that do not apply to a call are ignored by it (Mode
// means nothing to an Open, MaxSize nothing to a Pipe).
type QueueOption func(*queueOptions)

type queueOptions struct {
	segment.Options
	maxSize     int
	capacity    int
	hasCapacity bool
	codec       any // a Codec[T] from WithCodec
}

// DefaultCapacity is the ring a queue gets without Capacity: 1 MiB, which
// carries items up to 256 KiB through the ring itself (larger ones go
// through a side segment of their own, see Queue).
const DefaultCapacity = 1 << 20

// DefaultPipeCapacity is each direction's ring of a Pipe without Capacity
// (a Linux pipe buffer's size).
const DefaultPipeCapacity = 64 << 10

// MaxSize bounds the number of items a queue holds (Python's maxsize): Put
// waits, and TryPut fails with ErrFull, while n items are queued. 0, the
// default, bounds the queue only by its capacity in bytes. A maxsize the
// capacity cannot hold is refused at creation.
func MaxSize(n int) QueueOption { return func(o *queueOptions) { o.maxSize = n } }

// Capacity sets the ring's size in bytes (rounded up to a multiple of 8):
// the most the queued items may take, and four times the largest item that
// travels through the ring rather than a side segment.
func Capacity(bytes int) QueueOption {
	return func(o *queueOptions) { o.capacity, o.hasCapacity = bytes, true }
}

// Name gives a new queue or pipe the name n instead of a generated one, so
// that unrelated processes can open it; it then stays until Unlink (see
// the package's Lifetime). An empty name is refused.
func Name(n string) QueueOption { return func(o *queueOptions) { o.SetName(n) } }

// Persistent makes a new queue or pipe untracked: it outlives the program
// and is removed only by Unlink or `multiproc rm`.
func Persistent() QueueOption { return func(o *queueOptions) { o.Persistent = true } }

// Mode sets the permission bits of a new queue or pipe (default 0600).
func Mode(perm fs.FileMode) QueueOption { return func(o *queueOptions) { o.SetMode(perm) } }

// AllowForeignOwner lets an Open attach to a queue or pipe owned by another
// user.
func AllowForeignOwner() QueueOption { return func(o *queueOptions) { o.AllowForeignOwner = true } }

// A Codec turns items of type T into bytes and back (see WithCodec).
// Append appends the encoding of *v to dst; Decode sets *v from exactly
// one encoding, never panics on foreign bytes and never keeps b.
type Codec[T any] = codec.Codec[T]

// WithCodec makes a queue or pipe of items of type T carry them with c
// instead of the default (the memory image of a fixed-size plain T, the
// bytes of a []byte or string, a compact type-directed binary format for
// anything else: internal/codec's doc.go has the format). Every process
// must open the queue with the same codec type; another is refused
// (ErrTypeMismatch), as is another T.
func WithCodec[T any](c Codec[T]) QueueOption {
	return func(o *queueOptions) { o.codec = c }
}

// itemCodec is the codec for T that opts ask for, with its Info.
func itemCodec[T any](o queueOptions) (codec.Codec[T], codec.Info, error) {
	if o.codec != nil {
		c, ok := o.codec.(codec.Codec[T])
		if !ok {
			return nil, codec.Info{}, fmt.Errorf("%w: WithCodec gave a %T, not a Codec[%s]", ErrInvalidArgument, o.codec, reflect.TypeFor[T]().String())
		}
		info, err := codec.Describe(c)
		return c, info, err
	}
	return codec.For[T]()
}
