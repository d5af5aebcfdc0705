package shm

import (
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/proc"
	"github.com/multiproc/multiproc/internal/segment"
)

// A Segment is a named shared-memory segment mapped into this process.
// Its methods are safe for concurrent use; the bytes themselves are
// shared memory, synchronised only as the caller arranges.
type Segment struct {
	file       *segment.File
	persistent bool

	mu     sync.Mutex
	closed bool
}

// Create makes a new segment of size bytes, zero-filled, and maps it. An
// empty name generates a unique one ("mpgo_raw_…"); otherwise name follows
// Python's forms ("x" or "/x" is /dev/shm/x). It fails with an error
// wrapping fs.ErrExist when the name is taken, ErrInvalidName for a bad
// name, ErrInvalidArgument for a size that is not positive, and ErrNoSpace
// when /dev/shm cannot hold size bytes.
func Create(name string, size int, opts ...Option) (*Segment, error) {
	s, err := create(name, size, opts)
	switch {
	case err == nil:
		return s, nil
	case name == "":
		return nil, failf("Create", err)
	}
	return nil, failf("Create "+name, err)
}

func create(name string, size int, opts []Option) (*Segment, error) {
	o := collect(opts)
	o.Name = name
	file, err := o.FileName(layout.KindRaw.ShortName(), "")
	if err != nil {
		return nil, err
	}
	if size <= 0 {
		return nil, &fs.PathError{Op: "create", Path: segment.Path(file), Err: fmt.Errorf("%w: size %d: a segment needs at least one byte", ErrInvalidArgument, size)}
	}
	me := proc.Self()
	f, err := segment.Create(file, size, segment.CreateOptions{Mode: o.Mode, Kind: layout.KindRaw, Lifetime: o.Lifetime(layout.KindRaw)}, nil)
	if err != nil {
		return nil, err
	}
	// Best effort: tmpfs without user xattrs still gets a working segment.
	_ = segment.SetMeta(f.Fd(), segment.Meta{Kind: "raw", PID: me.PID, Start: me.Start, Created: time.Now().UnixNano(), Persistent: o.Persistent})
	f.Pin() // Bytes is valid until Close, whoever keeps the Segment
	return &Segment{file: f, persistent: o.Persistent}, nil
}

// Open maps the existing segment name, made by this library, by Python's
// SharedMemory, or by anyone else's shm_open. A missing name is an error
// wrapping fs.ErrNotExist; a symbolic link planted at the name is refused.
func Open(name string, opts ...Option) (*Segment, error) {
	o := collect(opts)
	file, err := segment.CleanName(name, "")
	if err != nil {
		return nil, failf("Open "+name, err)
	}
	f, err := segment.Open(file, o.Open())
	if err != nil {
		return nil, failf("Open "+name, err)
	}
	f.Pin() // Bytes is valid until Close, whoever keeps the Segment
	return &Segment{file: f}, nil
}

// Name returns the segment's name without the leading slash, as Python's
// SharedMemory.name does.
func (s *Segment) Name() string { return s.file.Name }

// Bytes returns the shared memory. The slice is valid until Close, even if
// the Segment itself is no longer referenced: a Segment dropped without
// Close stays mapped (and counts as holding the segment) until the process
// exits.
func (s *Segment) Bytes() []byte { return s.file.Bytes() }

// Size returns the segment's size in bytes.
func (s *Segment) Size() int { return s.file.Size() }

// Close unmaps the segment in this process (as Python's SharedMemory.close
// does: the slice from Bytes must not be used afterwards) and drops this
// process's hold on it. The segment itself lives on until it is unlinked,
// or removed by the tracker at the program's end (see the package
// documentation). Close is idempotent.
func (s *Segment) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.file.Unpin()
	err := s.file.Close()
	if uerr := s.file.Unmap(); err == nil {
		err = uerr
	}
	if err != nil {
		return failf("Close of "+s.file.Name, err)
	}
	return nil
}

// Unlink removes the segment's name, so no new process can open it;
// processes that have it mapped keep using it until they Close. It works
// before or after Close, and removes the name only while it still means this
// segment (not a newer one that took the same name).
func (s *Segment) Unlink() error {
	if err := s.file.Unlink(); err != nil {
		return failf("Unlink of "+s.file.Name, err)
	}
	return nil
}

// Unlink removes the segment called name. A missing name is an error
// wrapping fs.ErrNotExist.
func Unlink(name string) error {
	file, err := segment.CleanName(name, "")
	if err != nil {
		return failf("Unlink "+name, err)
	}
	if err := segment.Unlink(file); err != nil {
		return failf("Unlink "+name, err)
	}
	return nil
}
