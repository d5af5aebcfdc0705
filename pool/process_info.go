package pool

import (
	"os"
	"slices"
	"sync"
)

// ProcessInfo names a process: Python's current_process() and
// parent_process() reduced to what crosses processes.
type ProcessInfo struct {
	Name string // "MainProcess" for the program, "Process-1" for a child, ...
	PID  int
}

// current is this process's place in the program's family of processes.
var current = struct {
	sync.Mutex
	name      string
	identity  []int // Python's _identity: () for the main process, (1, 2) for Process-1:2
	children  int   // how many children it has named
	parent    ProcessInfo
	hasParent bool
}{name: "MainProcess"}

// CurrentProcess is this process: Python's current_process(). In the
// program it is "MainProcess"; in a Process's child, that Process's name.
func CurrentProcess() ProcessInfo {
	current.Lock()
	defer current.Unlock()
	return ProcessInfo{Name: current.name, PID: os.Getpid()}
}

// ParentProcess is the process that started this one, with ok false in
// the program itself: Python's parent_process(), which is None there. Its
// PID is the parent's at the start (os.Getppid changes once a parent dies).
func ParentProcess() (p ProcessInfo, ok bool) {
	current.Lock()
	defer current.Unlock()
	return current.parent, current.hasParent
}

// setCurrentProcess records, in a child, who it is and who started it.
// The Pool's workers call it too.
func setCurrentProcess(name string, identity []int, parent ProcessInfo) {
	current.Lock()
	defer current.Unlock()
	current.name, current.identity, current.parent, current.hasParent = name, slices.Clone(identity), parent, true
}

// nextChildIdentity is the identity of this process's next child: its
// own, plus the child's number among its children (from 1).
func nextChildIdentity() []int {
	current.Lock()
	defer current.Unlock()
	current.children++
	return append(slices.Clone(current.identity), current.children)
}
