// Package reexec runs this very binary again in a role: the one way
// multiproc starts a process of its own. The resource tracker
// (internal/track), the test harness (internal/proctest) and package pool's
// Process and workers all start their children here, so there is one role
// marker, one command line, one start-up dispatch and one stop sequence.
//
// Go cannot fork, so a worker is the program itself, started again through
// /proc/self/exe with a marker in its environment that says which role to
// play. It is the Go form of Python's spawn start method and its
// if __name__ == "__main__" guard.
//
// # The role marker
//
// One environment variable, MULTIPROC_ROLE, carries everything:
//
//	MULTIPROC_ROLE=v1 <role> <files> [<arg> ...]
//
// v1 is the marker's version. <role> is the role's name (letters, digits,
// '.', '_', '-'). <files> names the inherited file descriptors, "-" for
// none or name=fd pairs joined by commas ("task=3,result=4"). Each <arg> is
// a Go-quoted string (strconv.Quote). The marker is small by design: a
// role's arguments are a few words (a pid, a name); data goes through an
// inherited file, never the environment, whose strings the kernel limits
// to 128 KiB each.
//
// Markers are replaced, never added to. Command and Environ remove every
// MULTIPROC_ROLE entry from the environment they are given before setting
// their own, and this package's init removes the marker from the process's
// own environment as soon as it has read it, so nothing a role starts can
// inherit its parent's role. This matters: syscall.ForkExec and the libc
// getenv take the first of two settings of a variable, so a child given
// its parent's marker followed by a new one would run the parent's role
// again, and that child its own copy, without end (a fork bomb; it happened
// once here). TestChildCannotRerunParentRole holds this package to it.
//
// # Dispatch
//
// This package's init reads and removes the marker, marks the named
// descriptors close-on-exec (so they never leak into a role's own
// children), and refuses a marker it cannot parse by exiting with status
// ExitNoRole, printing why. Roles are registered by name (Register), and
// run in one of two places:
//
//   - RegisterInit: from the registering package's init, before main: the
//     tracker, which must run whatever the program's main does.
//   - Dispatch: called first thing in main or TestMain (pool.Init and
//     proctest.Main call it). In a process started in a role, it runs the
//     role and exits with its status; a role this binary does not register
//     exits with ExitNoRole, never falls through into main (which would
//     start children of its own). In any other process it returns at once
//     and records that it ran (Dispatched), which is how package pool
//     knows that its children will reach their roles.
//
// # Stopping
//
// Every child is stopped the same way, as os/exec's Cancel and WaitDelay
// and hashicorp/go-plugin's Kill do: ask (Cmd.Ask: close its input, or
// SIGTERM), wait up to Grace for it to exit, then SIGKILL, and reap. Stop
// and Kill are idempotent, safe to call from several goroutines, and
// return only once the child is reaped. A Cmd reaps its child itself, in a
// goroutine started with it, so a child that exits is never left a zombie
// and its pid is never signalled after reuse.
//
// # Parent death
//
// Cmd.ParentDeath asks the kernel to SIGKILL the child when this process
// dies, however it dies (PR_SET_PDEATHSIG). Linux delivers that signal
// when the *thread* that started the child exits, not the process (Go
// issue 27505), and the Go runtime retires threads freely; so such
// children are started from one goroutine locked to its OS thread for the
// rest of the process's life, and the signal comes exactly when the whole
// process is gone.
//
// # CPU affinity
//
// Cmd.Affinity starts the child on the given CPUs from its first
// instruction, as taskset(1) does: the thread that forks it (the lasting
// thread, with ParentDeath) is pinned for the fork and put back, since a
// child inherits the affinity of the thread that forks it. A Go child's
// runtime then sizes GOMAXPROCS from that mask, which pinning a running
// child never does.
//
// # Caveats
//
//   - The role's process is the program's binary as it was when this
//     process started (/proc/self/exe), even if the file was replaced or
//     removed since.
//   - Test binaries get -test.run=^$ on a child's command line, so a child
//     that somehow misses its dispatch runs no tests.
//   - Wait, Stop and Kill return once exec.Cmd.Wait does: with a Stdout or
//     Stderr that is not an *os.File, that is also once the child's output
//     is closed, which a grandchild holding it may delay (exec.Cmd.WaitDelay
//     bounds it). Never use exec.Cmd's StdoutPipe or StderrPipe with a Cmd:
//     its reaper calls Wait as soon as the child exits, which closes them;
//     make an os.Pipe and read it yourself.
//   - ParentDeath costs one OS thread, parked for the life of the process,
//     from the first such child on.
package reexec
