package reexec

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
)

// A RoleFunc is the body of a process started in a role: it gets the
// role's arguments and returns the process's exit status.
type RoleFunc func(args []string) int

var (
	rolesMu sync.Mutex
	roles   = map[string]RoleFunc{}

	dispatched atomic.Bool
)

// Register makes run the body of the role name in processes that this
// binary starts with Command(name, ...); Dispatch runs it. Call it from an
// init function (or before Dispatch in main or TestMain), so that every
// copy of the binary knows the same roles. It panics on a bad or taken
// name, a programming error.
func Register(name string, run RoleFunc) {
	if !validName(name) {
		panic(fmt.Sprintf("reexec: Register: bad role name %q (want letters, digits, '.', '_', '-')", name))
	}
	if run == nil {
		panic("reexec: Register: nil role function for " + name)
	}
	rolesMu.Lock()
	defer rolesMu.Unlock()
	if _, dup := roles[name]; dup {
		panic("reexec: role registered twice: " + name)
	}
	roles[name] = run
}

// RegisterInit is Register for a role that must run before main, whatever
// main does: if this process was started in role name, run runs at once,
// from the caller's init function, and the process exits with its status.
// The resource tracker is such a role.
func RegisterInit(name string, run RoleFunc) {
	Register(name, run)
	if self.role == name {
		os.Exit(run(self.args))
	}
}

// Dispatch is called first thing in main (pool.Init) or TestMain
// (proctest.Main). In a process started in a role it runs that role and
// exits with its status; a role this binary does not register exits with
// ExitNoRole after saying so, and never returns into main. In any other
// process it returns at once. Calling it more than once is harmless.
func Dispatch() {
	dispatched.Store(true)
	if self.role == "" {
		return
	}
	rolesMu.Lock()
	run := roles[self.role]
	rolesMu.Unlock()
	if run == nil {
		fmt.Fprintf(os.Stderr, "multiproc: this process (pid %d) was started to play the role %q, which this binary does not register; exiting with status %d\n", os.Getpid(), self.role, ExitNoRole)
		os.Exit(ExitNoRole)
	}
	os.Exit(run(self.args))
}

// Dispatched reports whether Dispatch has run in this process: then every
// child this binary starts in a role reaches its role, since it runs the
// same main (or TestMain) up to the same Dispatch.
func Dispatched() bool { return dispatched.Load() }

// Role returns the role this process was started in, and its arguments;
// name is "" in a process not started by Command.
func Role() (name string, args []string) { return self.role, self.args }

// FD returns the inherited descriptor the starting process named name
// (Cmd.AddFile), or -1 if it named none. The caller owns it; use FD or
// File for a name, not both.
func FD(name string) int {
	if fd, ok := self.files[name]; ok {
		return fd
	}
	return -1
}

// File returns the inherited file the starting process named name, or nil.
// Every call for a name returns the same *os.File.
func File(name string) *os.File {
	rolesMu.Lock()
	defer rolesMu.Unlock()
	if f, ok := fileCache[name]; ok {
		return f
	}
	fd := FD(name)
	if fd < 0 {
		return nil
	}
	f := os.NewFile(uintptr(fd), name)
	fileCache[name] = f
	return f
}
