// Package ring is the shared-memory protocol behind pool.Queue and
// pool.Pipe: a ring of length-prefixed records in one mapped segment,
// written and read by any number of processes, that a process killed at
// any instruction cannot corrupt.
//
// It knows bytes, not items: the pool package encodes items (internal/codec)
// and hands records to a Queue or a Pipe here. The tracker and the CLI read
// a ring's depth, capacity and state through Inspect without importing
// process management.
//
// A Queue is many producers and many consumers (MPMC); a Pipe is one
// producer and one consumer per direction (SPSC), cheaper: no lock at all.
// Both wait on the one waiting core (internal/wait).
//
// # Caveats
//
//   - Records larger than a quarter of the ring are not copied through it:
//     the caller carries them in a side segment and puts a reference (the
//     pool package does this).
//   - A process killed after taking a record but before it used it loses
//     that record: it was taken exactly once, by a process that is gone.
//   - A joinable queue counts, per consumer process, the records it took
//     and has not marked done (join.go). TaskDone carries no record: a
//     TaskDone from a process that took nothing is charged to a dead
//     holder, or to the only holder; with two or more live holders it is
//     charged to the next that dies, so its give-up may come short and the
//     rest with a later death. Counts never go negative, a TaskDone up to
//     the number put never fails, and a give-up never takes more than is
//     taken, unfinished and no other holder's. TaskDone takes consLock.
package ring
