package segment

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/edsrzf/mmap-go"
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/shmfile"
	"github.com/multiproc/multiproc/internal/track"
	"golang.org/x/sys/unix"
)

// File is one open, mapped object file. It holds a shared flock on the file
// from Create or Open until Close.
//
// # The close contract
//
// Close gives up this process's claim on the object at once: it closes the
// descriptor, and with it the liveness flock, so a sweeper may remove the
// object as soon as no other process holds it. The mapping is not touched
// by Close: it is released when the File becomes unreachable (a cleanup
// registered with runtime.AddCleanup), or by an explicit Unmap. So a
// goroutine still inside a call on a handle when another goroutine closes
// it never touches unmapped memory; the worst it sees is a closed handle.
// Handles keep this promise by holding a reference to their File (directly
// or through the objects they embed) alongside every pointer into the
// mapping, and by keeping the handle alive (runtime.KeepAlive) until their
// last access to it. A pointer into the mapping alone does not keep the
// mapping: the garbage collector does not see it.
type File struct {
	Name    string // file name in Dir, e.g. "mpgo_lock_…" or "sem.foo"
	Created bool   // this File created the object
	Dev     uint64 // device and inode identify the object within the machine
	Ino     uint64
	UID     uint32

	data mmap.MMap
	m    *mapping // shared with the cleanup that unmaps
	fd   *os.File
	life Lifetime // how long the name lives; set by Create

	closeOnce    sync.Once
	closeErr     error
	closeRemoved atomic.Bool // Close removed the name (WhileCreatorHolds)
}

// mapping is what the File's cleanup releases. It must not refer to the
// File, or the File would never become unreachable.
type mapping struct {
	once sync.Once
	data mmap.MMap
	err  error
}

func (m *mapping) unmap() error {
	m.once.Do(func() { m.err = m.data.Unmap() })
	return m.err
}

// newFile returns the File for an open, mapped descriptor, and arranges for
// the mapping to be released once the File is unreachable.
func newFile(name string, data mmap.MMap, fd *os.File) *File {
	f := &File{Name: name, data: data, m: &mapping{data: data}, fd: fd}
	runtime.AddCleanup(f, func(m *mapping) { m.unmap() }, f.m)
	return f
}

// Bytes returns the mapped file contents. They stay mapped until Unmap, or
// until the File is unreachable (see the close contract).
func (f *File) Bytes() []byte { return f.data }

// Size is the file size in bytes.
func (f *File) Size() int { return len(f.data) }

// Path is the file's path.
func (f *File) Path() string { return Path(f.Name) }

// Fd returns the file descriptor (for flock and xattrs).
func (f *File) Fd() int { return int(f.fd.Fd()) }

// testHookAfterLink, when set by a test, runs right after a file is
// published: the moment a creator killed then must not leak it.
var testHookAfterLink func()

// testHookAfterMap, when set by a test, runs right after Open mapped a
// file: the moment a truncation by another process would fault the reads
// that validate it.
var testHookAfterMap func(*File)

// CreateOptions tunes Create.
type CreateOptions struct {
	Mode os.FileMode // permission bits; 0 means 0600
	Kind layout.Kind // what the file holds, for the tracker's messages
	// Lifetime says how long the name lives (see Lifetime). Unless it is
	// Persistent, Create registers the file with the resource tracker
	// before its name is published (track.Register), and takes the
	// registration back if publication fails.
	Lifetime Lifetime
}

// Create makes the file Dir/file of size bytes, calls initialise on its
// mapped bytes, and only then publishes it under its name. It fails with
// an error wrapping fs.ErrExist when the name is taken, and ErrNoSpace when
// /dev/shm cannot hold size bytes.
func Create(file string, size int, opt CreateOptions, initialise func([]byte) error) (*File, error) {
	path := Path(file)
	if size <= 0 {
		return nil, &fs.PathError{Op: "create", Path: path, Err: fmt.Errorf("size %d: must be positive", size)}
	}
	mode := opt.Mode.Perm()
	if mode == 0 {
		mode = 0o600
	}
	fd, err := unix.Open(Dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, uint32(mode))
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: path, Err: err}
	}
	osf := os.NewFile(uintptr(fd), path)
	fail := func(op string, err error) (*File, error) {
		osf.Close()
		return nil, &fs.PathError{Op: op, Path: path, Err: err}
	}
	// umask applied to O_TMPFILE's mode; set exactly what was asked.
	if err := unix.Fchmod(fd, uint32(mode)); err != nil {
		return fail("chmod", err)
	}
	// Hold our liveness lock before the name exists, so no sweeper ever
	// sees the published file unheld.
	if err := flockRetry(fd, unix.LOCK_SH); err != nil {
		return fail("flock", err)
	}
	if err := unix.Fallocate(fd, 0, 0, int64(size)); err != nil {
		if err == unix.ENOSPC || err == unix.EFBIG {
			return fail("create", fmt.Errorf("%w: %d bytes asked, %s free", ErrNoSpace, size, freeSpace()))
		}
		return fail("fallocate", err)
	}
	data, err := mmap.MapRegion(osf, size, mmap.RDWR, 0, 0)
	if err != nil {
		return fail("mmap", err)
	}
	f := newFile(file, data, osf)
	f.Created, f.life = true, opt.Lifetime
	if err := f.stat(); err != nil {
		f.discard()
		return nil, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	if initialise != nil {
		if err := initialise(data); err != nil {
			f.discard()
			return nil, &fs.PathError{Op: "create", Path: path, Err: err}
		}
	}
	if err := unix.Msync(data, unix.MS_SYNC); err != nil {
		// tmpfs: a no-op, kept as the publication barrier in words.
		_ = err
	}
	undo := track.Register(file, shmfile.ID{Dev: f.Dev, Ino: f.Ino}, opt.Kind, opt.Lifetime)
	// Publish: linkat never replaces an existing name.
	err = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		undo()
		f.discard()
		if err == unix.EEXIST {
			return nil, &fs.PathError{Op: "create", Path: path, Err: fs.ErrExist}
		}
		return nil, &fs.PathError{Op: "link", Path: path, Err: err}
	}
	if testHookAfterLink != nil {
		testHookAfterLink()
	}
	return f, nil
}

// OpenOptions tunes Open.
type OpenOptions struct {
	AllowForeignOwner bool // accept a file owned by another user
	MinSize           int  // refuse smaller files (layout.ErrCorrupt)
}

// Open maps the existing file Dir/file. It refuses symlinks, non-regular
// files, files owned by another user (unless allowed) and empty files. A
// missing name is an error wrapping fs.ErrNotExist.
func Open(file string, opt OpenOptions) (*File, error) {
	path := Path(file)
	for attempt := 0; ; attempt++ {
		f, retry, err := openOnce(file, path, opt)
		if retry && attempt < 10 {
			continue
		}
		return f, err
	}
}

func openOnce(file, path string, opt OpenOptions) (f *File, retry bool, err error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		switch err {
		case unix.ENOENT:
			return nil, false, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
		case unix.ELOOP:
			return nil, false, &fs.PathError{Op: "open", Path: path, Err: errors.New("is a symbolic link; refusing to follow it")}
		case unix.EACCES, unix.EPERM:
			return nil, false, &fs.PathError{Op: "open", Path: path, Err: fs.ErrPermission}
		}
		return nil, false, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	osf := os.NewFile(uintptr(fd), path)
	fail := func(err error) (*File, bool, error) {
		osf.Close()
		return nil, false, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fail(errors.New("not a regular file"))
	}
	if st.Uid != uint32(os.Geteuid()) && !opt.AllowForeignOwner {
		return fail(fmt.Errorf("%w (uid %d); opt in to open it", ErrForeignOwner, st.Uid))
	}
	// A sweeper removes a file only while holding it exclusively; once our
	// shared lock is granted, check that the name still means this inode.
	if err := flockRetry(fd, unix.LOCK_SH); err != nil {
		return fail(err)
	}
	var now unix.Stat_t
	if err := unix.Stat(path, &now); err != nil || now.Ino != st.Ino || now.Dev != st.Dev {
		osf.Close()
		if err != nil && err != unix.ENOENT {
			return nil, false, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return nil, true, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
	}
	size := st.Size
	if size < int64(opt.MinSize) { // an empty file too, for an object that has a size
		return fail(fmt.Errorf("%w: %d bytes, too short for this object (needs %d)", layout.ErrCorrupt, size, opt.MinSize))
	}
	if size == 0 {
		return fail(errors.New("empty file"))
	}
	if size > 1<<46 {
		return fail(fmt.Errorf("%d bytes: implausible size", size))
	}
	data, err := mmap.MapRegion(osf, int(size), mmap.RDWR, 0, 0)
	if err != nil {
		return fail(err)
	}
	f = newFile(file, data, osf)
	f.Dev, f.Ino, f.UID = st.Dev, st.Ino, st.Uid
	if testHookAfterMap != nil {
		testHookAfterMap(f)
	}
	return f, false, nil
}

func (f *File) stat() error {
	var st unix.Stat_t
	if err := unix.Fstat(f.Fd(), &st); err != nil {
		return err
	}
	f.Dev, f.Ino, f.UID = st.Dev, st.Ino, st.Uid
	return nil
}

// Close closes the descriptor and so drops the liveness lock: this process
// no longer holds the object. The mapping stays until Unmap or until the
// File is unreachable (see the close contract). Close is idempotent.
//
// The creator's Close of an object that lives while its creator holds it
// (WhileCreatorHolds: made without a Name) also removes its name, silently:
// processes that have it open keep using it, new opens fail with
// fs.ErrNotExist. Every handle's Close reaches here, so this is the one
// place that rule is kept; the creator's exit keeps it too, through the
// tracker.
func (f *File) Close() error {
	f.closeOnce.Do(func() {
		var errs []error
		if f.Created && f.life == WhileCreatorHolds {
			if err := f.Unlink(); err == nil {
				f.closeRemoved.Store(true)
			} else if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		f.closeErr = errors.Join(append(errs, f.release())...)
	})
	return f.closeErr
}

// NameGone reports whether the file's name no longer means this object
// (removed, or given to another file).
func (f *File) NameGone() bool {
	var st unix.Stat_t
	return unix.Lstat(f.Path(), &st) != nil || st.Dev != f.Dev || st.Ino != f.Ino
}

// Probe opens a second open file description of the object, with no lock
// (through /proc/self/fd, which reaches it after its name is gone too), for
// a caller that must learn, after its own Close, whether anyone still
// holds the object (shmfile.LastHolder).
func (f *File) Probe() (*os.File, error) {
	return os.Open("/proc/self/fd/" + strconv.Itoa(f.Fd()))
}

// Release is Close for cleanups that run when a handle has become garbage
// (runtime.AddCleanup), and for Files nobody else has seen: it drops the
// descriptor and the liveness lock, but never removes a name. An object's
// life is ended by its creator's Close or exit, never by the garbage
// collector.
func (f *File) Release() error {
	f.closeOnce.Do(func() { f.closeErr = f.release() })
	return f.closeErr
}

func (f *File) release() error {
	// The mapping holds a reference to the open file description, and a
	// flock lives as long as that does: release it explicitly, or the
	// object would look held until the mapping goes.
	ferr := flockRetry(f.Fd(), unix.LOCK_UN)
	return errors.Join(ferr, f.fd.Close())
}

// discard releases and unmaps a File nobody else has seen (a failed
// Create or Open). It must not end a lifetime: after a failed publication
// the name may be another object's, whose registration undo restored.
func (f *File) discard() {
	f.Release()
	f.Unmap()
}

// Unmap releases the mapping now, for callers that hand the bytes to users
// and promise them that Close ends their use (raw segments). Using Bytes
// afterwards faults. It is idempotent, and may come before or after Close.
func (f *File) Unmap() error { return f.m.unmap() }

// Unlink removes the file's name if it still names this object, and tells
// the tracker it was removed on purpose; mappings stay valid until they are
// closed. It works on a closed File too, and after the Close that already
// removed the name (see Close) it returns nil. Registering (in Create) and
// this are the only places an object's name meets the tracker.
func (f *File) Unlink() error {
	if f.closeRemoved.Load() {
		return nil
	}
	err := shmfile.Unlink(f.Path(), shmfile.ID{Dev: f.Dev, Ino: f.Ino})
	track.Unregister(f.Name)
	return err
}

// Unlink removes Dir/file, whatever file the name means now, and tells the
// tracker it was removed on purpose.
func Unlink(file string) error {
	path := Path(file)
	err := unix.Unlink(path)
	track.Unregister(file)
	switch err {
	case nil:
		return nil
	case unix.ENOENT:
		return &fs.PathError{Op: "unlink", Path: path, Err: fs.ErrNotExist}
	}
	return &fs.PathError{Op: "unlink", Path: path, Err: err}
}

func flockRetry(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if err != unix.EINTR {
			return err
		}
	}
}

func freeSpace() string {
	var s unix.Statfs_t
	if err := unix.Statfs(Dir, &s); err != nil {
		return "unknown"
	}
	return formatBytes(uint64(s.Bavail) * uint64(s.Bsize))
}

func formatBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
