// Package proctest runs test roles in real child processes: the test binary
// re-executed in a role by internal/reexec, as the tracker and pool
// workers are.
//
// A test package registers its roles and hands control to Main from TestMain:
//
//	func TestMain(m *testing.M) {
//		proctest.Register("incr", incrRole)
//		proctest.Main(m)
//	}
//
// Main dispatches every role the binary registers (reexec.Dispatch), the
// library's too, so a test binary whose tests start pool Processes or
// Pools needs nothing more; pool's own tests call pool.Init() and then
// proctest.Main(m), which is the same dispatch twice, harmlessly.
//
// Start runs a role in one child, Run in n children; a child's stdout is
// read line by line so a test can wait for a cue ("holding") and SIGKILL the
// child at exactly that moment.
//
// Deadlines come from the test's own (go test -timeout, less a margin for
// cleanups), never from constants: a child's Deadline and ChildContext end
// a little before it, so a role's blocking calls fail in time to be
// reported; the parent's Wait and WaitLine give up at it. A child still
// running when it passes — the parent waiting on it, on something else, or
// hung itself — is stopped by a watchdog with reexec's stop sequence, asked
// with SIGQUIT, and its goroutines are printed on the test binary's
// stderr, so a hang names itself before the test binary's timeout ends the
// run. A child still running at the end of its test is dumped the same
// way, and the test fails.
//
// Children are clients of the parent's resource tracker (track.Inherit),
// as pool workers are: objects a child creates end as the test binary's
// do (made without a name, when the child exits; named ones, with the
// test binary). StartProgram instead runs a child as a program of its
// own, in its own process group and with its own tracker, for tests of
// what happens when a whole program dies (KillGroup).
//
// CheckShm snapshots /dev/shm and fails the test if it does not end as it
// started.
package proctest
