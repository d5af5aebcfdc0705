// Package layout holds what every multiproc object file shares: the typed
// object header, the kinds, the element type fingerprint, and the errors for
// files that are not what they claim to be.
//
// The header is written once by the creator before the file is published
// under its name and is never changed afterwards, so readers copy it without
// atomics. Nothing in it is trusted: Validate checks every field, in a fixed
// order, and never panics or reads past the bytes it is given, whatever they
// are (see FuzzValidate).
package layout
