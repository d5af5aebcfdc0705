package shmfile

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/multiproc/multiproc/internal/errs"
)

// Dir is where every object lives. glibc (since 2.34) and CPython hard-code
// the same directory.
const Dir = "/dev/shm"

// nameMax is NAME_MAX on tmpfs: the longest file name.
const nameMax = 255

// GeneratedPrefix starts every name multiproc makes up. It cannot collide
// with glibc's "sem.", CPython's "psm_", "mp-" or "pym-".
const GeneratedPrefix = "mpgo_"

// ErrInvalidName is returned for a name that cannot name an object in
// /dev/shm. The message quotes the name and says what is wrong with it
// (errs.ErrInvalidName).
var ErrInvalidName = errs.ErrInvalidName

// CleanName strips leading slashes from name and checks that what is left
// can be a single file name in Dir once prefix is put before it (prefix is
// "" for plain objects and "sem." for POSIX semaphores). It returns the
// name without slashes.
func CleanName(name, prefix string) (string, error) {
	clean := strings.TrimLeft(name, "/")
	switch {
	case name == "":
		return "", fmt.Errorf("%w %q: empty", ErrInvalidName, name)
	case clean == "":
		return "", fmt.Errorf("%w %q: empty after the leading slash", ErrInvalidName, name)
	case strings.IndexByte(clean, 0) >= 0:
		return "", fmt.Errorf("%w %q: contains a NUL byte", ErrInvalidName, name)
	case strings.Contains(clean, "/"):
		return "", fmt.Errorf("%w %q: contains '/' after the leading slash", ErrInvalidName, name)
	case clean == "." || clean == "..":
		return "", fmt.Errorf("%w %q: not a file name", ErrInvalidName, name)
	case len(prefix)+len(clean) > nameMax:
		return "", fmt.Errorf("%w %q: %d bytes, longer than the %d the file system allows", ErrInvalidName, shorten(name), len(clean), nameMax-len(prefix))
	}
	return clean, nil
}

// IsFileName reports whether file is what CleanName returns: one file name
// in Dir, with no slash.
func IsFileName(file string) bool {
	clean, err := CleanName(file, "")
	return err == nil && clean == file
}

func shorten(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// Generate returns a fresh name "mpgo_<kind>_<16 hex digits>".
func Generate(kind string) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("shmfile: crypto/rand failed: " + err.Error())
	}
	return GeneratedPrefix + kind + "_" + hex.EncodeToString(b[:])
}

// Path returns the file path of an already clean file name.
func Path(file string) string { return Dir + "/" + file }
