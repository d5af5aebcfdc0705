// Package holders answers, from the kernel's flock table, whether any
// process holds an object file open, and removes a file only when nobody
// does.
//
// Every process that has a multiproc object open holds a shared flock on
// its file (package segment takes it at Create and Open); the kernel drops
// it when the process exits, even by SIGKILL. So winning a non-blocking
// exclusive flock proves that nobody holds the file at that instant, and
// removing the name while still holding that lock cannot pull an object
// from under a process that has it open: an opener blocked on its shared
// lock meanwhile finds the name gone once it gets the lock, and retries.
//
// This is a leaf package so that the tracker process (package
// internal/track, which internal/segment imports) decides with exactly the
// code that segment.TryRemoveUnheld uses.
package holders
