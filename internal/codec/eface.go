package codec

import (
	"reflect"
	"unsafe"
)

// An interface value in memory is two words: its dynamic type and its
// data. The data word is the value itself for pointer-shaped types ("direct"
// ones: a pointer, a map, a chan, a func, or a struct or array holding just
// one of those) and a pointer to the value for every other type. This is
// the layout reflect's packEface and the runtime's convT use; the encoder
// reads it so that an interface's value is encoded where it already lives,
// without copying it out, and the decoder builds one around a freshly
// decoded value, without copying it in. directIface learns which types are
// direct by asking the runtime (see there), not from the compiler's rule.
type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

// typeWord returns the dynamic-type word an interface holding a t carries.
func typeWord(t reflect.Type) unsafe.Pointer {
	v := reflect.Zero(t).Interface()
	return (*eface)(unsafe.Pointer(&v)).typ
}

// directIface reports whether an interface holds a t in its data word. It
// boxes a t whose first word points at probe and looks where that pointer
// went: into the data word (direct) or into memory the data word points at.
func directIface(t reflect.Type) bool {
	if t.Size() != unsafe.Sizeof(uintptr(0)) || t.Kind() == reflect.Interface {
		return false
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Chan, reflect.Func, reflect.UnsafePointer, reflect.Struct, reflect.Array:
	default:
		return false // other kinds of pointer size (numbers) are always boxed
	}
	v := reflect.New(t)
	*(*unsafe.Pointer)(v.UnsafePointer()) = unsafe.Pointer(&probe)
	e := v.Elem().Interface()
	return (*eface)(unsafe.Pointer(&e)).data == unsafe.Pointer(&probe)
}

var probe uint64

// valuePtr returns a pointer to the value the interface at v holds, for
// reading only: it points at the interface's boxed copy, which Go never
// changes. For a direct type the value is the data word itself, which is
// copied into a new word (one small allocation) so that the pointer does
// not depend on where v lives.
func valuePtr(v *any, direct bool) unsafe.Pointer {
	e := (*eface)(unsafe.Pointer(v))
	if direct {
		w := new(unsafe.Pointer)
		*w = e.data
		return unsafe.Pointer(w)
	}
	return e.data
}

// makeAny returns an interface holding the value at p (memory of its own,
// allocated for it, that the interface takes over), of the type whose
// typeWord is typ.
func makeAny(typ unsafe.Pointer, p unsafe.Pointer, direct bool) any {
	var v any
	e := (*eface)(unsafe.Pointer(&v))
	e.typ = typ
	if direct {
		e.data = *(*unsafe.Pointer)(p)
	} else {
		e.data = p
	}
	return v
}
