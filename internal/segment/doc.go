// Package segment creates, opens and removes the files under /dev/shm that
// hold every multiproc object, and maps them MAP_SHARED.
//
// Its rules are the project's rules for files:
//
//   - Names: Python's forms "name" and "/name" both mean /dev/shm/name.
//     Refused with ErrInvalidName: empty after the slashes, another '/',
//     "." or "..", a NUL byte, or a file name longer than NAME_MAX (255).
//   - Create: the file is made nameless (O_TMPFILE, mode 0600 unless asked
//     otherwise), its pages reserved with fallocate so a full /dev/shm is an
//     error now and not a SIGBUS later, its content initialised, and only then
//     linked under its name. Nobody ever opens a half-initialised object, and
//     an existing name is never overwritten (fs.ErrExist).
//   - Open: O_NOFOLLOW (a planted symlink is refused), a regular file owned
//     by us unless the caller opts in to foreign owners.
//   - Lifetime: Options.Lifetime is the one rule that says how long a new
//     object's name lives; Create registers the file with the tracker
//     accordingly, and the creator's Close ends an object made without a
//     Name (see File.Close). Registering (Create) and unregistering
//     (Unlink) happen here and nowhere above.
//   - Liveness: every open File holds a shared flock on its file until Close.
//     The kernel drops it when the process dies, even by SIGKILL, so "nobody
//     holds it" is a kernel fact: a sweeper may unlink a file only after
//     winning a non-blocking exclusive flock (see TryRemoveUnheld).
//
// # Caveats
//
//   - A process with the file owner's rights can truncate a file under a
//     mapping; the next access to a page past the new end faults (SIGBUS).
//     Every read Open makes to validate a file runs under File.Validate,
//     which turns that fault — and a cut that faults nothing but leaves
//     zeros in the last page — into ErrTruncated. What a handle reads after
//     Open returns is not guarded: it would cost every operation. A
//     goroutine that wants a recoverable panic there instead of a dead
//     process sets runtime/debug.SetPanicOnFault(true).
package segment
