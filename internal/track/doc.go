// Package track is multiproc's resource tracker: the client that objects
// register with when they are created, and the tracker process itself.
//
// # Protocol
//
// The first Register in a program starts the tracker: the same binary,
// re-executed through /proc/self/exe with a marker in its environment, in
// a session of its own (Setsid), so a signal to the program's process
// group — Ctrl-C, or kill -9 -PGID — never reaches it. This package's init
// sees the marker and runs the tracker instead of the program, before any
// main or TestMain, so programs and test binaries need no code for it.
//
// The connection is a pipe. The tracker holds the only read end; every
// process of the program holds a write end (the first one made the pipe,
// children get it through Inherit). Messages are single lines of at most a
// few hundred bytes, each written with one write(2), which POSIX makes
// atomic on a pipe below PIPE_BUF (4096), so writers never interleave:
//
//	H <pid> <start32>
//	R <dev> <ino> <creator pid> <creator start32> <quoted file name>
//	U <quoted file name>
//
// H (hello) is every client's first message: it names the process, so the
// tracker can tell, once every client is gone, when they have finished
// exiting (see exitGrace).
// R says a process created the file (the inode is sent, so a later object
// that takes the same name is never mistaken for this one); U says it was
// removed on purpose. Opening is not owning: only creators register, so an
// object someone else made is never ours to remove (CPython gh-82300).
//
// When the read end reports EOF, every write end is closed: the kernel
// closes the fds of a process that exits, even by SIGKILL, so EOF means
// every client is gone. The tracker then removes each registered object
// that nobody holds — decided by a non-blocking exclusive flock
// (internal/shmfile, the rule segment.TryRemoveUnheld uses), never by
// guessing — and prints one line per object removed to the program's
// stderr. An object some unrelated process still holds is kept and watched
// (a flock test every HeldPollInterval) until nobody holds it, then
// removed; the tracker exits when nothing is left to watch. A program that
// removed all its objects hears nothing from its tracker.
//
// # Registry
//
// While it runs, the tracker keeps the list of registered objects in a
// registry file, /dev/shm/mpgo_tracker_<random>, on which it holds an
// exclusive flock. If the tracker is SIGKILLed the flock goes with it, so
// a later sweep can tell the registry is orphaned: every new tracker sweeps
// orphaned registries when it starts (removing, silently, objects whose
// program and creator are dead and that nobody holds), and so does
// `multiproc clean`.
//
// Objects created Persistent never call Register, so they are never
// tracked nor swept; only an explicit Unlink or `multiproc rm` removes them.
//
// # Caveats
//
//   - If the tracker is killed, the next Register of each process of the
//     program starts a new tracker and re-registers what that process
//     created; objects of processes that register nothing more are left to
//     the orphaned-registry sweep.
//   - The tracker ignores SIGINT, SIGHUP, SIGTERM and SIGPIPE (as
//     CPython's does), so a service manager's stop signal cannot make it
//     skip its cleanup. SIGKILL stops it; the registry covers that case.
//   - An object held open by an unrelated process keeps the tracker
//     running, with the program's stderr open, until that process lets go.
package track
