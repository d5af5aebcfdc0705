// Package semlink lets packages that embed a lock record in their own
// segment (value, array, and any later typed object) hand it to their users
// as a *sem.Lock or *sem.RLock, without sem exporting a constructor that
// takes internal types.
//
// Package sem fills in the two functions in its init. A caller imports sem
// (for the type, which also guarantees the init has run) and asserts:
//
//	l := semlink.WrapLock(obj.File, layout.KindValue, off).(*sem.Lock)
//	r := semlink.WrapRLock(obj.File, layout.KindValue, off).(*sem.RLock)
//
// f is the object's open file, kind the object's kind (stored by a
// Condition made on the lock, so that OpenCondition can reopen it by name),
// and off the byte offset of the robust.RecordSize-byte record in the file
// (a multiple of 8). The returned lock borrows f: its Close does not close
// f, and its Unlink refuses (the object's owner removes the object). Several
// wraps of the same record share one lock in the process.
package semlink
