// Command multiproc lists, inspects and removes multiproc's shared objects
// in /dev/shm: segments, locks, semaphores, events, barriers, values,
// arrays, queues, and the registries of the resource trackers.
//
//	go install github.com/multiproc/multiproc/cmd/multiproc@latest
//	go run ./cmd/multiproc ls
//
// Usage:
//
//	multiproc ls [--json]                      every multiproc object on the machine
//	multiproc inspect [--json] NAME            one object's live state
//	multiproc clean [--dry-run] [--older-than AGE] [--json]
//	                                           remove leaked objects
//	multiproc rm [--force] NAME...             remove objects by name
//	multiproc help [COMMAND]                   this text, or a command's
//
// NAME is a file name in /dev/shm as ls prints it ("mpgo_lock_…", "jobs",
// "sem.jobs"); "/jobs" and "/dev/shm/jobs" work too. AGE is a Go duration
// ("90s", "1h30m") or a number of days ("2d"). Flags may come before or
// after the names.
//
// ls prints one line per object: its name, kind, size, creator pid and
// whether that process is alive, whether some process holds it open now,
// its age, how it is tracked (persistent; watched by a running tracker;
// tracked with no tracker left) and whether it is leaked. An object is
// leaked when it is not persistent, nobody holds it, its creator is dead
// and no running tracker will remove it: exactly what clean removes.
// Persistent objects are never leaked; only rm removes them.
//
// Only multiproc's own files are shown or touched, recognised by their
// header, metadata or semaphore trailer (see package admin). Python's
// psm_* and sem.mp-* files, C programs' semaphores and every other file in
// /dev/shm are left alone, even by rm --force.
//
// # Exit status
//
//	0  success (ls and clean also when there is nothing to show or remove)
//	1  an error: a name that does not exist, a file that is not a multiproc
//	   object (inspect, rm), a failed removal, an unreadable /dev/shm
//	2  bad usage: an unknown command or flag, a missing NAME, a bad AGE
//	3  rm refused some objects (held open by a running process, or damaged)
//	   and had no other error; use --force to remove them anyway
//
// Errors go to standard error as "multiproc COMMAND: NAME: reason".
package main
