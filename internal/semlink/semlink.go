package semlink

import (
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/segment"
)

// WrapLock returns a *sem.Lock on the record at offset off of f. Set by
// package sem.
var WrapLock func(f *segment.File, kind layout.Kind, off int) any

// WrapRLock returns a *sem.RLock on the record at offset off of f. Set by
// package sem.
var WrapRLock func(f *segment.File, kind layout.Kind, off int) any
