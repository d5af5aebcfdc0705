package shmfile

import (
	"io/fs"

	"golang.org/x/sys/unix"
)

// ID identifies one file on the machine: its device and inode. The zero ID
// matches any file.
type ID struct {
	Dev, Ino uint64
}

func (id ID) matches(st *unix.Stat_t) bool {
	return id == ID{} || (id.Dev == st.Dev && id.Ino == st.Ino)
}

// Held reports whether any process holds the file at path (a shared or
// exclusive flock). It takes and drops a non-blocking exclusive lock; it
// never blocks. A missing file is an error wrapping fs.ErrNotExist.
func Held(path string) (bool, error) {
	fd, err := open(path)
	if err != nil {
		return false, err
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

// TryRemove unlinks path only if nobody holds it and, unless want is the
// zero ID, only if path still names the file want identifies. It wins a
// non-blocking exclusive flock, checks that the name still means the locked
// inode, unlinks, and drops the lock. It reports whether it removed the
// file; a missing file, a held one, or one that is not want is (false, nil).
func TryRemove(path string, want ID) (bool, error) {
	fd, err := open(path)
	if err != nil {
		if pe, ok := err.(*fs.PathError); ok && pe.Err == fs.ErrNotExist {
			return false, nil
		}
		return false, err
	}
	defer unix.Close(fd)
	var locked unix.Stat_t
	if err := unix.Fstat(fd, &locked); err != nil {
		return false, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	if !want.matches(&locked) {
		return false, nil
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if err == unix.EWOULDBLOCK {
			return false, nil
		}
		return false, &fs.PathError{Op: "flock", Path: path, Err: err}
	}
	var now unix.Stat_t
	if unix.Lstat(path, &now) != nil || now.Ino != locked.Ino || now.Dev != locked.Dev {
		return false, nil // removed or replaced meanwhile: not ours to touch
	}
	if err := unix.Unlink(path); err != nil {
		if err == unix.ENOENT {
			return false, nil
		}
		return false, &fs.PathError{Op: "unlink", Path: path, Err: err}
	}
	return true, nil
}

// Unlink removes the name path if it still names the file want, whoever
// holds it: processes that have the file open keep it. It checks the name
// under a shared flock of the file it names. A sweeper removes a name only
// under an exclusive one, so while this holds the lock the name cannot be
// swept and given to a newer file between the check and the unlink. A name
// that is gone, or means another file now, is an error wrapping
// fs.ErrNotExist.
func Unlink(path string, want ID) error {
	gone := &fs.PathError{Op: "unlink", Path: path, Err: fs.ErrNotExist}
	fd, err := open(path)
	if err != nil {
		if pe, ok := err.(*fs.PathError); ok && pe.Err == fs.ErrNotExist {
			return gone
		}
		return err
	}
	defer unix.Close(fd)
	if err := flockRetry(fd, unix.LOCK_SH); err != nil {
		return &fs.PathError{Op: "flock", Path: path, Err: err}
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || !want.matches(&st) {
		return gone // someone else's file took the name after ours was removed
	}
	var now unix.Stat_t
	if unix.Lstat(path, &now) != nil || now.Ino != st.Ino || now.Dev != st.Dev {
		return gone
	}
	if err := unix.Unlink(path); err != nil {
		if err == unix.ENOENT {
			return gone
		}
		return &fs.PathError{Op: "unlink", Path: path, Err: err}
	}
	return nil
}

// open opens path for the flock test without following a symlink and
// without blocking on a FIFO someone planted at the name.
func open(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		if err == unix.ENOENT {
			return -1, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
		}
		return -1, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, nil
}

func flockRetry(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if err != unix.EINTR {
			return err
		}
	}
}
