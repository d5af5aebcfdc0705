package codec

import (
	"fmt"
	"reflect"
	"sync"
	"unsafe"
)

// A typeCodec is the compiled encoder and decoder of one Go type. It is
// built once per type (compile), under compileMu, with every type it
// reaches, and published in compiled only when the whole graph is built;
// after that it is never changed, so encoding and decoding read it without
// locks. Recursive types point back at a typeCodec still being built: its
// enc and dec are read only when an item is encoded, by which time they are
// set.
type typeCodec struct {
	t    reflect.Type
	name string // t.String(), for messages
	kind kind
	size uintptr // t.Size()
	min  int     // fewest bytes any encoding of t takes
	hash uint64  // Fingerprint(t)
	strs int     // how many strings a value of t may hold: 0, 1 or 2 (two or more)

	// inlineMarshal: a value of t holds a marshaler value in its own
	// memory (not behind a pointer, slice, map or interface), whose
	// methods would get a pointer into it (see noescape.go).
	inlineMarshal bool
	bools         []span       // kPlain: the bytes that are bools
	elem          *typeCodec   // slice, array and pointer elements, map values
	key           *typeCodec   // map keys
	fields        []*typeCodec // struct: the exported fields
	enc           encFunc
	dec           decFunc
}

// encFunc appends the encoding of the value of the codec's type at p.
// depth counts the containers (slices, maps, pointers, interfaces) around
// it. On error the returned slice is to be dropped.
type encFunc func(b []byte, p unsafe.Pointer, depth int) ([]byte, error)

// decFunc decodes one value from b[i:] into the zeroed memory at p and
// returns the offset just past it.
type decFunc func(s src, i int, p unsafe.Pointer, depth int) (int, error)

type kind uint8

const (
	kPlain   kind = iota + 1 // memory image
	kString                  // length, bytes
	kSlice                   // length+1 (0: nil), elements
	kArray                   // elements
	kStruct                  // exported fields in order
	kMap                     // length+1 (0: nil), key and value pairs
	kPtr                     // 0: nil, 1: the element
	kIface                   // tag, value
	kMarshal                 // length, the bytes of MarshalBinary or MarshalText
)

// MaxDepth bounds how many containers (slices, maps, pointers, interface
// values) may nest inside one item, on encode and on decode. Deeper values,
// and cyclic pointer graphs, are refused with ErrUnsupported or ErrCorrupt.
const MaxDepth = 1000

var (
	compileMu sync.Mutex
	compiled  sync.Map // reflect.Type → *typeCodec
)

// compile returns the typeCodec of t, building it (and every type it
// reaches) on first use. A type that cannot be encoded is an error wrapping
// ErrUnsupported that names it and where it sits; nothing is cached then.
func compile(t reflect.Type) (*typeCodec, error) {
	if c, ok := compiled.Load(t); ok {
		return c.(*typeCodec), nil
	}
	compileMu.Lock()
	defer compileMu.Unlock()
	if c, ok := compiled.Load(t); ok {
		return c.(*typeCodec), nil
	}
	b := builder{top: t, pending: map[reflect.Type]*typeCodec{}, paths: map[*typeCodec]string{}}
	c, err := b.build(t, "")
	if err != nil {
		return nil, err
	}
	// Sizes last: a struct may hold a type that was still being built
	// when the struct's fields were (type A struct{ B *B }; type B
	// struct{ A A }), whose minimum was not known yet.
	for _, c := range b.order {
		if fillMin(c) == 0 && c.size > 0 {
			// Encoding it would send nothing and decoding a length of
			// such elements would allocate memory no bytes pay for.
			return nil, b.unsupported(c.t, b.paths[c], " whose exported fields carry no data (unexported fields are not encoded)")
		}
	}
	for t, c := range b.pending {
		c.hash = Fingerprint(t)
		c.strs = countStrings(c, map[*typeCodec]bool{})
		c.inlineMarshal = holdsMarshalInline(c)
	}
	for t, c := range b.pending {
		compiled.Store(t, c)
	}
	return c, nil
}

type builder struct {
	top     reflect.Type
	pending map[reflect.Type]*typeCodec
	paths   map[*typeCodec]string // where each pending type was first met, for messages
	order   []*typeCodec          // pending types, in the order met
}

// fillMin sets and returns the fewest bytes an encoding of c's type
// takes, for the arrays and structs build left at -1. Only containers
// close cycles and their minimum is fixed, so the recursion ends.
func fillMin(c *typeCodec) int {
	if c.min >= 0 {
		return c.min
	}
	n := 0
	switch c.kind {
	case kArray:
		n = c.t.Len() * fillMin(c.elem)
	case kStruct:
		for _, f := range c.fields {
			n += fillMin(f)
		}
	}
	c.min = n
	return n
}

func (b *builder) unsupported(t reflect.Type, path, why string) error {
	if path == "" {
		return fmt.Errorf("%w: %s is a %s%s", ErrUnsupported, t, t.Kind(), why)
	}
	return fmt.Errorf("%w: %s holds %s (a %s) at %s%s", ErrUnsupported, b.top, t, t.Kind(), path, why)
}

func (b *builder) build(t reflect.Type, path string) (*typeCodec, error) {
	if c, ok := compiled.Load(t); ok {
		return c.(*typeCodec), nil
	}
	if c, ok := b.pending[t]; ok {
		return c, nil
	}
	c := &typeCodec{t: t, name: t.String(), size: t.Size()}
	b.pending[t] = c
	b.paths[c] = path
	b.order = append(b.order, c)
	if m := marshalerOf(t); m != 0 {
		buildMarshal(c, m)
		return c, nil
	}
	if plainType(t) {
		c.kind, c.min = kPlain, int(t.Size())
		c.bools = boolSpans(t, 0, nil)
		c.enc, c.dec = c.encPlain, c.decPlain
		return c, nil
	}
	var err error
	switch t.Kind() {
	case reflect.String:
		c.kind, c.min = kString, 1
		c.enc, c.dec = encString, c.decString
	case reflect.Slice:
		err = b.slice(c, path)
	case reflect.Array:
		err = b.array(c, path)
	case reflect.Struct:
		err = b.structure(c, path)
	case reflect.Map:
		err = b.mapping(c, path)
	case reflect.Pointer:
		err = b.pointer(c, path)
	case reflect.Interface:
		buildIface(c)
	default: // func, chan, unsafe.Pointer
		err = b.unsupported(t, path, "")
	}
	if err != nil {
		return nil, err // compile drops everything pending
	}
	return c, nil
}

func holdsMarshalInline(c *typeCodec) bool {
	switch c.kind {
	case kMarshal:
		return true
	case kArray:
		return holdsMarshalInline(c.elem)
	case kStruct:
		for _, f := range c.fields {
			if holdsMarshalInline(f) {
				return true
			}
		}
	}
	return false
}

// countStrings returns how many strings a value of c's type may hold,
// counting two for "two or more". A type met again on the way down is part
// of a cycle, which only a container closes, so it adds nothing new.
func countStrings(c *typeCodec, on map[*typeCodec]bool) int {
	if on[c] {
		return 0
	}
	on[c] = true
	defer delete(on, c)
	n := 0
	switch c.kind {
	case kString:
		n = 1
	case kIface:
		n = 2
	case kPtr:
		n = countStrings(c.elem, on)
	case kArray:
		n = c.t.Len() * countStrings(c.elem, on)
	case kSlice, kMap:
		if countStrings(c.elem, on) > 0 || (c.key != nil && countStrings(c.key, on) > 0) {
			n = 2
		}
	case kStruct:
		for _, f := range c.fields {
			n += countStrings(f, on)
		}
	}
	return min(n, 2)
}

func (c *typeCodec) corrupt(i int, format string, args ...any) error {
	return fmt.Errorf("%w: %s at byte %d: %s", ErrCorrupt, c.name, i, fmt.Sprintf(format, args...))
}

func (c *typeCodec) short(b []byte, i, need int) error {
	return c.corrupt(i, "needs %d bytes, %d left", need, len(b)-i)
}

func (c *typeCodec) tooDeep() error {
	return fmt.Errorf("%w: %s nests more than %d containers deep (a cycle?)", ErrUnsupported, c.name, MaxDepth)
}

func (c *typeCodec) decTooDeep(i int) error {
	return c.corrupt(i, "nests more than %d containers deep", MaxDepth)
}
