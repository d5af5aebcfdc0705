//go:build !amd64 && !arm64

package sem

import "golang.org/x/sys/unix"

// pinsThread says whether an RLock holder must stay on its OS thread for
// goroutineID to identify it. Without an assembly getg for this
// architecture the holder is wired to its thread (runtime.LockOSThread)
// while it holds the lock, and the thread id stands for the goroutine.
const pinsThread = true

// goroutineID identifies the calling goroutine while it is wired to its
// thread: one gettid system call.
func goroutineID() int64 { return int64(unix.Gettid()) }
