package layout

import (
	"fmt"
	"hash/fnv"
	"reflect"
	"strconv"
	"strings"
)

// TypeInfo describes an element type that may live in shared memory.
type TypeInfo struct {
	Name  string
	Size  uint32
	Align uint32
	Hash  uint64 // fingerprint of the type's shape, see Fingerprint
}

// TypeOf returns the TypeInfo of T, or an error wrapping
// ErrUnsupportedType naming T when T holds pointers or has no fixed size.
func TypeOf[T any]() (TypeInfo, error) {
	return Describe(reflect.TypeFor[T]())
}

// Describe is TypeOf for a reflect.Type.
func Describe(t reflect.Type) (TypeInfo, error) {
	if err := checkPlain(t, t.String()); err != nil {
		return TypeInfo{}, err
	}
	var sb strings.Builder
	shape(&sb, t)
	h := fnv.New64a()
	h.Write([]byte(sb.String()))
	return TypeInfo{Name: t.String(), Size: uint32(t.Size()), Align: uint32(t.Align()), Hash: h.Sum64()}, nil
}

// checkPlain refuses any type whose values hold pointers or that has no
// fixed size: such values mean nothing in another process.
func checkPlain(t reflect.Type, top string) error {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return nil
	case reflect.Array:
		return checkPlain(t.Elem(), top)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if err := checkPlain(t.Field(i).Type, top); err != nil {
				return err
			}
		}
		return nil
	}
	if t.String() == top {
		return fmt.Errorf("%w: %s is a %s; use numbers, bool, fixed arrays or structs of those", ErrUnsupportedType, top, t.Kind())
	}
	return fmt.Errorf("%w: %s contains %s (a %s); use numbers, bool, fixed arrays or structs of those", ErrUnsupportedType, top, t, t.Kind())
}

// shape writes a canonical description of t's memory layout: kinds, sizes,
// field names and offsets. Two types with the same shape may share memory;
// int64 and float64, or struct{A, B int32} and [2]int32, may not.
func shape(sb *strings.Builder, t reflect.Type) {
	sb.WriteString(t.Kind().String())
	sb.WriteString(strconv.Itoa(int(t.Size())))
	switch t.Kind() {
	case reflect.Array:
		sb.WriteString("[" + strconv.Itoa(t.Len()) + "]")
		shape(sb, t.Elem())
	case reflect.Struct:
		sb.WriteString("{")
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			sb.WriteString(f.Name + "@" + strconv.Itoa(int(f.Offset)) + ":")
			shape(sb, f.Type)
			sb.WriteString(";")
		}
		sb.WriteString("}")
	}
}
