//go:build linux

package ring

// Pipe protocol: one or two single-producer/single-consumer rings (one per
// direction) in one segment, with no lock at all.
//
// Each direction has the records and position words of records.go — the
// writer stores tail, the reader stores head, each store its commit — and
// two futex words: dataReady (+1 by the writer when the reader waits) and
// roomReady (+1 by the reader when the writer waits), with the waiting
// flags beside them, the same lost-wake-up argument as the Queue's.
//
// Ends. End 0 and end 1 are the two values Python's Pipe() returns. Duplex:
// end 0 writes direction 0 and reads direction 1, end 1 the reverse. One
// way: end 1 writes direction 0, end 0 reads it. An end belongs to one
// process at a time: owner[end] holds its identity word. The creator owns
// both; a process that opens an end takes it over (CAS), and the previous
// owner's handle on that end fails from then on — the Go form of Python's
// "pass one end to the child and close it in the parent". Within a process
// a per-end mutex orders the goroutines that share the end.
//
// Closing an end sets closed[end] (only its owner can): the peer's reads
// drain what was sent and then see the end of the stream (io.EOF), its
// writes fail. A peer whose owner process dies is found by the waiting
// side between its bounded sleeps (ErrPeerDied naming the pid): a pipe never
// hangs on a dead peer. Nothing is torn: the commits are single stores.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/multiproc/multiproc/internal/futex"
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/robust"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/wait"
)

// Errors of pipe ends.
var (
	ErrPeerClosed = errors.New("the other end of the pipe is closed")
	ErrPeerDied   = errors.New("the process holding the other end of the pipe died")
	ErrEndTaken   = errors.New("this end of the pipe was opened by another process")
	ErrWrongWay   = errors.New("this end of a one-way pipe cannot do that")
)

// pDir is one direction's words, one cache line each side.
//
//	offset size field
//	     0    8 tail         position word; stored by the writer
//	     8    4 dataReady    futex word: +1 by a write that finds the reader waiting
//	    12    4 readerWaits  1 while the reader may sleep on dataReady
//	    16   48 (reserved)
//	    64    8 head         position word; stored by the reader
//	    72    4 roomReady    futex word: +1 by a read that finds the writer waiting
//	    76    4 writerWaits  1 while the writer may sleep on roomReady
//	    80   48 (reserved)
type pDir struct {
	tail        uint64
	dataReady   uint32
	readerWaits uint32
	_           [48]byte
	head        uint64
	roomReady   uint32
	writerWaits uint32
	_           [48]byte
}

// pControl is the control block of a Pipe, at the start of the payload;
// the data regions follow (direction 0, then direction 1 if duplex).
//
//	offset size field
//	     0  128 dir[0]
//	   128  128 dir[1]        (unused one way)
//	   256    8 capacity      data bytes per direction (fixed)
//	   264    4 flags         pDuplex
//	   268    4 itemFormat    the caller's word for how items are encoded
//	   272   16 owner[2]      identity word of each end's process (CAS)
//	   288    8 closed[2]     1 once the end's owner closed it
//	   296   24 (reserved)
type pControl struct {
	dir        [2]pDir
	capacity   uint64
	flags      uint32
	itemFormat uint32
	owner      [2]uint64
	closed     [2]uint32
	_          [24]byte
}

const pControlSize = 320

var _ [pControlSize - unsafe.Sizeof(pControl{})]byte
var _ [unsafe.Sizeof(pControl{}) - pControlSize]byte

const pDuplex = 1

// PipePayloadSize is the payload a pipe of capacity bytes per direction
// needs.
func PipePayloadSize(capacity int, duplex bool) int {
	if duplex {
		return pControlSize + 2*capacity
	}
	return pControlSize + capacity
}

// InitPipe writes a new pipe into the zeroed payload p; the creator owns
// both ends.
func InitPipe(p []byte, g PipeGeometry) error {
	if err := checkGeometry(Geometry{Capacity: g.Capacity}); err != nil {
		return err
	}
	if len(p) < PipePayloadSize(g.Capacity, g.Duplex) {
		return fmt.Errorf("payload of %d bytes, a pipe of %d-byte rings needs %d", len(p), g.Capacity, PipePayloadSize(g.Capacity, g.Duplex))
	}
	c := (*pControl)(unsafe.Pointer(&p[0]))
	c.capacity = uint64(g.Capacity)
	c.itemFormat = g.ItemFormat
	if g.Duplex {
		c.flags = pDuplex
	}
	me := robust.SelfID()
	c.owner[0], c.owner[1] = me, me
	return nil
}

// PipeGeometry is a pipe's fixed facts.
type PipeGeometry struct {
	Capacity   int
	Duplex     bool
	ItemFormat uint32 // opaque to the ring
}

func readPipeGeometry(p []byte) (PipeGeometry, error) { return readPipeGeometrySized(p, len(p)) }

// readPipeGeometrySized is readPipeGeometry for p holding at least the
// control block of a payload of size bytes.
func readPipeGeometrySized(p []byte, size int) (PipeGeometry, error) {
	if size < pControlSize+MinCapacity || len(p) < pControlSize {
		return PipeGeometry{}, fmt.Errorf("%w: Pipe payload of %d bytes", ErrCorrupt, size)
	}
	c := (*pControl)(unsafe.Pointer(&p[0]))
	g := PipeGeometry{Capacity: int(c.capacity), Duplex: c.flags&pDuplex != 0, ItemFormat: c.itemFormat}
	if err := checkGeometry(Geometry{Capacity: g.Capacity}); err != nil {
		return PipeGeometry{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if c.flags&^pDuplex != 0 || PipePayloadSize(g.Capacity, g.Duplex) > size {
		return PipeGeometry{}, fmt.Errorf("%w: Pipe of %d-byte rings (flags %#x) in a %d-byte payload", ErrCorrupt, g.Capacity, c.flags, size)
	}
	return g, nil
}

// An End is one process's handle on one end of a pipe.
type End struct {
	c      *pControl
	g      PipeGeometry
	end    int
	send   *pSide // nil when this end cannot send
	recv   *pSide // nil when this end cannot receive
	file   *segment.File
	life   *wait.Handle
	me     uint64
	sendMu sync.Mutex // goroutines of this process sending on this end
	recvMu sync.Mutex
}

// pSide is one direction as seen from one end.
type pSide struct {
	d    *pDir
	data data
	gate *wait.Gate
	// The other side's position as last read (the Queue's headSeen and
	// tailSeen, for one writer and one reader): the writer's head with the
	// tail it goes with, the reader's tail. Used under sendMu / recvMu.
	headSeen, headTail, tailSeen uint64
}

var pipeGates wait.Registry[wait.Gate]

// AttachEnd returns a handle on end (0 or 1) of the pipe in obj. take
// makes this process the end's owner (an open in another process); the
// creator already owns both.
func AttachEnd(obj *segment.Object, end int, take bool, life *wait.Handle) (*End, error) {
	if end != 0 && end != 1 {
		return nil, fmt.Errorf("pipe end %d: want 0 or 1", end)
	}
	var g PipeGeometry
	p := unsafe.Pointer(&obj.Payload[0])
	c := (*pControl)(p)
	me := robust.SelfID()
	// The take is a write to the mapping: it belongs inside the validation,
	// which a truncation of the file under it fails instead of faulting.
	err := obj.Validate(func() (err error) {
		if g, err = readPipeGeometry(obj.Payload); err != nil || !take {
			return err
		}
		for {
			o := atomic.LoadUint64(&c.owner[end])
			if o == me || atomic.CompareAndSwapUint64(&c.owner[end], o, me) {
				return nil
			}
		}
	})
	if err != nil {
		return nil, err
	}
	e := &End{c: c, g: g, end: end, file: obj.File, life: life, me: me}
	side := func(dir int) *pSide {
		off := pControlSize + dir*g.Capacity
		return &pSide{
			d:    &c.dir[dir],
			data: data{b: obj.Payload[off : off+g.Capacity], cap: uint32(g.Capacity)},
			gate: pipeGates.Get(wait.Key{Dev: obj.Dev, Ino: obj.Ino, Off: int64(layout.HeaderSize + dir*int(unsafe.Sizeof(pDir{})))}),
		}
	}
	switch {
	case g.Duplex:
		e.send, e.recv = side(end), side(1-end)
	case end == 1:
		e.send = side(0)
	default:
		e.recv = side(0)
	}
	return e, nil
}

// PipeGeometry returns the pipe's fixed facts.
func (e *End) PipeGeometry() PipeGeometry { return e.g }

// MaxRecord is the largest payload a record carries through the ring.
func (e *End) MaxRecord() int { return e.g.Capacity/4 - recHeader }

// owned reports whether this process still owns the end.
func (e *End) owned() error {
	if o := atomic.LoadUint64(&e.c.owner[e.end]); o != e.me {
		return fmt.Errorf("%w (pid %d)", ErrEndTaken, robust.PIDOf(o))
	}
	return nil
}

// peer is the other end's index.
func (e *End) peer() int { return 1 - e.end }

// peerState says why the peer cannot take part any more: closed, or dead.
func (e *End) peerState() error {
	if atomic.LoadUint32(&e.c.closed[e.peer()]) != 0 {
		return ErrPeerClosed
	}
	if o := atomic.LoadUint64(&e.c.owner[e.peer()]); o != 0 && !robust.Alive(o) {
		return fmt.Errorf("%w (pid %d)", ErrPeerDied, robust.PIDOf(o))
	}
	return nil
}

// Send writes one record of n payload bytes (fill writes it in place),
// waiting for room until ctx ends. It fails with ErrPeerClosed or
// ErrPeerDied once the receiving end is gone.
func (e *End) Send(ctx context.Context, n int, kind uint32, fill Fill) error {
	defer runtime.KeepAlive(e)
	if e.send == nil {
		return ErrWrongWay
	}
	if n < 0 || n > e.MaxRecord() {
		return fmt.Errorf("message of %d bytes: at most %d fit this pipe's %d-byte ring", n, e.MaxRecord(), e.g.Capacity)
	}
	e.sendMu.Lock()
	defer e.sendMu.Unlock()
	s := e.send
	size := uint32(RecordSize(n))
	for {
		if e.life != nil && e.life.Closed() {
			return wait.ErrClosed
		}
		if err := e.owned(); err != nil {
			return err
		}
		if atomic.LoadUint32(&e.c.closed[e.peer()]) != 0 {
			return ErrPeerClosed
		}
		tail := atomic.LoadUint64(&s.d.tail)
		head := s.headSeen
		if tail != s.headTail {
			head = atomic.LoadUint64(&s.d.head)
		}
		at, pad, next, ok := s.data.place(tail, head, size)
		if !ok && head == s.headSeen && tail == s.headTail {
			head = atomic.LoadUint64(&s.d.head) // the one seen was stale: look again
			at, pad, next, ok = s.data.place(tail, head, size)
		}
		s.headSeen, s.headTail = head, tail
		if ok {
			s.headTail = next
			if err := fill(s.data.writeHeader(at, n, kind)); err != nil {
				return err
			}
			if pad {
				_, off := pos(tail)
				s.data.writePad(off)
			}
			atomic.StoreUint64(&s.d.tail, next)
			if atomic.LoadUint32(&s.d.readerWaits) != 0 {
				atomic.AddUint32(&s.d.dataReady, 1)
				futex.Wake(&s.d.dataReady, 1)
			}
			return nil
		}
		ready := func() bool {
			_, _, _, ok := s.data.place(atomic.LoadUint64(&s.d.tail), atomic.LoadUint64(&s.d.head), size)
			return ok
		}
		if err := e.await(ctx, s, &s.d.roomReady, &s.d.writerWaits, ready); err != nil {
			return err
		}
		if !ready() {
			if err := e.peerState(); err != nil {
				return err // nobody will ever make room
			}
		}
	}
}

// Recv takes one record, waiting until ctx ends. take copies the payload
// out (it is in the ring only during the call). It returns ErrPeerClosed
// once the sending end is closed and everything it sent was received, and
// ErrPeerDied when it is gone with nothing left.
func (e *End) Recv(ctx context.Context, take Take) error {
	defer runtime.KeepAlive(e)
	if e.recv == nil {
		return ErrWrongWay
	}
	e.recvMu.Lock()
	defer e.recvMu.Unlock()
	s := e.recv
	for {
		if e.life != nil && e.life.Closed() {
			return wait.ErrClosed
		}
		if err := e.owned(); err != nil {
			return err
		}
		head := atomic.LoadUint64(&s.d.head)
		tail := s.tailSeen
		if d := pos32(tail) - pos32(head); d == 0 || d > 1<<31 {
			tail = atomic.LoadUint64(&s.d.tail)
			s.tailSeen = tail
		}
		if pos32(tail) != pos32(head) {
			kind, payload, next, err := s.data.read(head)
			if err != nil {
				return err
			}
			if err := take(kind, payload); err != nil {
				return err
			}
			atomic.StoreUint64(&s.d.head, next)
			if atomic.LoadUint32(&s.d.writerWaits) != 0 {
				atomic.AddUint32(&s.d.roomReady, 1)
				futex.Wake(&s.d.roomReady, 1)
			}
			return nil
		}
		if atomic.LoadUint32(&e.c.closed[e.peer()]) != 0 {
			if e.pending(s)() {
				continue // the last records came before the close
			}
			return ErrPeerClosed
		}
		if err := e.await(ctx, s, &s.d.dataReady, &s.d.readerWaits, e.pending(s)); err != nil {
			return err
		}
		if !e.pending(s)() {
			if err := e.peerState(); err != nil && !e.pending(s)() {
				return err
			}
		}
	}
}

// pending returns a check that reports whether a record waits on s.
func (e *End) pending(s *pSide) func() bool {
	return func() bool { return pos32(atomic.LoadUint64(&s.d.tail)) != pos32(atomic.LoadUint64(&s.d.head)) }
}

// Poll reports whether Recv would return at once, waiting until it would
// or ctx ends (then false, nil): a record is ready, or the peer closed or
// died, which the next Recv reports (as Python's poll reports EOF as
// readable).
func (e *End) Poll(ctx context.Context) (bool, error) {
	defer runtime.KeepAlive(e)
	if e.recv == nil {
		return false, ErrWrongWay
	}
	s := e.recv
	for {
		if e.pending(s)() {
			return true, nil
		}
		if atomic.LoadUint32(&e.c.closed[e.peer()]) != 0 {
			return e.pending(s)(), nil // readable: the next Recv reports the end
		}
		if ctx.Err() != nil {
			return false, nil
		}
		if err := e.await(ctx, s, &s.d.dataReady, &s.d.readerWaits, e.pending(s)); err != nil {
			if ctx.Err() != nil {
				return e.pending(s)(), nil
			}
			return false, err
		}
		if !e.pending(s)() && e.peerState() != nil {
			return true, nil // readable: the next Recv reports the peer's death
		}
	}
}

// await waits on word until ready, the peer is gone, or ctx ends; the
// peer's liveness is checked between bounded sleeps.
func (e *End) await(ctx context.Context, s *pSide, word, waits *uint32, ready func() bool) error {
	gone := func() bool { return e.peerState() != nil }
	peerClosed := func() bool { return atomic.LoadUint32(&e.c.closed[e.peer()]) != 0 }
	held, err := s.gate.Enter(ctx, e.life, func() bool { return ready() || peerClosed() })
	if !held {
		return err
	}
	defer s.gate.LeaveChanged()
	if wait.SpinUntil(func() bool { return ready() || peerClosed() }) || gone() {
		return nil
	}
	atomic.StoreUint32(waits, 1)
	defer atomic.StoreUint32(waits, 0)
	sl := wait.NewSleeper(ctx, word, e, e.life)
	defer sl.Stop()
	for {
		seq := atomic.LoadUint32(word)
		if ready() || atomic.LoadUint32(&e.c.closed[e.peer()]) != 0 {
			return nil
		}
		slice, err := sl.Sleep(seq)
		if err != nil {
			return err
		}
		if slice && gone() {
			return nil // the caller reports it
		}
	}
}

// CloseEnd marks this end closed for the peer (if this process still owns
// it) and wakes the peer.
func (e *End) CloseEnd() {
	defer runtime.KeepAlive(e)
	if e.owned() != nil {
		return
	}
	atomic.StoreUint32(&e.c.closed[e.end], 1)
	e.Kick()
}

// Kick wakes every sleeper on the pipe.
func (e *End) Kick() {
	for i := range e.c.dir {
		d := &e.c.dir[i]
		atomic.AddUint32(&d.dataReady, 1)
		futex.WakeAll(&d.dataReady)
		atomic.AddUint32(&d.roomReady, 1)
		futex.WakeAll(&d.roomReady)
	}
	runtime.KeepAlive(e)
}

// Pending reports how many records wait to be received on this end.
func (e *End) Pending() int {
	defer runtime.KeepAlive(e)
	if e.recv == nil {
		return 0
	}
	return int(pos32(atomic.LoadUint64(&e.recv.d.tail)) - pos32(atomic.LoadUint64(&e.recv.d.head)))
}
