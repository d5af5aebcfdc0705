//go:build linux

package posixsem

import (
	"fmt"
	"io/fs"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/segment"
)

// Inspect reads the semaphore file Dir/file ("sem.NAME") without opening it
// for use: no flock is taken (so it never keeps the file alive or blocks a
// sweeper), nothing is written, and the file is read through a read-only
// mapping of exactly its validated size, with the data word loaded
// atomically. A file that shrinks under the read, or holds anything but a
// semaphore, gives an error, never a crash. Missing files wrap
// fs.ErrNotExist; damaged or foreign-format files wrap layout.ErrCorrupt.
func Inspect(file string) (Info, error) {
	path := segment.Path(file)
	fail := func(err error) (Info, error) {
		return Info{}, &fs.PathError{Op: "inspect", Path: path, Err: err}
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		switch err {
		case unix.ENOENT:
			return fail(fs.ErrNotExist)
		case unix.EACCES, unix.EPERM:
			return fail(fs.ErrPermission)
		}
		return fail(err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fail(fmt.Errorf("%w: not a regular file", layout.ErrCorrupt))
	}
	if st.Size != Size && st.Size != FileSize {
		return fail(fmt.Errorf("%w: %d bytes; a glibc sem_t is %d and a multiproc semaphore %d", layout.ErrCorrupt, st.Size, Size, FileSize))
	}
	m, err := unix.Mmap(fd, 0, int(st.Size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return fail(err)
	}
	defer unix.Munmap(m)
	snap, err := snapshot(file, m)
	if err != nil {
		return fail(err)
	}
	info, err := Parse(snap)
	if err != nil {
		return fail(err)
	}
	return info, nil
}

// snapshot copies a mapped semaphore file (Dir/file), loading the data word
// atomically. If the file was truncated after its size was checked, the
// read faults (SIGBUS); segment.Guard makes that an error wrapping
// segment.ErrTruncated.
func snapshot(file string, m []byte) (b []byte, err error) {
	err = segment.Guard(file, func() error {
		b = make([]byte, len(m))
		copy(b, m)
		d := atomic.LoadUint64((*uint64)(unsafe.Pointer(&m[0])))
		for i := 0; i < 8; i++ {
			b[i] = byte(d >> (8 * i))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Snapshot is snapshot for a mapping the caller holds (sem's Open): a copy
// with the data word loaded atomically, ready for Parse.
func Snapshot(file string, m []byte) ([]byte, error) { return snapshot(file, m) }
