package codec

import "unsafe"

// Why the encoders hide pointers from the compiler.
//
// A queue's Put(ctx, x T) calls Append(dst, &x) and its Get builds a T and
// calls Decode(b, &v). Both calls reach compiled closures, and the compiler
// must assume a pointer passed to a closure (or through an interface) is
// kept, so it moves x and v to the heap: one allocation per Put and per
// Get, whatever T is. The encoders and decoders here never keep the
// pointer they are given nor store it in heap memory (they read and write
// through it, and store heap pointers into it, all during the call), so
// binaryCodec hides it with the runtime's own noescape, and the package
// functions Append and Decode call this package's codecs directly instead
// of through the interface. Two places had to change for that to be true:
// the map encoder builds its reflect.Value from the map word, not from p
// (its pooled iterator would otherwise hold p), and a T holding a marshaler
// value inline is not hidden (its pointer-receiver methods get p, and what
// they do with it is theirs). TestNoAllocationsPerItem holds the result to
// zero allocations for the item itself.
//
// runtime.noescape is one of the runtime functions the Go team keeps
// reachable by linkname for outside packages ("Do not remove or change the
// type signature", go.dev/issue/67401); a change would be a link error,
// never a silent one.

//go:linkname noescape runtime.noescape
//go:noescape
func noescape(p unsafe.Pointer) unsafe.Pointer
