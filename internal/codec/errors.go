package codec

import (
	"errors"

	"github.com/multiproc/multiproc/internal/layout"
)

// ErrUnsupported is returned when a value cannot be encoded: its type holds
// a func, a chan or an unsafe.Pointer, it is a struct whose data is all in
// unexported fields, an interface holds a type that was never registered,
// or it nests deeper than MaxDepth. The message names the type.
var ErrUnsupported = errors.New("type cannot be encoded")

// ErrCorrupt is returned by Decode for bytes that are not an encoding of
// the type asked for: short, with lengths past the end, bad tags, trailing
// bytes. It is layout.ErrCorrupt, so the public packages' ErrCorrupt
// matches it with errors.Is.
var ErrCorrupt = layout.ErrCorrupt

// ErrTypeMismatch is returned by Info.Match when an object was made for
// another item type or codec. The message names both. It is
// layout.ErrTypeMismatch.
var ErrTypeMismatch = layout.ErrTypeMismatch
