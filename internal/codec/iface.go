package codec

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"time"
	"unsafe"
)

// An interface value is a tag byte naming its dynamic type, then that
// type's encoding. Tags below numBuiltin name the types of builtinTypes;
// tagRegistered is followed by the 8-byte id of a type given to Register.
// Tags are stored in queues: never renumber them.
const (
	tagNil        byte = iota // nothing follows
	tagBool                   // bool
	tagInt                    // int
	tagInt8                   // int8
	tagInt16                  // int16
	tagInt32                  // int32
	tagInt64                  // int64
	tagUint                   // uint
	tagUint8                  // uint8
	tagUint16                 // uint16
	tagUint32                 // uint32
	tagUint64                 // uint64
	tagUintptr                // uintptr
	tagFloat32                // float32
	tagFloat64                // float64
	tagComplex64              // complex64
	tagComplex128             // complex128
	tagString                 // string
	tagBytes                  // []byte
	tagAnys                   // []any
	tagAnyMap                 // map[string]any
	tagStrings                // []string
	tagInts                   // []int
	tagFloats                 // []float64
	tagStringMap              // map[string]string
	tagIntMap                 // map[string]int
	tagTime                   // time.Time (its AppendBinary bytes)
	tagDuration               // time.Duration
	numBuiltin

	tagRegistered byte = 255
)

var builtinTypes = [numBuiltin]reflect.Type{
	tagBool:       reflect.TypeFor[bool](),
	tagInt:        reflect.TypeFor[int](),
	tagInt8:       reflect.TypeFor[int8](),
	tagInt16:      reflect.TypeFor[int16](),
	tagInt32:      reflect.TypeFor[int32](),
	tagInt64:      reflect.TypeFor[int64](),
	tagUint:       reflect.TypeFor[uint](),
	tagUint8:      reflect.TypeFor[uint8](),
	tagUint16:     reflect.TypeFor[uint16](),
	tagUint32:     reflect.TypeFor[uint32](),
	tagUint64:     reflect.TypeFor[uint64](),
	tagUintptr:    reflect.TypeFor[uintptr](),
	tagFloat32:    reflect.TypeFor[float32](),
	tagFloat64:    reflect.TypeFor[float64](),
	tagComplex64:  reflect.TypeFor[complex64](),
	tagComplex128: reflect.TypeFor[complex128](),
	tagString:     reflect.TypeFor[string](),
	tagBytes:      reflect.TypeFor[[]byte](),
	tagAnys:       reflect.TypeFor[[]any](),
	tagAnyMap:     reflect.TypeFor[map[string]any](),
	tagStrings:    reflect.TypeFor[[]string](),
	tagInts:       reflect.TypeFor[[]int](),
	tagFloats:     reflect.TypeFor[[]float64](),
	tagStringMap:  reflect.TypeFor[map[string]string](),
	tagIntMap:     reflect.TypeFor[map[string]int](),
	tagTime:       reflect.TypeFor[time.Time](),
	tagDuration:   reflect.TypeFor[time.Duration](),
}

// buildIface compiles an interface type: the empty interface directly,
// others through reflect, checking on decode that the dynamic type
// implements the interface.
func buildIface(c *typeCodec) {
	c.kind, c.min = kIface, 1
	t := c.t
	if t.NumMethod() == 0 {
		c.enc = func(b []byte, p unsafe.Pointer, depth int) ([]byte, error) {
			return encIfaceValue(b, *(*any)(p), depth)
		}
		c.dec = func(s src, i int, p unsafe.Pointer, depth int) (int, error) {
			v, j, err := decIfaceValue(s, i, depth)
			*(*any)(p) = v
			return j, err
		}
		return
	}
	c.enc = func(b []byte, p unsafe.Pointer, depth int) ([]byte, error) {
		return encIfaceValue(b, reflect.NewAt(t, p).Elem().Interface(), depth)
	}
	c.dec = func(s src, i int, p unsafe.Pointer, depth int) (int, error) {
		v, j, err := decIfaceValue(s, i, depth)
		if err != nil || v == nil {
			return j, err
		}
		rv := reflect.ValueOf(v)
		if !rv.Type().Implements(t) {
			return i, c.corrupt(i, "%s does not implement %s", rv.Type(), t)
		}
		reflect.NewAt(t, p).Elem().Set(rv)
		return j, nil
	}
}

// encIfaceValue encodes v as an interface value at depth: interfaces count
// as containers.
func encIfaceValue(b []byte, v any, depth int) ([]byte, error) {
	if depth >= MaxDepth {
		return b, anyTC.tooDeep()
	}
	return encAny(b, v, depth+1)
}

func decIfaceValue(s src, i int, depth int) (any, int, error) {
	if depth >= MaxDepth {
		return nil, i, anyTC.decTooDeep(i)
	}
	return decAny(s, i, depth+1)
}

var ne = binary.NativeEndian

// encAny appends v's tag and encoding. The common dynamic types are
// switched on and written inline, in the bytes their compiled codecs would
// write; the others are looked up in the registry.
func encAny(b []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, tagNil), nil
	case string:
		return appendString(append(b, tagString), x), nil
	case int:
		return ne.AppendUint64(append(b, tagInt), uint64(x)), nil
	case int64:
		return ne.AppendUint64(append(b, tagInt64), uint64(x)), nil
	case float64:
		return ne.AppendUint64(append(b, tagFloat64), math.Float64bits(x)), nil
	case bool:
		return append(b, tagBool, boolByte(x)), nil
	case []any:
		return encAnys(append(b, tagAnys), x, depth)
	case map[string]any:
		return stringAnyMap.enc(anyMapTC, append(b, tagAnyMap), x, depth)
	case []byte:
		if x == nil {
			return append(b, tagBytes, 0), nil
		}
		if depth >= MaxDepth {
			return b, bytesTC.tooDeep()
		}
		return append(appendUvarint(append(b, tagBytes), uint64(len(x))+1), x...), nil
	}
	t := reflect.TypeOf(v)
	e := reg.Load().byType[t]
	if e == nil {
		if _, err := compile(t); err != nil {
			return b, fmt.Errorf("%w, held in an interface", err)
		}
		return b, fmt.Errorf("%w: an interface holds %s, which is not registered: register %s in every process", ErrUnsupported, t, t)
	}
	if e.tag == tagRegistered {
		b = binary.LittleEndian.AppendUint64(append(b, tagRegistered), e.id)
	} else {
		b = append(b, e.tag)
	}
	return e.tc.enc(b, valuePtr(&v, e.direct), depth)
}

// encAnys is the []any codec (a slice of interface values) for a slice
// given by value.
func encAnys(b []byte, s []any, depth int) ([]byte, error) {
	if s == nil {
		return append(b, 0), nil
	}
	if depth >= MaxDepth {
		return b, anysTC.tooDeep()
	}
	b = appendUvarint(b, uint64(len(s))+1)
	var err error
	for _, x := range s {
		if b, err = encIfaceValue(b, x, depth+1); err != nil {
			return b, err
		}
	}
	return b, nil
}

// decAny decodes a tag and the value it announces.
func decAny(s src, i int, depth int) (any, int, error) {
	b := s.b
	if i >= len(b) {
		return nil, i, anyTC.short(b, i, 1)
	}
	tag := b[i]
	i++
	switch tag {
	case tagNil:
		return nil, i, nil
	case tagString:
		s, j, err := anyTC.readString(s, i)
		if err != nil {
			return nil, j, err
		}
		return s, j, nil
	case tagInt:
		u, j, err := anyTC.read64(b, i)
		if err != nil {
			return nil, j, err
		}
		return int(u), j, nil
	case tagAnys:
		return decAnys(s, i, depth)
	case tagAnyMap:
		m, j, err := stringAnyMap.dec(anyMapTC, s, i, depth)
		if err != nil {
			return nil, j, err
		}
		return m, j, nil
	}
	var e *ifaceEntry
	if tag == tagRegistered {
		if len(b)-i < 8 {
			return nil, i, anyTC.short(b, i, 8)
		}
		id := binary.LittleEndian.Uint64(b[i:])
		if e = reg.Load().byID[id]; e == nil {
			return nil, i, fmt.Errorf("%w: an interface holds the registered type with id %#x, which is not registered in this process: register the same types in every process", ErrUnsupported, id)
		}
		i += 8
	} else if int(tag) < len(builtins) {
		e = builtins[tag]
	}
	if e == nil {
		return nil, i - 1, anyTC.corrupt(i-1, "unknown type tag %d", tag)
	}
	if len(b)-i < e.tc.min {
		return nil, i, e.tc.short(b, i, e.tc.min)
	}
	q := reflect.New(e.t).UnsafePointer()
	j, err := e.tc.dec(s, i, q, depth)
	if err != nil {
		return nil, j, err
	}
	return makeAny(e.typ, q, e.direct), j, nil
}

func decAnys(s src, i int, depth int) (any, int, error) {
	b := s.b
	if depth >= MaxDepth {
		return nil, i, anysTC.decTooDeep(i)
	}
	n, isNil, j, err := anysTC.count(b, i, 1, 0)
	if err != nil {
		return nil, j, err
	}
	if isNil {
		return []any(nil), j, nil
	}
	out := make([]any, n)
	for k := range out {
		if out[k], j, err = decIfaceValue(s, j, depth+1); err != nil {
			return nil, j, err
		}
	}
	return out, j, nil
}
