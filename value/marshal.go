package value

import (
	"errors"
	"fmt"
)

// A Value travels between processes as its name. MarshalText and
// UnmarshalText (and their Binary twins, for encoding/gob) make that
// automatic for codecs: a task argument or a queue item holding a *Value is
// encoded with the value's name, and decoding it in another process opens
// the same shared value there.

// MarshalText returns the value's name.
func (v *Value[T]) MarshalText() ([]byte, error) {
	if v.h == nil {
		return nil, failf("MarshalText", errors.New("a Value that was never opened"))
	}
	return []byte(v.h.Obj.Name), nil
}

// UnmarshalText opens the value named text (as Open[T] does, refusing
// another element type) into v, which must be a zero Value. The receiver
// owns the opened handle: Close it when done.
func (v *Value[T]) UnmarshalText(text []byte) error {
	if v.h != nil {
		return v.fail("UnmarshalText into", fmt.Errorf("%w: it is open already", ErrInvalidArgument))
	}
	w, err := Open[T](string(text))
	if err != nil {
		return err
	}
	*v = *w
	return nil
}

// MarshalBinary is MarshalText, for codecs that prefer
// encoding.BinaryMarshaler (encoding/gob).
func (v *Value[T]) MarshalBinary() ([]byte, error) { return v.MarshalText() }

// UnmarshalBinary is UnmarshalText.
func (v *Value[T]) UnmarshalBinary(data []byte) error { return v.UnmarshalText(data) }
