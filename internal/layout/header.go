package layout

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"
	"unsafe"
)

// Header is the first HeaderSize bytes of every typed object file.
//
//	offset size field
//	     0    8 Magic        "MPGO\x00OBJ"
//	     8    4 Version      layout version (Version1)
//	    12    4 Kind         what the payload is (Kind constants)
//	    16    4 HeaderSize   128; payload starts here (cache-line aligned)
//	    20    4 Flags        FlagPersistent, ...
//	    24    8 PayloadSize  bytes the payload needs after the header
//	    32    4 ElemSize     element size in bytes (0 if the kind has none)
//	    36    4 ElemAlign    element alignment
//	    40    8 ElemCount    number of elements
//	    48    8 TypeHash     fingerprint of the element type (Fingerprint)
//	    56    4 CreatorPID
//	    60    4 PidNS        creator's pid namespace (inode, low 32 bits); 0 unknown
//	    64    8 CreatorStart creator's start time, clock ticks since boot
//	    72    8 Created      creation time, Unix nanoseconds
//	    80   44 TypeName     element type name, NUL padded, for messages
//	   124    4 Checksum     CRC-32C of bytes 0..123
//
// All integers are little-endian (the only byte order we run on).
type Header struct {
	Magic        [8]byte
	Version      uint32
	Kind         Kind
	HeaderSize   uint32
	Flags        uint32
	PayloadSize  uint64
	ElemSize     uint32
	ElemAlign    uint32
	ElemCount    uint64
	TypeHash     uint64
	CreatorPID   uint32
	PidNS        uint32
	CreatorStart uint64
	Created      int64
	TypeName     [44]byte
	Checksum     uint32
}

// HeaderSize is the size of Header and the offset of every payload.
const HeaderSize = 128

var _ [HeaderSize - unsafe.Sizeof(Header{})]byte // compile-time size check
var _ [unsafe.Sizeof(Header{}) - HeaderSize]byte

// Magic marks a multiproc typed object.
var Magic = [8]byte{'M', 'P', 'G', 'O', 0, 'O', 'B', 'J'}

// Version1 is the only layout version so far.
const Version1 = 1

// Header flags.
const (
	FlagPersistent uint32 = 1 << 0 // never tracked, removed only explicitly
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Encode writes h into b[:HeaderSize], filling Magic, Version, HeaderSize
// and Checksum.
func (h *Header) Encode(b []byte) {
	h.Magic = Magic
	h.Version = Version1
	h.HeaderSize = HeaderSize
	le := binary.LittleEndian
	copy(b[0:8], h.Magic[:])
	le.PutUint32(b[8:], h.Version)
	le.PutUint32(b[12:], uint32(h.Kind))
	le.PutUint32(b[16:], h.HeaderSize)
	le.PutUint32(b[20:], h.Flags)
	le.PutUint64(b[24:], h.PayloadSize)
	le.PutUint32(b[32:], h.ElemSize)
	le.PutUint32(b[36:], h.ElemAlign)
	le.PutUint64(b[40:], h.ElemCount)
	le.PutUint64(b[48:], h.TypeHash)
	le.PutUint32(b[56:], h.CreatorPID)
	le.PutUint32(b[60:], h.PidNS)
	le.PutUint64(b[64:], h.CreatorStart)
	le.PutUint64(b[72:], uint64(h.Created))
	copy(b[80:124], h.TypeName[:])
	h.Checksum = crc32.Checksum(b[:124], castagnoli)
	le.PutUint32(b[124:], h.Checksum)
}

// Decode parses and validates the header at the start of b, where b is the
// whole file. It checks, in order: length, magic, checksum, version, header
// size, and that the payload fits in b. It never panics on foreign bytes.
// The kind and element type are checked by Expect.
func Decode(b []byte) (Header, error) { return DecodeHead(b, int64(len(b))) }

// DecodeHead is Decode for a reader that has only the first bytes of a file
// (at least HeaderSize of them, read with pread, say) and its size: the
// tools list objects this way without mapping files that may not be ours.
// The checks are Decode's, with fileSize standing for the file's length.
func DecodeHead(b []byte, fileSize int64) (Header, error) {
	var h Header
	if len(b) < HeaderSize || fileSize < HeaderSize {
		n := min(int64(len(b)), fileSize)
		return h, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrCorrupt, n, HeaderSize)
	}
	le := binary.LittleEndian
	copy(h.Magic[:], b[0:8])
	if h.Magic != Magic {
		return h, fmt.Errorf("%w: bad magic %q", ErrCorrupt, h.Magic[:])
	}
	h.Checksum = le.Uint32(b[124:])
	if sum := crc32.Checksum(b[:124], castagnoli); sum != h.Checksum {
		return h, fmt.Errorf("%w: header checksum %#x, want %#x", ErrCorrupt, h.Checksum, sum)
	}
	h.Version = le.Uint32(b[8:])
	h.Kind = Kind(le.Uint32(b[12:]))
	h.HeaderSize = le.Uint32(b[16:])
	h.Flags = le.Uint32(b[20:])
	h.PayloadSize = le.Uint64(b[24:])
	h.ElemSize = le.Uint32(b[32:])
	h.ElemAlign = le.Uint32(b[36:])
	h.ElemCount = le.Uint64(b[40:])
	h.TypeHash = le.Uint64(b[48:])
	h.CreatorPID = le.Uint32(b[56:])
	h.PidNS = le.Uint32(b[60:])
	h.CreatorStart = le.Uint64(b[64:])
	h.Created = int64(le.Uint64(b[72:]))
	copy(h.TypeName[:], b[80:124])
	if h.Version != Version1 {
		return h, fmt.Errorf("%w: layout version %d, this library reads %d", ErrCorrupt, h.Version, Version1)
	}
	if h.HeaderSize != HeaderSize {
		return h, fmt.Errorf("%w: header size %d, want %d", ErrCorrupt, h.HeaderSize, HeaderSize)
	}
	if h.PayloadSize > uint64(fileSize-HeaderSize) {
		return h, fmt.Errorf("%w: payload of %d bytes does not fit in a %d-byte file", ErrCorrupt, h.PayloadSize, fileSize)
	}
	if h.ElemCount > 0 && h.ElemSize > 0 && h.ElemCount > h.PayloadSize/uint64(h.ElemSize) {
		return h, fmt.Errorf("%w: %d elements of %d bytes exceed the %d-byte payload", ErrCorrupt, h.ElemCount, h.ElemSize, h.PayloadSize)
	}
	if !h.Kind.Valid() {
		return h, fmt.Errorf("%w: unknown kind %d", ErrCorrupt, uint32(h.Kind))
	}
	return h, nil
}

// Expect checks that h is of kind k; name is used in the message.
func (h *Header) Expect(name string, k Kind) error {
	if h.Kind != k {
		return fmt.Errorf("%w: %s is %s, not %s", ErrKindMismatch, name, h.Kind.WithArticle(), k.WithArticle())
	}
	return nil
}

// ExpectType checks that h's element type is t; name is used in the message.
func (h *Header) ExpectType(name string, t TypeInfo) error {
	if h.TypeHash != t.Hash || h.ElemSize != t.Size {
		return fmt.Errorf("%w: %s holds %s (%d bytes), not %s (%d bytes)",
			ErrTypeMismatch, name, h.TypeNameString(), h.ElemSize, t.Name, t.Size)
	}
	return nil
}

// TypeNameString returns the stored type name without padding.
func (h *Header) TypeNameString() string {
	n := 0
	for n < len(h.TypeName) && h.TypeName[n] != 0 {
		n++
	}
	return string(h.TypeName[:n])
}

// SetTypeName stores name, truncated to fit.
func (h *Header) SetTypeName(name string) {
	h.TypeName = [44]byte{}
	copy(h.TypeName[:], name)
}

// CreatedTime returns Created as a time.Time.
func (h *Header) CreatedTime() time.Time { return time.Unix(0, h.Created) }
