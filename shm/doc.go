// Package shm gives named shared-memory segments in /dev/shm: the Go form
// of Python's multiprocessing.shared_memory.SharedMemory.
//
//	seg, err := shm.Create("frames", 1<<20) // or "" for a generated name
//	...
//	other, err := shm.Open("frames")        // in any process
//	copy(other.Bytes(), data)
//
// A segment is raw: no header, so a Python process that opens
// SharedMemory(name="frames") sees exactly the bytes Go sees, and Go opens
// segments that Python made. Names follow Python: "frames" and "/frames"
// both mean /dev/shm/frames.
//
// Creation is atomic (the file is complete before its name appears), never
// replaces an existing name, and reserves its pages at once, so a full
// /dev/shm is an error from Create instead of a SIGBUS later. Every open
// Segment holds a shared flock on its file: that is how the tracker and the
// CLI know, from the kernel, whether anyone still uses it.
//
// # Lifetime
//
// A segment lives as Python's SharedMemory does, whatever its name,
// generated or given: it stays until someone calls Unlink, and Close only
// unmaps it, so a creator may close its segment and let other processes
// open it later. Unless made Persistent, a segment this program created is
// registered with the resource tracker, which removes one still there once
// every process of the program has exited and no other process holds it,
// with one line on stderr saying so: as Python's tracker warns of a
// forgotten unlink(). Opening does not register: attaching to someone
// else's segment never makes it ours to remove. (The objects of the other
// packages, made without a Name, end with their creator instead; see
// package sem.)
//
// # Python attaching removes the segment, unless told not to
//
// Python's SharedMemory(name=...) registers the segment with Python's
// resource tracker even when it only attaches (on 3.13 and later too,
// unless given track=False), and the tracker unlinks
// every registered segment when the Python program ends (CPython
// gh-82300), printing "resource_tracker: There appear to be 1 leaked
// shared_memory objects". So a segment made in Go, attached to by a Python
// worker, loses its name when that worker exits: Go processes that have it
// open keep the memory, but no process can Open it any more. The fix is on
// the Python side, where the segment is attached:
//
//	# Python 3.13 and later
//	shm = shared_memory.SharedMemory(name="frames", track=False)
//
//	# Python 3.8 to 3.12: attach, then take the registration back
//	shm = shared_memory.SharedMemory(name="frames")
//	resource_tracker.unregister(shm._name, "shared_memory")
//
// Nothing on the Go side can prevent or undo it: the unlink is the same
// user's, which /dev/shm's sticky bit allows, and a tmpfs file whose last
// name is gone cannot be linked back, even from a descriptor still open.
// (Keeping a second, hidden name for every segment would let it be
// restored, at the price of twice the names in /dev/shm and a restore
// step someone must remember; the Python line above is simpler.) Segments
// Python creates are the other way round and need nothing: Go's Open never
// registers (opening is not owning).
//
// # Caveats
//
//   - Bytes is only valid until Close; touching it afterwards faults.
//   - A segment's size is fixed at creation; Size is the file size, which
//     for segments Python made on Linux is exactly the size asked for.
//   - Segments on a PID- or user-namespace boundary work as memory, but the
//     liveness facts the tools show are those of the caller's namespace.
package shm
