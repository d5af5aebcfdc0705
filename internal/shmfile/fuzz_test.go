package shmfile

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzCleanName: whatever name a caller gives, CleanName either refuses it
// with ErrInvalidName or returns a single file name that, with its prefix,
// sits directly in Dir: no separator, no NUL, not "." or "..", short enough
// for the file system, and Python's leading slashes are the only change.
func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"x", "/x", "//x", "", "/", "..", "/..", "../x", "a/b", "x\x00", "sem.x", strings.Repeat("a", 256)} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, name string, semaphore bool) {
		prefix := ""
		if semaphore {
			prefix = "sem."
		}
		clean, err := CleanName(name, prefix)
		if err != nil {
			if !strings.Contains(err.Error(), ErrInvalidName.Error()) {
				t.Fatalf("CleanName(%q) = %v, not ErrInvalidName", name, err)
			}
			return
		}
		switch {
		case clean != strings.TrimLeft(name, "/"):
			t.Fatalf("CleanName(%q) = %q: more than the leading slashes changed", name, clean)
		case clean == "" || clean == "." || clean == "..":
			t.Fatalf("CleanName(%q) = %q: not a file name", name, clean)
		case strings.ContainsAny(clean, "/\x00"):
			t.Fatalf("CleanName(%q) = %q: holds a separator or NUL", name, clean)
		case len(prefix+clean) > nameMax:
			t.Fatalf("CleanName(%q) = %q: longer than %d bytes", name, clean, nameMax)
		case filepath.Dir(Path(prefix+clean)) != Dir:
			t.Fatalf("CleanName(%q) = %q: %s is not directly in %s", name, clean, Path(prefix+clean), Dir)
		}
	})
}
