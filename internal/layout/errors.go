package layout

import "github.com/multiproc/multiproc/internal/errs"

// The sentinels of file layouts, from the one vocabulary (internal/errs).
var (
	// ErrCorrupt is returned when a file that should hold a multiproc
	// object is too short, has the wrong magic, a bad checksum or
	// impossible sizes.
	ErrCorrupt = errs.ErrCorrupt
	// ErrKindMismatch is returned when an object is opened as another kind
	// (a Lock opened as an Event, say). The message names both kinds.
	ErrKindMismatch = errs.ErrKindMismatch
	// ErrTypeMismatch is returned when a typed object is opened with
	// another element type than its creator's. The message names both.
	ErrTypeMismatch = errs.ErrTypeMismatch
	// ErrUnsupportedType is returned for element types that cannot live in
	// shared memory: anything holding a pointer (string, slice, map,
	// pointer, interface, chan, func) or of variable size.
	ErrUnsupportedType = errs.ErrUnsupportedType
)
