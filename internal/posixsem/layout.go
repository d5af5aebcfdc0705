//go:build linux

package posixsem

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"
	"unsafe"

	"github.com/multiproc/multiproc/internal/layout"
)

// The sem_t of 64-bit glibc ≥ 2.21 (struct new_sem, USE_64B_ATOMICS_ON_SEM_T):
//
//	offset size field
//	     0    8 data     value (bits 0..31) | nwaiters (bits 32..63)
//	     8    4 private  128 for every named semaphore: FUTEX_PRIVATE_FLAG,
//	                     which glibc XORs away, so futex ops are shared
//	    12    4 pad      0
//	    16   16          0
//
// The futex word is the value half: bytes 0..3 (little-endian only).
const (
	Size         = 32        // sizeof(sem_t)
	ValueMax     = 1<<31 - 1 // SEM_VALUE_MAX (INT_MAX)
	TrailerSize  = 64        // multiproc metadata after the sem_t
	FileSize     = Size + TrailerSize
	privateOff   = 8   // offset of `private`
	oldPrivOff   = 4   // offset of `private` in the pre-2.21 layout
	sharedFlag   = 128 // value of `private` in a named semaphore
	trailerMagic = "MPGOSEM\x00"
	version1     = 1
)

// Trailer is the multiproc metadata that follows the sem_t in files this
// library creates. It is written once, before the file is published, and
// never changes.
//
//	offset size field (from the start of the file)
//	    32    8 Magic        "MPGOSEM\x00"
//	    40    4 Version      1
//	    44    4 Kind         layout.KindSemaphore or layout.KindBounded
//	    48    4 Bound        largest value a release may reach: ValueMax for
//	                         a Semaphore, the initial value for a Bounded one
//	    52    4 Flags        layout.FlagPersistent
//	    56    4 CreatorPID
//	    60    4 Initial      initial value
//	    64    8 CreatorStart creator's start time, clock ticks since boot
//	    72    8 Created      creation time, Unix nanoseconds
//	    80   12 (reserved, zero)
//	    92    4 Checksum     CRC-32C of bytes 32..91
type Trailer struct {
	Magic        [8]byte
	Version      uint32
	Kind         layout.Kind
	Bound        uint32
	Flags        uint32
	CreatorPID   uint32
	Initial      uint32
	CreatorStart uint64
	Created      int64
	_            [12]byte
	Checksum     uint32
}

var _ [TrailerSize - unsafe.Sizeof(Trailer{})]byte // compile-time size check
var _ [unsafe.Sizeof(Trailer{}) - TrailerSize]byte

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Init writes a complete semaphore file image into b (len FileSize, zeroed):
// the sem_t exactly as glibc's sem_open builds it, then t. It sets t's
// Magic, Version and Checksum.
func Init(b []byte, value uint32, t *Trailer) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], uint64(value))
	le.PutUint32(b[privateOff:], sharedFlag)
	clear(b[12:Size])
	t.encode(b[Size:FileSize])
}

func (t *Trailer) encode(b []byte) {
	le := binary.LittleEndian
	copy(t.Magic[:], trailerMagic)
	t.Version = version1
	copy(b[0:8], t.Magic[:])
	le.PutUint32(b[8:], t.Version)
	le.PutUint32(b[12:], uint32(t.Kind))
	le.PutUint32(b[16:], t.Bound)
	le.PutUint32(b[20:], t.Flags)
	le.PutUint32(b[24:], t.CreatorPID)
	le.PutUint32(b[28:], t.Initial)
	le.PutUint64(b[32:], t.CreatorStart)
	le.PutUint64(b[40:], uint64(t.Created))
	clear(b[48:60])
	t.Checksum = crc32.Checksum(b[:60], castagnoli)
	le.PutUint32(b[60:], t.Checksum)
}

// decodeTrailer validates b (TrailerSize bytes) in the order magic,
// checksum, version, kind, reserved bytes, bound, initial value.
func decodeTrailer(b []byte) (Trailer, error) {
	var t Trailer
	le := binary.LittleEndian
	copy(t.Magic[:], b[0:8])
	if string(t.Magic[:]) != trailerMagic {
		return t, fmt.Errorf("%w: %d-byte file without the multiproc semaphore trailer (magic %q)", layout.ErrCorrupt, FileSize, t.Magic[:])
	}
	t.Checksum = le.Uint32(b[60:])
	if sum := crc32.Checksum(b[:60], castagnoli); sum != t.Checksum {
		return t, fmt.Errorf("%w: semaphore trailer checksum %#x, want %#x", layout.ErrCorrupt, t.Checksum, sum)
	}
	t.Version = le.Uint32(b[8:])
	t.Kind = layout.Kind(le.Uint32(b[12:]))
	t.Bound = le.Uint32(b[16:])
	t.Flags = le.Uint32(b[20:])
	t.CreatorPID = le.Uint32(b[24:])
	t.Initial = le.Uint32(b[28:])
	t.CreatorStart = le.Uint64(b[32:])
	t.Created = int64(le.Uint64(b[40:]))
	switch {
	case t.Version != version1:
		return t, fmt.Errorf("%w: semaphore trailer version %d, this library reads %d", layout.ErrCorrupt, t.Version, version1)
	case t.Kind != layout.KindSemaphore && t.Kind != layout.KindBounded:
		return t, fmt.Errorf("%w: semaphore trailer names kind %d", layout.ErrCorrupt, uint32(t.Kind))
	case !allZero(b[48:60]):
		return t, fmt.Errorf("%w: reserved trailer bytes are not zero", layout.ErrCorrupt)
	case t.Bound > ValueMax:
		return t, fmt.Errorf("%w: bound %d exceeds SEM_VALUE_MAX", layout.ErrCorrupt, t.Bound)
	case t.Kind == layout.KindSemaphore && t.Bound != ValueMax:
		return t, fmt.Errorf("%w: unbounded semaphore with bound %d", layout.ErrCorrupt, t.Bound)
	case t.Initial > t.Bound:
		return t, fmt.Errorf("%w: initial value %d above bound %d", layout.ErrCorrupt, t.Initial, t.Bound)
	}
	return t, nil
}

// Info is what a semaphore file says about itself.
type Info struct {
	Value   uint32 // tokens available now
	Waiters uint32 // nwaiters: an upper bound on blocked waiters (see package doc)
	Kind    layout.Kind
	Foreign bool   // no trailer: made by C's sem_open, Python, or another program
	Bound   uint32 // largest value a release may reach; ValueMax if unbounded
	Trailer Trailer
}

// Bounded reports whether releases past Bound are refused.
func (i *Info) Bounded() bool { return i.Kind == layout.KindBounded }

// Persistent reports whether the creator asked for an untracked semaphore.
func (i *Info) Persistent() bool { return i.Trailer.Flags&layout.FlagPersistent != 0 }

// CreatedTime is the creation time, zero for a foreign semaphore.
func (i *Info) CreatedTime() time.Time {
	if i.Foreign {
		return time.Time{}
	}
	return time.Unix(0, i.Trailer.Created)
}

// Parse validates a snapshot of a whole semaphore file (its data word read
// atomically by the caller) and describes it. The checks, in order: the
// size is 32 or FileSize; the sem_t is the ≥ 2.21 64-bit layout with the
// shared flag (the pre-2.21 layout is named as such); padding is zero; the
// value is at most ValueMax; then the trailer, if any. It never panics.
func Parse(b []byte) (Info, error) {
	var info Info
	switch len(b) {
	case Size, FileSize:
	default:
		return info, fmt.Errorf("%w: %d bytes; a glibc sem_t is %d and a multiproc semaphore %d", layout.ErrCorrupt, len(b), Size, FileSize)
	}
	le := binary.LittleEndian
	data := le.Uint64(b[0:])
	if priv := le.Uint32(b[privateOff:]); priv != sharedFlag {
		if le.Uint32(b[oldPrivOff:]) == sharedFlag {
			return info, fmt.Errorf("%w: semaphore in the glibc < 2.21 layout (shared flag at offset 4); it cannot be shared safely with this library or a current glibc", layout.ErrCorrupt)
		}
		return info, fmt.Errorf("%w: sem_t futex flag is %d at offset 8, want %d (a named, process-shared semaphore)", layout.ErrCorrupt, priv, sharedFlag)
	}
	if !allZero(b[12:Size]) {
		return info, fmt.Errorf("%w: sem_t padding (bytes 12..31) is not zero", layout.ErrCorrupt)
	}
	info.Value = uint32(data)
	info.Waiters = uint32(data >> 32)
	if info.Value > ValueMax {
		return info, fmt.Errorf("%w: semaphore value %d exceeds SEM_VALUE_MAX", layout.ErrCorrupt, info.Value)
	}
	if len(b) == Size {
		info.Kind, info.Foreign, info.Bound = layout.KindSemaphore, true, ValueMax
		return info, nil
	}
	t, err := decodeTrailer(b[Size:FileSize])
	if err != nil {
		return info, err
	}
	info.Kind, info.Bound, info.Trailer = t.Kind, t.Bound, t
	return info, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
