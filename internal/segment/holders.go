package segment

import "github.com/multiproc/multiproc/internal/shmfile"

// Held reports whether any process holds Dir/file open through this package
// (a shared flock). It takes and drops a non-blocking exclusive lock; it
// never blocks.
func Held(file string) (bool, error) { return shmfile.Held(Path(file)) }

// TryRemoveUnheld unlinks Dir/file only if nobody holds it: it wins a
// non-blocking exclusive flock, checks the name still means the locked
// inode, unlinks, and drops the lock. It reports whether it removed the
// file. An opener blocked on its shared lock meanwhile sees the name gone
// and retries (see Open), so nobody keeps using a removed object unawares.
func TryRemoveUnheld(file string) (bool, error) {
	return shmfile.TryRemove(Path(file), shmfile.ID{})
}

// TryRemoveUnheldID is TryRemoveUnheld for one particular file: it removes
// Dir/file only while that name still means the file with device dev and
// inode ino, so a newer object that took the same name is never removed in
// the old one's place.
func TryRemoveUnheldID(file string, dev, ino uint64) (bool, error) {
	return shmfile.TryRemove(Path(file), shmfile.ID{Dev: dev, Ino: ino})
}
