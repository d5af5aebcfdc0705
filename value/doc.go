// Package value gives one typed value in shared memory, visible to every
// process that opens it by name: the Go form of Python's
// multiprocessing.Value and RawValue, with a type parameter instead of a
// typecode.
//
//	counter, err := value.New[int64](0)           // with its own lock
//	... pass counter.Name() to a worker process ...
//	counter, err := value.Open[int64](name)      // in the worker
//	value.Add(counter, 1)                        // lock-free, integers only
//	counter.Update(func(n *int64) { *n *= 2 })   // any T, under the lock
//
// T is any fixed-size type without pointers: numbers, bool, fixed arrays
// and structs of those. New, NewRaw and Open refuse anything else (string,
// slice, map, pointer, interface, chan, func) with an error naming the
// type. The file's header records T's size and a fingerprint of its
// layout, so Open[int32] on a value created as int64 — or as float64, or as
// a struct of the same size — is refused with an error naming both types.
//
// # What it gives beyond Python
//
//   - Add: an atomic add on the shared word for integer types, no lock at
//     all (Python needs `with v.get_lock(): v.value += 1`).
//   - Load and Store of a value of at most 8 bytes are single atomic
//     instructions, lock-free even on a locked value.
//   - Update runs on a copy and commits it whole: a process killed inside
//     its update loses that update and nothing else. The next Update says
//     so (ErrOwnerDead) and the lock is usable again at once. Python
//     deadlocks for ever when a process dies holding a Value's lock.
//
// # Lifetime
//
// As in Python: a value made without a Name lives while its creator holds
// it. The creator's Close, or its exit, removes the name, silently;
// processes that opened it keep using it, later opens fail with
// fs.ErrNotExist. One given a Name stays until someone calls Unlink, like
// Python's SharedMemory: the resource tracker removes one forgotten at the
// program's end, with one line on stderr saying so. A Persistent one is
// never touched; only Unlink or `multiproc rm` removes it.
//
// # Caveats
//
//   - A goroutine waiting for the value's lock holds an OS thread, and
//     notices a dead holder within the lock's polling interval.
//   - Load and Store on a value over 8 bytes take the lock. It is an RLock,
//     as Python's get_lock() is, so the goroutine holding Lock() may call
//     them (and Update), but only that goroutine: another goroutine of the
//     same process waits, as another process does, and only the goroutine
//     that locked it may unlock it.
//   - Add does not take the lock, so it is not excluded by a critical
//     section of Lock(): mix them only where that is what you mean.
//   - A raw value (NewRaw) has no lock: Update returns ErrNoLock, and Load
//     and Store of a value over 8 bytes may tear under concurrent Stores.
//   - After Close, calls with an error result return ErrClosed and the
//     others panic, and pointers from Pointer must not be used. Until
//     Close they are valid even if the Value itself is dropped (a Value
//     dropped without Close stays mapped until the process exits).
package value
