// Package track is multiproc's resource tracker: the client that objects
// register with when they are created, and the tracker process itself.
//
// # Lifetimes
//
// Every registered object says how long its name lives (Lifetime), by the
// rule segment.Options.Lifetime keeps, as close to Python's as Go allows:
//
//   - Made without a Name (WhileCreatorHolds), like Python's Lock or Value:
//     it lives while its creator holds it. The creator's Close removes the
//     name (package segment does that); the creator's exit, however it
//     happens, ends it too, and that is the tracker's work. Silent, unless
//     the creator was killed by a signal: then one line per object says so.
//   - Given a Name, or a raw segment (UntilUnlink), like Python's
//     SharedMemory: it stays until someone unlinks it. The tracker removes
//     one forgotten at the program's end, once nobody holds it, with one
//     line saying so.
//   - Persistent: never registered.
//
// Processes that have an object open keep using it after its name is gone.
//
// # Protocol
//
// The first Register in a program starts the tracker: the same binary,
// re-executed in the tracker's role (internal/reexec), in a session of its
// own (Setsid), so a signal to the program's process group — Ctrl-C, or
// kill -9 -PGID — never reaches it. This package's init registers the role
// with reexec.RegisterInit, which runs the tracker instead of the program,
// before any main or TestMain, so programs and test binaries need no code
// for it. The process that starts it hands it a pidfd for itself as well.
//
// The connection is a pipe. The tracker holds the only read end; every
// process of the program holds a write end (the first one made the pipe,
// children get it through Inherit). Messages are single lines of at most a
// few hundred bytes, each written with one write(2), which POSIX makes
// atomic on a pipe below PIPE_BUF (4096), so writers never interleave:
//
//	H <pid> <start32>
//	R <dev> <ino> <creator pid> <creator start32> <kind> <lifetime> <quoted file name>
//	U <quoted file name>
//
// H (hello) is every client's first message: it names the process, and the
// tracker opens a pidfd for it (checking its start time, so a reused pid
// is never taken for it). The pidfd says when the whole process has exited
// — its files closed, its flocks released — and how it ended: killed by a
// signal, or exited (see exitOf). R says a process created the file (the
// inode is sent, so a later object that takes the same name is never
// mistaken for this one), an object of layout.Kind kind whose lifetime is
// "creator" or "unlink"; U says it was removed on purpose. Opening is not
// owning: only creators register, so an object someone else made is never
// ours to remove (CPython gh-82300).
//
// When a client exits, the tracker first reads all that client wrote —
// it is in the pipe already — then removes the names of the objects it
// created without a name. When the read end reports EOF, every write end
// is closed: the kernel closes the fds of a process that exits, even by
// SIGKILL, so EOF means every client is gone. The tracker then removes each
// object left that nobody holds — decided by a non-blocking exclusive
// flock (internal/shmfile, the rule segment.TryRemoveUnheld uses), never by
// guessing — and prints one line per object removed to the program's
// stderr. An object some unrelated process still holds is kept and watched
// (a flock test every HeldPollInterval) until nobody holds it, then
// removed; the tracker exits when nothing is left to watch. A program that
// closed its anonymous objects and unlinked its named ones hears nothing
// from its tracker.
//
// # Registry
//
// While it runs, the tracker keeps the list of registered objects in a
// registry file, /dev/shm/mpgo_tracker_<random>, on which it holds an
// exclusive flock (its format, versioned, is described in registry.go). If
// the tracker is SIGKILLed the flock goes with it, so a later sweep can tell
// the registry is orphaned: every new tracker sweeps orphaned registries
// when it starts (removing, silently, objects whose program and creator
// are dead and that nobody holds), and so does `multiproc clean`.
//
// Objects created Persistent never call Register, so they are never
// tracked nor swept; only an explicit Unlink or `multiproc rm` removes them.
//
// # Caveats
//
//   - How a process ended comes from its zombie's /proc/PID/stat until its
//     parent reaps it, and after that from PIDFD_GET_INFO (Linux 6.15 and
//     later). On an older kernel, a client already reaped when the tracker
//     looks, or one gone before the tracker read its hello (a child killed
//     in its first moments), ended in a way nobody can tell: its objects
//     made without a name are then removed silently, as after an exit, and
//     its named ones reported as "never unlinked".
//   - Without pidfds (before Linux 5.3, or with no fd left), the tracker
//     looks for such a client in /proc every HeldPollInterval instead, and
//     cannot tell when all its threads are done: its anonymous objects go
//     (by identity, which needs no flock) once /proc calls it dead.
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
