// Package admin lists, inspects and removes multiproc's objects in
// /dev/shm: the library side of the `multiproc` command (ls, inspect,
// clean, rm), so that programs can check on themselves.
//
//	objs, err := admin.List()           // every multiproc object on the machine
//	info, err := admin.Inspect("jobs")  // one object's live state
//	gone, err := admin.Sweep(admin.SweepOptions{OlderThan: time.Hour})
//
// It is not the resource tracker: that process — started by the first
// object a program creates, ending each object's life as the lifetime rule
// says — lives in internal/track; this package reads what it leaves
// behind (its registries) and cleans up after a tracker that was killed.
//
// # What is ours
//
// Only multiproc's own files are listed or touched, recognised by what they
// say about themselves, never by guessing:
//
//   - typed objects (Lock, RLock, Condition, Event, Barrier, Value, Array,
//     Queue) by their 128-byte header: magic, checksum, version, sizes,
//     read with pread (a file that may not be ours is never mapped);
//   - raw segments by their "user.multiproc" extended attribute, or, where
//     the file system keeps none, by the generated name mpgo_raw_…;
//   - semaphores, /dev/shm/sem.NAME, by the trailer multiproc writes after
//     the glibc sem_t;
//   - tracker registries, mpgo_tracker_…, by their header line.
//
// Anything else — Python's psm_* and sem.mp-*, a C program's semaphores,
// other programs' files — is not listed and is never removed. A file named
// mpgo_… whose header does not validate is listed with its Problem, is
// never removed by Sweep, and is removed by Remove only when forced.
//
// # Leaked
//
// An object is leaked when it is tracked (not Persistent), nobody holds it
// open (no process has a flock on it: the kernel's fact, see
// internal/shmfile), its creator is dead, and no live tracker — nor the
// still-running program of a tracker that was killed — has it registered.
// Sweep removes exactly those, each with a non-blocking exclusive flock so
// that an object somebody opens meanwhile is kept. Persistent objects are
// never leaked: only Remove (`multiproc rm`) removes them.
//
// A side segment, mpgo_qitem_… (an item too large for its queue's or
// pipe's ring), lives as long as its owner, which Remove and Sweep remove
// it with. It is leaked once its owner is gone — no file of that name and
// inode, and no process mapping the removed file (read from /proc/PID/maps)
// — and nobody holds it: what a queue's last holder leaves when it is
// killed before its Close. Where some process's maps cannot be read (another
// user's, a non-dumpable one, /proc with hidepid, a sandbox's pid 1), no
// side segment is called leaked: that process might map its owner.
//
// # Caveats
//
//   - "Held" sees processes that opened the object through multiproc (Go),
//     which hold a shared flock. A C program or Python process using a
//     semaphore or segment holds no flock and is invisible here.
//   - Creator liveness is that of the caller's pid namespace.
//   - On kernels whose tmpfs keeps no user xattrs (before Linux 6.6), a raw
//     segment carries no creator, so it is never called leaked.
package admin
