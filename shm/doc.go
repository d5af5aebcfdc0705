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
// Unless made Persistent, a segment this program created is registered with
// the resource tracker, which removes it once every process of the program
// has exited and no other process holds it. Opening does not register:
// attaching to someone else's segment never makes it ours to remove.
//
// # Caveats
//
//   - Bytes is only valid until Close; touching it afterwards faults.
//   - A segment's size is fixed at creation; Size is the file size, which
//     for segments Python made on Linux is exactly the size asked for.
//   - Segments on a PID- or user-namespace boundary work as memory, but the
//     liveness facts the tools show are those of the caller's namespace.
package shm
