package pool

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/multiproc/multiproc/internal/reexec"
)

// Init is the first line of main, and of TestMain:
//
//	func main() {
//		pool.Init()
//		...
//	}
//
// In the program it returns at once. In a process this package started — a
// Process's child, a Pool's worker — it serves that role and exits with
// the role's status: main never runs past it there. It is the Go form of
// Python's if __name__ == "__main__" guard: Go cannot fork, so a child is
// this binary started again (internal/reexec), and it must not run main's
// work a second time.
//
// Start and New return ErrNoInit in a program that has not called Init,
// rather than start children that would never reach their work. In a test
// binary, proctest.Main counts too: it dispatches the same roles.
//
// Functions must be registered before Init, during package
// initialization (package-level vars): a worker runs that initialization
// and Init, nothing more, so only what is registered by then exists in it.
// A Register after Init returns a handle that fails with ErrNotRegistered.
func Init() { reexec.Dispatch() }

// initRan reports whether this process has dispatched its roles (Init,
// or proctest.Main in a test binary): only then do its children reach
// theirs.
func initRan() bool { return reexec.Dispatched() }

// checkInit is the error Start and New return in a program that has not
// called Init; op names the call ("pool.Start").
func checkInit(op string) error {
	if initRan() {
		return nil
	}
	return fmt.Errorf("%w: %s starts this program again as a worker, and needs pool.Init() as the first line of main (and of TestMain, before m.Run) so that the worker serves instead of running main", ErrNoInit, op)
}

// rolePrefix names this package's roles in reexec's registry.
const rolePrefix = "pool."

// registerRole makes run the body of a child started with
// newChild(name, ...): this package's internal hook for its roles (the
// Process child is one; the Pool's worker is another). Call it from an
// init function or a package-level var, as Register is.
func registerRole(name string, run reexec.RoleFunc) {
	reexec.Register(rolePrefix+name, run)
}

// inPackageInit reports whether the caller runs during package
// initialization: whether runtime.doInit (doInit1 since Go 1.21) is on the
// stack. A stack too deep to see whole counts as in it: wrongly refusing a
// good registration is worse than letting a bad one fail in the worker.
func inPackageInit() bool {
	var pcs [128]uintptr
	n := runtime.Callers(2, pcs[:])
	if n == len(pcs) {
		return true
	}
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if strings.HasPrefix(f.Function, "runtime.doInit") {
			return true
		}
		if !more {
			return false
		}
	}
}

// initVisible says whether inPackageInit works with this Go runtime: it is
// computed during this package's own initialization, where it must say
// true. If a future runtime renames doInit, registrations are judged by
// Init alone.
var initVisible = inPackageInit()
