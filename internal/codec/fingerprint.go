package codec

import (
	"hash/fnv"
	"reflect"
	"strconv"
	"strings"

	"github.com/multiproc/multiproc/internal/layout"
)

// Fingerprint returns a 64-bit hash of t's shape as the binary format sees
// it, so that two processes agree on an object's item type exactly when
// their types encode alike. It covers, recursively: each kind; for plain
// parts (numbers, bools, arrays and structs of those) layout's fingerprint
// (sizes, field names and offsets, unexported fields included, since they
// travel in the memory image); for other structs the exported fields' names
// and types in order; array lengths; map key and value types; interface
// types' method names; and, for types with marshaler methods, their full
// name (their bytes are theirs to define). Type names are otherwise left
// out: `type Celsius float64` and float64 share a fingerprint. Recursive
// types are written with back-references, so the walk ends.
func Fingerprint(t reflect.Type) uint64 {
	w := shapeWriter{seen: map[reflect.Type]int{}}
	w.write(t)
	h := fnv.New64a()
	h.Write([]byte(w.sb.String()))
	return h.Sum64()
}

type shapeWriter struct {
	sb   strings.Builder
	seen map[reflect.Type]int // types already written, in order
}

func (w *shapeWriter) write(t reflect.Type) {
	if k, ok := w.seen[t]; ok {
		w.sb.WriteString("#" + strconv.Itoa(k))
		return
	}
	w.seen[t] = len(w.seen)
	sb := &w.sb
	if m := marshalerOf(t); m != 0 {
		sb.WriteString("marshal" + strconv.Itoa(int(m)) + "(" + qualifiedName(t) + ")")
		return
	}
	if plainType(t) {
		ti, err := layout.Describe(t)
		if err == nil {
			sb.WriteString("plain(" + strconv.FormatUint(ti.Hash, 16) + ")")
			return
		}
	}
	switch t.Kind() {
	case reflect.String:
		sb.WriteString("string")
	case reflect.Slice:
		sb.WriteString("[]")
		w.write(t.Elem())
	case reflect.Array:
		sb.WriteString("[" + strconv.Itoa(t.Len()) + "]")
		w.write(t.Elem())
	case reflect.Pointer:
		sb.WriteString("*")
		w.write(t.Elem())
	case reflect.Map:
		sb.WriteString("map[")
		w.write(t.Key())
		sb.WriteString("]")
		w.write(t.Elem())
	case reflect.Interface:
		sb.WriteString("interface{")
		for i := range t.NumMethod() {
			sb.WriteString(t.Method(i).Name + ";")
		}
		sb.WriteString("}")
	case reflect.Struct:
		sb.WriteString("struct{")
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			sb.WriteString(f.Name + " ")
			w.write(f.Type)
			sb.WriteString(";")
		}
		sb.WriteString("}")
	default: // func, chan, unsafe.Pointer: never encoded, named for completeness
		sb.WriteString(t.Kind().String())
	}
}

// typeName is t's name for messages.
func typeName(t reflect.Type) string { return t.String() }
