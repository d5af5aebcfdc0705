package array

import (
	"errors"
	"fmt"
)

// An Array travels between processes as its name. MarshalText and
// UnmarshalText (and their Binary twins, for encoding/gob) make that
// automatic for codecs: a task argument or a queue item holding an *Array is
// encoded with the array's name, and decoding it in another process opens
// the same shared array there.

// MarshalText returns the array's name.
func (a *Array[T]) MarshalText() ([]byte, error) {
	if a.h == nil {
		return nil, failf("MarshalText", errors.New("an Array that was never opened"))
	}
	return []byte(a.h.Obj.Name), nil
}

// UnmarshalText opens the array named text (as Open[T] does, refusing
// another element type) into a, which must be a zero Array. The receiver
// owns the opened handle: Close it when done.
func (a *Array[T]) UnmarshalText(text []byte) error {
	if a.h != nil {
		return a.fail("UnmarshalText into", fmt.Errorf("%w: it is open already", ErrInvalidArgument))
	}
	b, err := Open[T](string(text))
	if err != nil {
		return err
	}
	*a = *b
	return nil
}

// MarshalBinary is MarshalText, for codecs that prefer
// encoding.BinaryMarshaler (encoding/gob).
func (a *Array[T]) MarshalBinary() ([]byte, error) { return a.MarshalText() }

// UnmarshalBinary is UnmarshalText.
func (a *Array[T]) UnmarshalBinary(data []byte) error { return a.UnmarshalText(data) }
