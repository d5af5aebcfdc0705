// Package pool gives Go programs what Python's multiprocessing gives Python
// programs above the primitives: Queue[T], JoinableQueue[T] and Pipe[T]
// between processes, Process for running a registered function in a child,
// and Pool for mapping one over many worker processes.
//
// (Being built: issues 10 and 11. This comment becomes the package's
// data-flow picture and state tables when the Pool lands.)
package pool
