package codec

import (
	"encoding/binary"
	"math"
	"reflect"
	"sync"
	"unsafe"
)

// Maps: length+1 (0 for nil), then each key and value. Common map types
// (string or int keys, scalar, string or interface values) range over the
// map directly; the rest go through reflect, with iterators pooled. Order is
// Go's map order: two encodings of one map may differ.

func (b *builder) mapping(c *typeCodec, path string) error {
	t := c.t
	kc, err := b.build(t.Key(), path+"[key]")
	if err != nil {
		return err
	}
	vc, err := b.build(t.Elem(), path+"[value]")
	if err != nil {
		return err
	}
	c.kind, c.min, c.key, c.elem = kMap, 1, kc, vc
	if f := fastMaps[[2]reflect.Type{t.Key(), t.Elem()}]; f != nil {
		c.enc, c.dec = f(c)
		return nil
	}
	check := holdsIface(t.Key())
	typ := typeWord(t)
	iters := sync.Pool{New: func() any {
		return &mapIter{k: reflect.New(t.Key()), v: reflect.New(t.Elem())}
	}}
	c.enc = func(b []byte, p unsafe.Pointer, depth int) ([]byte, error) {
		if *(*unsafe.Pointer)(p) == nil {
			return append(b, 0), nil
		}
		// A Value of the map itself, not of the variable at p: the pooled
		// iterator keeps it (see noescape.go).
		m := reflect.ValueOf(makeAny(typ, p, true))
		if depth >= MaxDepth {
			return b, c.tooDeep()
		}
		b = appendUvarint(b, uint64(m.Len())+1)
		it := iters.Get().(*mapIter)
		defer it.release(&iters)
		it.it.Reset(m)
		k, v := it.k.Elem(), it.v.Elem()
		kp, vp := it.k.UnsafePointer(), it.v.UnsafePointer()
		var err error
		for it.it.Next() {
			k.SetIterKey(&it.it)
			v.SetIterValue(&it.it)
			if b, err = kc.enc(b, kp, depth+1); err != nil {
				return b, err
			}
			if b, err = vc.enc(b, vp, depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	}
	c.dec = func(s src, i int, p unsafe.Pointer, depth int) (int, error) {
		b := s.b
		if depth >= MaxDepth {
			return i, c.decTooDeep(i)
		}
		n, isNil, j, err := c.count(b, i, kc.min+vc.min, 1)
		if err != nil || isNil {
			return j, err
		}
		m := reflect.MakeMapWithSize(t, n)
		reflect.NewAt(t, p).Elem().Set(m)
		kp, vp := reflect.New(t.Key()), reflect.New(t.Elem())
		k, v := kp.Elem(), vp.Elem()
		for range n {
			k.SetZero()
			at := j
			if j, err = kc.dec(s, j, kp.UnsafePointer(), depth+1); err != nil {
				return j, err
			}
			if check && !k.Comparable() {
				return j, c.corrupt(at, "map key of type %s is not comparable", reflect.TypeOf(k.Interface()))
			}
			v.SetZero()
			if j, err = vc.dec(s, j, vp.UnsafePointer(), depth+1); err != nil {
				return j, err
			}
			m.SetMapIndex(k, v)
		}
		return j, nil
	}
	return nil
}

type mapIter struct {
	it   reflect.MapIter
	k, v reflect.Value // pointers to scratch key and value
}

// release drops what the scratch key, value and iterator refer to, so a
// pooled iterator keeps no item alive, and pools it.
func (it *mapIter) release(pool *sync.Pool) {
	it.it.Reset(reflect.Value{})
	it.k.Elem().SetZero()
	it.v.Elem().SetZero()
	pool.Put(it)
}

// holdsIface reports whether a value of t may hold an interface value (and
// so may be not comparable at run time although t is).
func holdsIface(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Array:
		return holdsIface(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if holdsIface(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

// A scalar codec encodes a K or V by value, in the same bytes the compiled
// codec of its type would write, so the fast paths below are the general
// format, only without reflect.
type scalar[X any] struct {
	min int
	enc func(b []byte, x X, depth int) ([]byte, error)
	dec func(c *typeCodec, s src, i, depth int) (X, int, error)
}

var (
	sString = scalar[string]{1,
		func(b []byte, x string, _ int) ([]byte, error) { return appendString(b, x), nil },
		func(c *typeCodec, s src, i, _ int) (string, int, error) { return c.readString(s, i) }}
	sInt = scalar[int]{8,
		func(b []byte, x int, _ int) ([]byte, error) {
			return binary.NativeEndian.AppendUint64(b, uint64(x)), nil
		},
		func(c *typeCodec, s src, i, _ int) (int, int, error) {
			b := s.b
			u, j, err := c.read64(b, i)
			return int(u), j, err
		}}
	sInt64 = scalar[int64]{8,
		func(b []byte, x int64, _ int) ([]byte, error) {
			return binary.NativeEndian.AppendUint64(b, uint64(x)), nil
		},
		func(c *typeCodec, s src, i, _ int) (int64, int, error) {
			b := s.b
			u, j, err := c.read64(b, i)
			return int64(u), j, err
		}}
	sFloat64 = scalar[float64]{8,
		func(b []byte, x float64, _ int) ([]byte, error) {
			return binary.NativeEndian.AppendUint64(b, math.Float64bits(x)), nil
		},
		func(c *typeCodec, s src, i, _ int) (float64, int, error) {
			b := s.b
			u, j, err := c.read64(b, i)
			return math.Float64frombits(u), j, err
		}}
	sBool = scalar[bool]{1,
		func(b []byte, x bool, _ int) ([]byte, error) { return append(b, boolByte(x)), nil },
		func(c *typeCodec, s src, i, _ int) (bool, int, error) {
			b := s.b
			if i >= len(b) {
				return false, i, c.short(b, i, 1)
			}
			if b[i] > 1 {
				return false, i, c.corrupt(i, "bool byte %#x", b[i])
			}
			return b[i] == 1, i + 1, nil
		}}
)

// sAny is set by initMaps: its functions reach the compiler, which reaches
// fastMaps, so it cannot be a package variable's initializer.
var sAny scalar[any]

func boolByte(x bool) byte {
	if x {
		return 1
	}
	return 0
}

func (c *typeCodec) read64(b []byte, i int) (uint64, int, error) {
	if len(b)-i < 8 {
		return 0, i, c.short(b, i, 8)
	}
	return binary.NativeEndian.Uint64(b[i:]), i + 8, nil
}

// fastMaps holds the map types whose codec ranges over the map itself,
// keyed by key and value type.
var fastMaps = map[[2]reflect.Type]func(c *typeCodec) (encFunc, decFunc){}

// stringAnyMap encodes the map[string]any an interface holds.
var stringAnyMap mapFuncs[string, any]

// initMaps fills fastMaps; init calls it before compiling anything.
func initMaps() {
	sAny = scalar[any]{1, encIfaceValue, func(_ *typeCodec, s src, i, depth int) (any, int, error) {
		return decIfaceValue(s, i, depth)
	}}
	stringAnyMap = mapFuncs[string, any]{sString, sAny}
	addFast(sString, sString)
	addFast(sString, sInt)
	addFast(sString, sInt64)
	addFast(sString, sFloat64)
	addFast(sString, sBool)
	addFast(sString, sAny)
	addFast(sInt, sInt)
	addFast(sInt, sString)
	addFast(sInt, sAny)
	addFast(sInt64, sInt64)
	addFast(sInt64, sString)
}

// mapFuncs encode and decode a map[K]V given by value.
type mapFuncs[K comparable, V any] struct {
	ks scalar[K]
	vs scalar[V]
}

func (f mapFuncs[K, V]) enc(c *typeCodec, b []byte, m map[K]V, depth int) ([]byte, error) {
	if m == nil {
		return append(b, 0), nil
	}
	if depth >= MaxDepth {
		return b, c.tooDeep()
	}
	b = appendUvarint(b, uint64(len(m))+1)
	var err error
	for k, v := range m {
		if b, err = f.ks.enc(b, k, depth+1); err != nil {
			return b, err
		}
		if b, err = f.vs.enc(b, v, depth+1); err != nil {
			return b, err
		}
	}
	return b, nil
}

func (f mapFuncs[K, V]) dec(c *typeCodec, s src, i int, depth int) (map[K]V, int, error) {
	b := s.b
	if depth >= MaxDepth {
		return nil, i, c.decTooDeep(i)
	}
	n, isNil, j, err := c.count(b, i, f.ks.min+f.vs.min, 1)
	if err != nil || isNil {
		return nil, j, err
	}
	m := make(map[K]V, n)
	var k K
	var v V
	for range n {
		if k, j, err = f.ks.dec(c, s, j, depth+1); err != nil {
			return m, j, err
		}
		if v, j, err = f.vs.dec(c, s, j, depth+1); err != nil {
			return m, j, err
		}
		m[k] = v
	}
	return m, j, nil
}

func addFast[K comparable, V any](ks scalar[K], vs scalar[V]) {
	f := mapFuncs[K, V]{ks, vs}
	fastMaps[[2]reflect.Type{reflect.TypeFor[K](), reflect.TypeFor[V]()}] = func(c *typeCodec) (encFunc, decFunc) {
		// A named map type with these key and value types has the
		// representation of map[K]V.
		enc := func(b []byte, p unsafe.Pointer, depth int) ([]byte, error) {
			return f.enc(c, b, *(*map[K]V)(p), depth)
		}
		dec := func(s src, i int, p unsafe.Pointer, depth int) (int, error) {
			m, j, err := f.dec(c, s, i, depth)
			*(*map[K]V)(p) = m
			return j, err
		}
		return enc, dec
	}
}
