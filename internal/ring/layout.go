//go:build linux

package ring

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/robust"
)

// ErrCorrupt is layout.ErrCorrupt: a ring whose bytes no multiproc process
// wrote.
var ErrCorrupt = layout.ErrCorrupt

// Errors of the queue operations.
var (
	ErrFull   = errors.New("queue full")
	ErrEmpty  = errors.New("queue empty")
	ErrClosed = errors.New("queue closed for everyone")
)

// qControl is the control block of a Queue, at the start of the object's
// payload; the data region follows it. Offsets from the payload start:
//
//	offset size field
//	     0   64 prodLock     robust record: held by the producer writing
//	    64   64 consLock     robust record: held by the consumer reading
//	   128    8 tail         position word (records.go); stored by producers
//	   136   56 (reserved)
//	   192    8 head         position word; stored by consumers
//	   200    8 jHead        consumer journal: the head a joinable get commits
//	   208    4 jSlot        the taker's slot index + 1
//	   212    4 jPrev        the slot's held count before the get
//	   216    8 dJWord       done journal: the done word the step stores
//	   224    8 dJHeld       the slot's held count after the step
//	   232    4 dJSlot       the slot index + 1; 0: no step in progress
//	   236    4 dJLost       lostSeq after the step
//	   240   16 (reserved)
//	   256    4 notEmpty     futex word: +1 by a put that finds consumers asleep
//	   260    4 consWaiting  consumers that may sleep on notEmpty (atomic add)
//	   264    4 notFull      futex word: +1 by a get that finds producers asleep
//	   268    4 prodWaiting  producers that may sleep on notFull
//	   272   48 (reserved)
//	   320    8 capacity     data region bytes (fixed at creation)
//	   328    4 maxItems     Python's maxsize; 0 for no limit but capacity
//	   332    4 flags        qJoinable
//	   336    4 state        qOpen or qClosed (closed for everyone)
//	   340    4 itemFormat   the caller's word for how items are encoded (fixed)
//	   344   40 (reserved)
//	   384    8 done         joinable: the done word (join.go): TaskDone
//	                         calls ever (low half) and items given up (high)
//	   392    4 joinSeq      futex word: +1 when unfinished reaches 0 or a
//	                         slot's owner is found dead
//	   396    4 joinWaiting  Join callers that may sleep on joinSeq
//	   400    4 lostSeq      +1 each time a dead consumer's unfinished items
//	                         are given up (join.go)
//	   404    4 lostPid      the last such consumer's pid
//	   408    8 lostCount    and how many items it held
//	   416   32 (reserved)
//	   448 16×n slots        joinable: per consumer process, owner identity
//	                         and held (taken, not yet done by it) count
//
// The data region starts at qDataOff (a multiple of 64 past the slots).
// Every word a process may change is written only as the protocol says;
// the fixed words (capacity, maxItems, flags) are read once at open,
// validated, and kept in the handle.
type qControl struct {
	prodLock    [robust.RecordSize]byte
	consLock    [robust.RecordSize]byte
	tail        uint64
	_           [56]byte
	head        uint64
	jHead       uint64
	jSlot       uint32
	jPrev       uint32
	dJWord      uint64
	dJHeld      uint64
	dJSlot      uint32
	dJLost      uint32
	_           [16]byte
	notEmpty    uint32
	consWaiting uint32
	notFull     uint32
	prodWaiting uint32
	_           [48]byte
	capacity    uint64
	maxItems    uint32
	flags       uint32
	state       uint32
	itemFormat  uint32
	_           [40]byte
	done        uint64
	joinSeq     uint32
	joinWaiting uint32
	lostSeq     uint32
	lostPid     uint32
	lostCount   uint64
	_           [32]byte
}

const qControlSize = 448

var _ [qControlSize - unsafe.Sizeof(qControl{})]byte
var _ [unsafe.Sizeof(qControl{}) - qControlSize]byte

// Field offsets, for readers of plain bytes (Inspect) and the locks.
const (
	offProdLock = int(unsafe.Offsetof(qControl{}.prodLock))
	offConsLock = int(unsafe.Offsetof(qControl{}.consLock))
	offTail     = int(unsafe.Offsetof(qControl{}.tail))
	offHead     = int(unsafe.Offsetof(qControl{}.head))
	offNotEmpty = int(unsafe.Offsetof(qControl{}.notEmpty))
	offNotFull  = int(unsafe.Offsetof(qControl{}.notFull))
	offCapacity = int(unsafe.Offsetof(qControl{}.capacity))
	offMaxItems = int(unsafe.Offsetof(qControl{}.maxItems))
	offFlags    = int(unsafe.Offsetof(qControl{}.flags))
	offState    = int(unsafe.Offsetof(qControl{}.state))
	offJoinSeq  = int(unsafe.Offsetof(qControl{}.joinSeq))
	offDone     = int(unsafe.Offsetof(qControl{}.done))
)

// Flags and states.
const (
	qJoinable = 1

	qOpen   = 0
	qClosed = 1
)

// joinSlots is how many consumer processes of a joinable queue can hold
// taken, unfinished items at once.
const joinSlots = 64

// joinSlot is one consumer process's entry (join.go).
type joinSlot struct {
	owner uint64 // identity word, 0 free
	held  uint64 // taken by that process, not yet TaskDone by it
}

const joinSlotSize = int(unsafe.Sizeof(joinSlot{}))

// qDataOff is where the data region starts in the payload.
const qDataOff = qControlSize + joinSlots*joinSlotSize

var _ = [1]byte{}[qDataOff%64] // compile-time check: a cache-line multiple

// QueuePayloadSize is the payload an object needs for a queue of capacity
// data bytes.
func QueuePayloadSize(capacity int) int { return qDataOff + capacity }

// Geometry are the fixed facts of a queue, validated once.
type Geometry struct {
	Capacity   int    // data region bytes
	MaxItems   int    // 0: no limit but capacity
	Joinable   bool   // JoinableQueue's accounting is kept
	ItemFormat uint32 // opaque to the ring: the pool package's codec id
}

// checkGeometry validates g for creation.
func checkGeometry(g Geometry) error {
	switch {
	case g.Capacity < MinCapacity || g.Capacity > MaxCapacity:
		return fmt.Errorf("capacity %d bytes: must be from %d to %d", g.Capacity, MinCapacity, MaxCapacity)
	case g.Capacity%8 != 0:
		return fmt.Errorf("capacity %d bytes: must be a multiple of 8", g.Capacity)
	case g.MaxItems < 0 || g.MaxItems > 1<<31-1:
		return fmt.Errorf("maxsize %d: must be from 0 (no limit) to %d", g.MaxItems, 1<<31-1)
	}
	return nil
}

// readGeometry reads and validates the fixed facts of the queue in p (a
// payload of len(p) bytes), which any process could have written.
func readGeometry(p []byte) (Geometry, error) { return readGeometrySized(p, len(p)) }

// readGeometrySized is readGeometry for p holding at least the control
// block of a payload of size bytes (the tools read only that much).
func readGeometrySized(p []byte, size int) (Geometry, error) {
	if size < qDataOff+MinCapacity || len(p) < qControlSize {
		return Geometry{}, fmt.Errorf("%w: Queue payload of %d bytes, want at least %d", ErrCorrupt, size, qDataOff+MinCapacity)
	}
	c := (*qControl)(unsafe.Pointer(&p[0]))
	g := Geometry{
		Capacity:   int(c.capacity),
		MaxItems:   int(c.maxItems),
		Joinable:   c.flags&qJoinable != 0,
		ItemFormat: c.itemFormat,
	}
	if err := checkGeometry(g); err != nil {
		return Geometry{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if qDataOff+g.Capacity > size {
		return Geometry{}, fmt.Errorf("%w: a %d-byte ring does not fit in a %d-byte payload", ErrCorrupt, g.Capacity, size)
	}
	if c.flags&^qJoinable != 0 {
		return Geometry{}, fmt.Errorf("%w: Queue flags %#x", ErrCorrupt, c.flags)
	}
	return g, nil
}

// InitQueue writes a new, empty queue of geometry g into the zeroed
// payload p (before it is published).
func InitQueue(p []byte, g Geometry) error {
	if err := checkGeometry(g); err != nil {
		return err
	}
	if len(p) < QueuePayloadSize(g.Capacity) {
		return fmt.Errorf("payload of %d bytes, a %d-byte ring needs %d", len(p), g.Capacity, QueuePayloadSize(g.Capacity))
	}
	c := (*qControl)(unsafe.Pointer(&p[0]))
	c.capacity = uint64(g.Capacity)
	c.maxItems = uint32(g.MaxItems)
	c.itemFormat = g.ItemFormat
	if g.Joinable {
		c.flags = qJoinable
	}
	return nil
}
