package codec

import (
	"fmt"
	"hash/fnv"
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"
)

// An ifaceEntry is a type an interface value may hold.
type ifaceEntry struct {
	t      reflect.Type
	tc     *typeCodec
	tag    byte           // a builtin tag, or tagRegistered
	id     uint64         // tagRegistered: the id on the wire
	name   string         // tagRegistered: the name it was registered under
	typ    unsafe.Pointer // typeWord(t)
	direct bool           // directIface(t)
}

// The registry is copied on write: Register takes regMu, copies, adds and
// publishes; encoders and decoders load it without locks.
type registry struct {
	byType map[reflect.Type]*ifaceEntry
	byID   map[uint64]*ifaceEntry
	byName map[string]*ifaceEntry
}

var (
	regMu    sync.Mutex
	reg      atomic.Pointer[registry]
	builtins [numBuiltin]*ifaceEntry // set by init, read-only after

	// Codecs used for messages and for the inlined cases of encAny.
	anyTC, anysTC, anyMapTC, bytesTC *typeCodec
)

func init() {
	initMaps()
	r := &registry{byType: map[reflect.Type]*ifaceEntry{}, byID: map[uint64]*ifaceEntry{}, byName: map[string]*ifaceEntry{}}
	for tag, t := range builtinTypes {
		if t == nil {
			continue
		}
		e := mustEntry(t)
		e.tag = byte(tag)
		builtins[tag] = e
		r.byType[t] = e
	}
	reg.Store(r)
	anyTC = mustEntry(reflect.TypeFor[any]()).tc
	anysTC, anyMapTC, bytesTC = builtins[tagAnys].tc, builtins[tagAnyMap].tc, builtins[tagBytes].tc
}

func mustEntry(t reflect.Type) *ifaceEntry {
	e, err := newEntry(t)
	if err != nil {
		panic(err)
	}
	return e
}

func newEntry(t reflect.Type) (*ifaceEntry, error) {
	tc, err := compile(t)
	if err != nil {
		return nil, err
	}
	return &ifaceEntry{t: t, tc: tc, typ: typeWord(t), direct: directIface(t)}, nil
}

// Register records T as a type that interface values (any, or an interface
// type's field) may hold, under T's full name: its package path and name,
// "github.com/you/app.Job", or T's spelling for unnamed types, "[]int32".
// Every process must register the same types (in an init function, say):
// the encoding carries an id made from the name and T's Fingerprint, and a
// decoder that does not know the id refuses the item. The builtin types
// (every basic kind, []byte, []any, map[string]any, []string, []int,
// []float64, map[string]string, map[string]int, time.Time, time.Duration)
// need no registration.
//
// Register panics, as gob.Register does, if T cannot be encoded, is an
// interface type, or its name is taken by another type.
func Register[T any]() { RegisterName[T](qualifiedName(reflect.TypeFor[T]())) }

// RegisterName is Register under a name of the caller's choosing.
func RegisterName[T any](name string) {
	if err := register(reflect.TypeFor[T](), name); err != nil {
		panic(err)
	}
}

func register(t reflect.Type, name string) error {
	if t.Kind() == reflect.Interface {
		return fmt.Errorf("codec: Register of interface type %s: register the concrete types it holds", t)
	}
	if name == "" {
		return fmt.Errorf("codec: Register of %s under an empty name", t)
	}
	e, err := newEntry(t)
	if err != nil {
		return fmt.Errorf("codec: Register: %w", err)
	}
	regMu.Lock()
	defer regMu.Unlock()
	old := reg.Load()
	if x := old.byType[t]; x != nil {
		if x.tag != tagRegistered || x.name == name {
			return nil // a builtin, or registered already
		}
		return fmt.Errorf("codec: %s registered twice, as %q and as %q", t, x.name, name)
	}
	if x := old.byName[name]; x != nil {
		return fmt.Errorf("codec: name %q registered for %s, not %s", name, x.t, t)
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%x", name, e.tc.hash)
	e.tag, e.id, e.name = tagRegistered, h.Sum64(), name
	if x := old.byID[e.id]; x != nil {
		return fmt.Errorf("codec: %s as %q and %s as %q have the same id %#x: register one under another name", t, name, x.t, x.name, e.id)
	}
	r := &registry{byType: clone(old.byType), byID: clone(old.byID), byName: clone(old.byName)}
	r.byType[t], r.byID[e.id], r.byName[name] = e, e, e
	reg.Store(r)
	return nil
}

func clone[K comparable, V any](m map[K]V) map[K]V {
	n := make(map[K]V, len(m)+1)
	for k, v := range m {
		n[k] = v
	}
	return n
}

// qualifiedName is t's name with its full package path.
func qualifiedName(t reflect.Type) string {
	if t.Name() != "" && t.PkgPath() != "" {
		return t.PkgPath() + "." + t.Name()
	}
	if t.Kind() == reflect.Pointer {
		return "*" + qualifiedName(t.Elem())
	}
	return t.String()
}
