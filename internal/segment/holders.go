package segment

import (
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// Held reports whether any process holds Dir/file open through this package
// (a shared flock). It takes and drops a non-blocking exclusive lock; it
// never blocks.
func Held(file string) (bool, error) {
	path := Path(file)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		if err == unix.ENOENT {
			return false, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
		}
		return false, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	switch err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err {
	case nil:
		return false, nil
	case unix.EWOULDBLOCK:
		return true, nil
	default:
		return false, &fs.PathError{Op: "flock", Path: path, Err: err}
	}
}

// TryRemoveUnheld unlinks Dir/file only if nobody holds it: it wins a
// non-blocking exclusive flock, checks the name still means the locked
// inode, unlinks, and drops the lock. It reports whether it removed the
// file. An opener blocked on its shared lock meanwhile sees the name gone
// and retries (see Open), so nobody keeps using a removed object unawares.
func TryRemoveUnheld(file string) (bool, error) {
	path := Path(file)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		if err == unix.ENOENT {
			return false, nil
		}
		return false, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if err == unix.EWOULDBLOCK {
			return false, nil
		}
		return false, &fs.PathError{Op: "flock", Path: path, Err: err}
	}
	var a, b unix.Stat_t
	if unix.Fstat(fd, &a) != nil || unix.Stat(path, &b) != nil || a.Ino != b.Ino || a.Dev != b.Dev {
		return false, nil
	}
	if err := os.Remove(path); err != nil {
		return false, err
	}
	return true, nil
}
