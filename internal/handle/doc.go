// Package handle holds the two small process-local helpers that every
// handle on a shared object needs: a Guard that keeps the mapping alive
// while goroutines use it, and a Gate that lets one goroutine of a handle at
// a time sleep in the kernel while the others park in the Go scheduler.
package handle
