// Package hardening holds the suites that attack the primitives from
// outside, as an adversary or a crash would, across every kind of object:
// it has no API, only tests.
//
//   - Chaos (go test -run Chaos ./...): for each kind, worker processes
//     loop on the object while the test SIGKILLs one at a random point,
//     again and again, and checks after every kill that the survivors go on
//     (no deadlock), that an exact journal of what was committed agrees
//     with the object, that nothing torn is visible, and that each death
//     was reported with the right error. A few seconds per kind by default;
//     MULTIPROC_CHAOS_KILLS=1000 makes that many kills per kind.
//   - Load (go test -run Load ./internal/hardening): many processes on one
//     Lock (exact count, throughput, worst single wait), and many objects
//     of every kind created and destroyed with no growth in open files, OS
//     threads or mappings. Small by default; MULTIPROC_LOAD=long runs the
//     full sizes (64 processes for 10 s, 10,000 objects per kind).
//   - Pid reuse (go test -run PidReused ./internal/hardening, as root): a
//     lock holder's pid reused at once, through ns_last_pid, by a process
//     started in the same clock tick; a fresh waiter must take the lock over.
//   - Truncation (go test -run Truncat ./internal/hardening): every kind's
//     file cut at offsets in its header and in its own part of the payload,
//     before Open and while Open validates it (through segment's test
//     hooks): an error, never a fault, to Open, ls, inspect, clean and the
//     tracker; and a handle's fault recoverable with SetPanicOnFault.
//   - Security (go test -run Security ./internal/hardening): file modes
//     under any umask, files owned by others, planted symbolic links, names
//     that try to leave /dev/shm, headers that lie about sizes, and lock
//     words forged to name a live unrelated process.
//
// The fuzz targets live beside the formats they parse (internal/layout,
// internal/shmfile, internal/posixsem, barrier, internal/ring,
// internal/codec), each with a committed seed corpus. FIGURES.md has the
// long runs' figures and the commands that made them.
package hardening
