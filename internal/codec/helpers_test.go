package codec

import (
	"math"
	"reflect"
	"testing"
	"unsafe"
)

// unsafeAddr is the address of v, which must be addressable or a copy is
// made (values inside interfaces are not).
func unsafeAddr(v reflect.Value) unsafe.Pointer {
	if v.CanAddr() {
		return v.Addr().UnsafePointer()
	}
	p := reflect.New(v.Type())
	p.Elem().Set(v)
	return p.UnsafePointer()
}

// same is reflect.DeepEqual with floats compared bit for bit (so a NaN
// equals itself and -0 differs from 0): a round trip must give back the
// very bits it was given. Like DeepEqual it tells nil from empty slices
// and maps.
func same(a, b any) bool { return sameValue(reflect.ValueOf(a), reflect.ValueOf(b), 0) }

func sameValue(a, b reflect.Value, depth int) bool {
	if !a.IsValid() || !b.IsValid() {
		return a.IsValid() == b.IsValid()
	}
	if a.Type() != b.Type() {
		return false
	}
	if depth > 2*MaxDepth {
		return false
	}
	if marshalerOf(a.Type()) != 0 {
		return string(encodeValue(a)) == string(encodeValue(b))
	}
	switch a.Kind() {
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	case reflect.String:
		return a.String() == b.String()
	case reflect.Float32, reflect.Float64:
		return math.Float64bits(a.Float()) == math.Float64bits(b.Float()) || (a.Kind() == reflect.Float32 && math.Float32bits(float32(a.Float())) == math.Float32bits(float32(b.Float())))
	case reflect.Complex64, reflect.Complex128:
		x, y := a.Complex(), b.Complex()
		return math.Float64bits(real(x)) == math.Float64bits(real(y)) && math.Float64bits(imag(x)) == math.Float64bits(imag(y))
	case reflect.Slice:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !sameValue(a.Index(i), b.Index(i), depth+1) {
				return false
			}
		}
		return true
	case reflect.Array:
		for i := range a.Len() {
			if !sameValue(a.Index(i), b.Index(i), depth+1) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		it := a.MapRange()
		for it.Next() {
			v := b.MapIndex(it.Key())
			if !v.IsValid() {
				if k := it.Key(); k.Kind() == reflect.Float64 && math.IsNaN(k.Float()) {
					continue // NaN keys cannot be looked up; their count matched
				}
				return false
			}
			if !sameValue(it.Value(), v, depth+1) {
				return false
			}
		}
		return true
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameValue(a.Elem(), b.Elem(), depth+1)
	case reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameValue(a.Elem(), b.Elem(), depth+1)
	case reflect.Struct:
		for i := range a.NumField() {
			if !a.Type().Field(i).IsExported() && !plainType(a.Type()) {
				continue // skipped by the codec, zero after decoding
			}
			if !sameValue(a.Field(i), b.Field(i), depth+1) {
				return false
			}
		}
		return true
	}
	panic("same: unexpected kind " + a.Kind().String())
}

// encodeValue is the binary encoding of v, which may be unexported.
func encodeValue(v reflect.Value) []byte {
	c, err := compile(v.Type())
	if err != nil {
		panic(err)
	}
	p := reflect.New(v.Type())
	reflect.NewAt(v.Type(), p.UnsafePointer()).Elem().Set(reflect.NewAt(v.Type(), unsafeAddr(v)).Elem())
	b, err := c.enc(nil, p.UnsafePointer(), 0)
	if err != nil {
		panic(err)
	}
	return b
}

// roundTrip encodes v with the codec For picks and with the binary codec,
// decodes both, and fails unless each gives v back. It returns the For
// encoding.
func roundTrip[T any](t *testing.T, v T) []byte {
	t.Helper()
	c, info, err := For[T]()
	if err != nil {
		t.Fatalf("For[%T]: %v", v, err)
	}
	bc, _, err := Binary[T]()
	if err != nil {
		t.Fatalf("Binary[%T]: %v", v, err)
	}
	var out []byte
	for _, k := range []Codec[T]{c, bc} {
		prefix := []byte("prefix")
		b, err := k.Append(prefix, &v)
		if err != nil {
			t.Fatalf("%T.Append(%#v): %v", k, v, err)
		}
		if string(b[:len(prefix)]) != "prefix" {
			t.Fatalf("%T.Append changed dst's bytes", k)
		}
		b = b[len(prefix):]
		if s, ok := k.(Sizer[T]); ok && s.Size(&v) != len(b) {
			t.Fatalf("%T.Size = %d, Append wrote %d", k, s.Size(&v), len(b))
		}
		if info.Size > 0 && k == c && int(info.Size) != len(b) {
			t.Fatalf("Info.Size %d, Append wrote %d", info.Size, len(b))
		}
		var got T
		if err := k.Decode(b, &got); err != nil {
			t.Fatalf("%T.Decode(Append(%#v)): %v", k, v, err)
		}
		if !same(v, got) {
			t.Fatalf("%T round trip of %T:\n sent %#v\n  got %#v", k, v, v, got)
		}
		if out == nil {
			out = append([]byte{}, b...)
		}
	}
	return out
}
