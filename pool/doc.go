// Package pool will hold Queue[T], JoinableQueue[T], Pipe[T], Process and
// Pool (see the design's API contract). It is not built yet: no issue has
// scheduled it, and nothing here is exported until it is real.
package pool
