package pool

import "fmt"

// An ExitError is what Process.Wait returns when the child ended without
// its function returning: the function (or something it called) ran
// os.Exit with a status other than 0, or a signal killed the child
// (Terminate, Kill, the OOM killer, a crash). It unwraps to ErrWorkerDied:
// a Process is a worker of one task.
type ExitError struct {
	Name   string // the Process's name
	PID    int
	Code   int    // Python's exitcode: the exit status, or minus the signal
	Status string // how it ended: "exit status 3", "killed by SIGKILL"
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("pool: process %s (pid %d) ended before its function returned: %s", e.Name, e.PID, e.Status)
}

// Unwrap makes errors.Is(err, ErrWorkerDied) true.
func (e *ExitError) Unwrap() error { return ErrWorkerDied }
