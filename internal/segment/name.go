package segment

import "github.com/multiproc/multiproc/internal/shmfile"

// Dir is where every object lives (shmfile.Dir).
const Dir = shmfile.Dir

// GeneratedPrefix starts every name multiproc makes up (shmfile.GeneratedPrefix).
const GeneratedPrefix = shmfile.GeneratedPrefix

// CleanName strips leading slashes from name and checks that what is left
// can be a single file name in Dir once prefix is put before it (prefix is
// "" for plain objects and "sem." for POSIX semaphores). It returns the
// name without slashes; a bad name is an error wrapping ErrInvalidName.
func CleanName(name, prefix string) (string, error) { return shmfile.CleanName(name, prefix) }

// Generate returns a fresh name "mpgo_<kind>_<16 hex digits>".
func Generate(kind string) string { return shmfile.Generate(kind) }

// Path returns the file path of an already clean file name.
func Path(file string) string { return shmfile.Path(file) }
