package layout

import "errors"

// ErrCorrupt is returned when a file that should hold a multiproc object
// is too short, has the wrong magic, a bad checksum or impossible sizes.
var ErrCorrupt = errors.New("corrupt or foreign object")

// ErrKindMismatch is returned when an object is opened as another kind
// (a Lock opened as an Event, say). The message names both kinds.
var ErrKindMismatch = errors.New("object kind mismatch")

// ErrTypeMismatch is returned when a typed object is opened with another
// element type than its creator's. The message names both types.
var ErrTypeMismatch = errors.New("element type mismatch")

// ErrUnsupportedType is returned for element types that cannot live in
// shared memory: anything holding a pointer (string, slice, map, pointer,
// interface, chan, func) or of variable size.
var ErrUnsupportedType = errors.New("type cannot be stored in shared memory")
