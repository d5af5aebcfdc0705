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
// # Caveats
//
//   - Bytes is only valid until Close; touching it afterwards faults.
//   - A segment's size is fixed at creation; Size is the file size, which
//     for segments Python made on Linux is exactly the size asked for.
//   - Segments on a PID- or user-namespace boundary work as memory, but the
//     liveness facts the tools show are those of the caller's namespace.
package shm
