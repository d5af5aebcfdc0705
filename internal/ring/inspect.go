//go:build linux

package ring

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/multiproc/multiproc/internal/robust"
)

// The bytes after the header a tool must read to inspect a queue or a
// pipe: their control blocks.
const (
	QueueControlSize = qControlSize
	PipeControlSize  = pControlSize
)

// QueueState is a snapshot of a queue read from its bytes, for tools such
// as `multiproc inspect`.
type QueueState struct {
	Geometry
	Items, Bytes       int  // queued records and the ring bytes they take
	Closed             bool // closed for everyone
	Unfinished         int  // joinable: items not yet marked done or given up
	ConsumersWaiting   int  // processes whose consumers may sleep (an upper bound)
	ProducersWaiting   int
	Producer, Consumer robust.State // the two locks
}

// InspectQueue reads the state of the queue whose payload, of size bytes,
// begins with p (a copy of at least the control block, QueueControlSize
// bytes after the header), without writing. Foreign bytes give an error,
// never a panic.
func InspectQueue(p []byte, size int) (QueueState, error) {
	g, err := readGeometrySized(p, size)
	if err != nil {
		return QueueState{}, err
	}
	if uintptr(unsafe.Pointer(&p[0]))%8 != 0 {
		return QueueState{}, fmt.Errorf("queue payload not 8-byte aligned")
	}
	le := binary.LittleEndian
	tail, head := le.Uint64(p[offTail:]), le.Uint64(p[offHead:])
	d := data{cap: uint32(g.Capacity)}
	st := QueueState{
		Geometry:         g,
		Items:            int(pos32(tail) - pos32(head)),
		Bytes:            int(d.used(tail, head)),
		Closed:           le.Uint32(p[offState:]) == qClosed,
		ConsumersWaiting: int(le.Uint32(p[offNotEmpty+4:])),
		ProducersWaiting: int(le.Uint32(p[offNotFull+4:])),
	}
	if g.Joinable {
		st.Unfinished = max(int(unfinishedOf(tail, le.Uint64(p[offDone:]))), 0)
	}
	if st.Producer, err = robust.Inspect(p[offProdLock:]); err != nil {
		return QueueState{}, err
	}
	if st.Consumer, err = robust.Inspect(p[offConsLock:]); err != nil {
		return QueueState{}, err
	}
	return st, nil
}

// PipeState is a snapshot of a pipe read from its bytes.
type PipeState struct {
	PipeGeometry
	Pending [2]int  // records waiting in each direction (0: end 1 → end 0 one way)
	Owner   [2]int  // pid owning each end
	Alive   [2]bool // whether that process lives
	Closed  [2]bool
}

// InspectPipe reads the state of the pipe whose payload, of size bytes,
// begins with p (at least PipeControlSize bytes), without writing.
func InspectPipe(p []byte, size int) (PipeState, error) {
	g, err := readPipeGeometrySized(p, size)
	if err != nil {
		return PipeState{}, err
	}
	le := binary.LittleEndian
	st := PipeState{PipeGeometry: g}
	dirSize := int(unsafe.Sizeof(pDir{}))
	ownerOff := int(unsafe.Offsetof(pControl{}.owner))
	closedOff := int(unsafe.Offsetof(pControl{}.closed))
	for i := range 2 {
		base := i * dirSize
		tail, head := le.Uint64(p[base:]), le.Uint64(p[base+64:])
		st.Pending[i] = int(pos32(tail) - pos32(head))
		o := le.Uint64(p[ownerOff+8*i:])
		st.Owner[i] = robust.PIDOf(o)
		st.Alive[i] = o != 0 && robust.Alive(o)
		st.Closed[i] = le.Uint32(p[closedOff+4*i:]) != 0
	}
	if !g.Duplex {
		st.Pending[1] = 0
	}
	return st, nil
}
