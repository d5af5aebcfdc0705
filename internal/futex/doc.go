// Package futex is a thin layer over the Linux futex(2) system call for
// 32-bit words that live in MAP_SHARED memory.
//
// Every operation is process-shared: FUTEX_PRIVATE_FLAG is never set, so the
// kernel keys a wait by (inode, offset) and processes that map the same file
// at different addresses meet on the same word. A private wait and a shared
// wake never match, which is why this package offers no private form.
//
// In the runtime's words: Wait atomically checks that *addr == val and
// sleeps; it may wake spuriously, so callers always loop and re-check their
// own state.
package futex
