//go:build linux

package ring

// The ring of records, shared by Queue and Pipe.
//
// The data region is capacity bytes (a multiple of 8). Records start on
// 8-byte boundaries:
//
//	offset size field
//	     0    4 len    payload bytes
//	     4    4 kind   recItem, recPad (skip to the start of the region), recRef
//	     8  len payload, then zero padding to the next multiple of 8
//
// Two position words say where the records are; each is written by one
// side only, with one atomic store, and that store is the side's commit:
//
//	tail  items put (bits 63..32, mod 2^32) | offset after the last record
//	head  items taken (bits 63..32, mod 2^32) | offset of the next record
//
// The queue holds items(tail) − items(head) records; when the two offsets
// are equal that count tells empty (0) from full. A producer writes a record
// (and, when it does not fit before the end, a pad record there and the
// record at offset 0) in free space, and only then stores the new tail: a
// producer killed before that store leaves bytes nobody will ever read, and
// the ring exactly as it was. A consumer reads records at head and stores
// the new head after it has copied them out: one killed before that store
// leaves the records for the next consumer. So no record is ever seen torn,
// taken twice, or brought back.
//
// A pad record is written only together with the item after it (one tail
// store covers both), so a consumer that meets one always finds an item at
// offset 0; every length it reads is checked against the region before use,
// whatever bytes a foreign writer left there.

import (
	"encoding/binary"
	"fmt"
)

const (
	recHeader = 8
	recItem   = 1
	recPad    = 2
	recRef    = 3 // the payload names a side segment holding the item

	// KindBytesFlag marks an item or reference record whose payload is
	// raw bytes rather than an encoded item (a pipe's SendBytes); the ring
	// carries it like any other record.
	KindBytesFlag = 1 << 8
)

// MinCapacity and MaxCapacity bound a ring's data region.
const (
	MinCapacity = 64
	MaxCapacity = 1<<32 - 8
)

func align8(n uint64) uint64 { return (n + 7) &^ 7 }

// RecordSize is the ring space a record with an n-byte payload takes.
func RecordSize(n int) int { return int(align8(uint64(recHeader + n))) }

// pos splits a position word.
func pos(w uint64) (count, off uint32) { return uint32(w >> 32), uint32(w) }

func mkpos(count, off uint32) uint64 { return uint64(count)<<32 | uint64(off) }

// data is a ring's data region and its capacity.
type data struct {
	b   []byte // len == capacity, in the mapping
	cap uint32
}

// used reports the bytes between head and tail, pads included.
func (d *data) used(tail, head uint64) uint32 {
	tc, to := pos(tail)
	hc, ho := pos(head)
	switch {
	case to != ho:
		return (to - ho + d.cap) % d.cap
	case tc == hc:
		return 0
	}
	return d.cap
}

// place finds room for a record of size bytes (RecordSize) after tail,
// given head: the offset to write it at, whether a pad record must be
// written at tail's offset first, and the tail after it. ok is false when
// there is no room now.
func (d *data) place(tail, head uint64, size uint32) (at uint32, pad bool, next uint64, ok bool) {
	u := d.used(tail, head)
	if u == d.cap || size > d.cap {
		return 0, false, 0, false
	}
	tc, to := pos(tail)
	_, ho := pos(head)
	switch {
	case to > ho || u == 0:
		// Free: [to, cap) and [0, ho).
		if d.cap-to >= size {
			at = to
		} else if ho >= size {
			at, pad = 0, true
		} else {
			return 0, false, 0, false
		}
	default: // to < ho, or equal and full (handled above)
		if ho-to < size {
			return 0, false, 0, false
		}
		at = to
	}
	end := at + size
	if end == d.cap {
		end = 0
	}
	return at, pad, mkpos(tc+1, end), true
}

// writePad marks [off, cap) as a pad record.
func (d *data) writePad(off uint32) {
	binary.LittleEndian.PutUint32(d.b[off:], d.cap-off-recHeader)
	binary.LittleEndian.PutUint32(d.b[off+4:], recPad)
}

// writeHeader writes a record header at off; the payload follows.
func (d *data) writeHeader(off uint32, n int, kind uint32) []byte {
	binary.LittleEndian.PutUint32(d.b[off:], uint32(n))
	binary.LittleEndian.PutUint32(d.b[off+4:], kind)
	return d.b[off+recHeader : off+recHeader+uint32(n)]
}

// read returns the record at head (which must hold at least one): its
// kind, its payload in the mapping, and the head after it. It checks every
// length against the region, so foreign bytes give an error, never a read
// outside it.
func (d *data) read(head uint64) (kind uint32, payload []byte, next uint64, err error) {
	hc, ho := pos(head)
	for range 2 {
		if ho > d.cap-recHeader || ho%8 != 0 {
			return 0, nil, 0, fmt.Errorf("%w: record at offset %d of a %d-byte ring", ErrCorrupt, ho, d.cap)
		}
		n := binary.LittleEndian.Uint32(d.b[ho:])
		kind = binary.LittleEndian.Uint32(d.b[ho+4:])
		if kind == recPad {
			if uint64(ho)+recHeader+uint64(n) != uint64(d.cap) {
				return 0, nil, 0, fmt.Errorf("%w: pad record of %d bytes at offset %d does not end the %d-byte ring", ErrCorrupt, n, ho, d.cap)
			}
			ho = 0
			continue
		}
		size := align8(recHeader + uint64(n))
		if base := kind &^ KindBytesFlag; base != recItem && base != recRef || uint64(ho)+size > uint64(d.cap) {
			return 0, nil, 0, fmt.Errorf("%w: record of kind %d and %d bytes at offset %d of a %d-byte ring", ErrCorrupt, kind, n, ho, d.cap)
		}
		end := ho + uint32(size)
		if end == d.cap {
			end = 0
		}
		return kind, d.b[ho+recHeader : ho+recHeader+n], mkpos(hc+1, end), nil
	}
	return 0, nil, 0, fmt.Errorf("%w: two pad records in a row at offset 0", ErrCorrupt)
}
