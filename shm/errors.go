package shm

import (
	"errors"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/segment"
)

// ErrInvalidName is returned for a name that cannot name a segment: empty
// after the leading slash, holding another '/', "." or "..", a NUL byte, or
// too long for the file system. The message quotes the name.
var ErrInvalidName = segment.ErrInvalidName

// ErrCorrupt is returned when a file that should hold a multiproc object is
// damaged or is not one.
var ErrCorrupt = layout.ErrCorrupt

// ErrKindMismatch is returned when an object is opened as another kind.
var ErrKindMismatch = layout.ErrKindMismatch

// ErrTypeMismatch is returned when a typed object is opened with another
// element type than its creator used.
var ErrTypeMismatch = layout.ErrTypeMismatch

// ErrForeignOwner is returned by Open for a file owned by another user,
// unless AllowForeignOwner is given.
var ErrForeignOwner = segment.ErrForeignOwner

// ErrNoSpace is returned by Create when /dev/shm cannot hold the segment.
var ErrNoSpace = segment.ErrNoSpace

// ErrClosed is returned by operations on a closed segment.
var ErrClosed = errors.New("shm: segment closed")
