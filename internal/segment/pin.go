package segment

import "sync"

// Pinning: for handles that give their users the mapped memory itself
// (shm.Segment's Bytes, Array's Slice, Value's Pointer), whose users keep
// a slice or a pointer and may drop the handle. The garbage collector does
// not see a pointer into the mapping (see the close contract), so an
// unreachable handle's File would be released and unmapped under a slice
// still in use: a fault, at a moment the garbage collector chooses. Such a
// handle pins its File from open to Close, as the memory's promise reads
// ("valid until Close"); after Close the File is released when it becomes
// unreachable, as every other. A pinned File dropped without Close stays
// mapped and held until the process exits, as an mmap without munmap does.

var pinned struct {
	sync.Mutex
	files map[*File]struct{}
}

// Pin keeps f reachable, and so mapped and open, until Unpin.
func (f *File) Pin() {
	pinned.Lock()
	defer pinned.Unlock()
	if pinned.files == nil {
		pinned.files = make(map[*File]struct{})
	}
	pinned.files[f] = struct{}{}
}

// Unpin ends Pin; f is then released once unreachable. Unpin of a File
// that is not pinned does nothing.
func (f *File) Unpin() {
	pinned.Lock()
	defer pinned.Unlock()
	delete(pinned.files, f)
}
