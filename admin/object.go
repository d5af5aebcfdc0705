package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/posixsem"
	"github.com/multiproc/multiproc/internal/proc"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/shmfile"
	"github.com/multiproc/multiproc/internal/track"
	"golang.org/x/sys/unix"
)

// KindTracker is the Kind of a tracker's registry file.
const KindTracker = "tracker"

// Object is one multiproc object in /dev/shm as List sees it.
type Object struct {
	Name string `json:"name"` // file name in /dev/shm: "mpgo_lock_…", "jobs", "sem.jobs"
	// Kind is what the object is: "Lock", "RLock", "Condition", "Event",
	// "Semaphore", "BoundedSemaphore", "Barrier", "Value", "Array",
	// "Queue", "raw segment", or KindTracker for a tracker's registry.
	Kind string `json:"kind"`
	Size int64  `json:"size"` // file size in bytes
	UID  int    `json:"uid"`  // owner

	// CreatorPID is the process that created the object (for a registry,
	// the tracker process); 0 when the object does not say.
	CreatorPID   int           `json:"creator_pid"`
	CreatorAlive bool          `json:"creator_alive"` // that very process (pid and start time, proc.AliveID) still runs
	Created      time.Time     `json:"created"`       // from the object's header or metadata, else the file's birth
	Age          time.Duration `json:"-"`             // JSON: age_seconds

	Held       bool `json:"held"`       // some process holds it open (a flock), right now
	Persistent bool `json:"persistent"` // made Persistent: never tracked, never swept
	Tracked    bool `json:"tracked"`    // not Persistent: removed by its tracker, or swept once leaked
	Watched    bool `json:"watched"`    // registered with a live tracker, or with a killed one whose program still runs
	Leaked     bool `json:"leaked"`     // see the package documentation; Sweep removes it

	// Problem says why the object could not be read fully (a damaged
	// header, a file of another user); empty when all is well.
	Problem string `json:"problem,omitempty"`

	dev, ino uint64
	creator  proc.ID
	kind     layout.Kind // what Kind says, for code; 0 for a registry or an unknown kind
	isReg    bool        // a tracker's registry (Kind is KindTracker)
}

// MarshalJSON adds age_seconds to the fields.
func (o Object) MarshalJSON() ([]byte, error) {
	type plain Object
	return json.Marshal(struct {
		plain
		AgeSeconds float64 `json:"age_seconds"`
	}{plain(o), o.Age.Seconds()})
}

// List returns every multiproc object in /dev/shm, sorted by name. Files
// that are not multiproc's are left out (see the package documentation).
func List() ([]Object, error) {
	es, err := os.ReadDir(segment.Dir)
	if err != nil {
		return nil, err
	}
	watched := watchedSet()
	var objs []Object
	for _, e := range es {
		o, err := classify(e.Name())
		if err != nil {
			continue // vanished, or not ours
		}
		finish(&o, watched)
		objs = append(objs, o)
	}
	owners := sideOwners(es)
	for i := range objs {
		markOrphan(&objs[i], owners)
	}
	slices.SortFunc(objs, func(a, b Object) int { return strings.Compare(a.Name, b.Name) })
	return objs, nil
}

// sideOwners is the set of side-segment prefixes (shmfile.SidePrefix) of
// the objects that may still own side segments: the files in es, and
// those removed but still mapped by a process.
// It is nil when some process's maps could not be read: then no side
// segment can be shown to be an orphan.
func sideOwners(es []os.DirEntry) map[string]bool {
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = e.Name()
	}
	owners, complete := shmfile.SideOwners(names)
	if !complete {
		return nil
	}
	return owners
}

// markOrphan makes a side segment (an item too large for its queue's or
// pipe's ring, which lives as long as that owner) leaked once its owner is
// gone — no file and no mapping — and nobody holds it: what the owner's
// last holder leaves if it is killed before its Close.
func markOrphan(o *Object, owners map[string]bool) {
	if !shmfile.IsSide(o.Name) || o.Held || o.Problem != "" || owners == nil {
		return
	}
	if !owners[shmfile.SideOf(o.Name)] {
		o.Leaked = true
	}
}

// find is List for one file name: an error wrapping fs.ErrNotExist if there
// is no such file, ErrNotOurs if it is not a multiproc object.
func find(file string) (Object, error) {
	o, err := classify(file)
	if err != nil {
		return o, err
	}
	finish(&o, watchedSet())
	if shmfile.IsSide(file) {
		if es, err := os.ReadDir(segment.Dir); err == nil {
			markOrphan(&o, sideOwners(es))
		}
	}
	return o, nil
}

// finish fills in what depends on other files and processes.
func finish(o *Object, watched map[string][]uint64) {
	if held, err := segment.Held(o.Name); err == nil {
		o.Held = held
	}
	if o.CreatorPID > 0 {
		o.CreatorAlive = proc.AliveID(o.creator)
	}
	if !o.Created.IsZero() {
		o.Age = time.Since(o.Created).Truncate(time.Second)
	}
	if o.isReg {
		o.Leaked = !o.Held && o.Problem == "" && !o.Watched
		return
	}
	o.Tracked = !o.Persistent
	o.Watched = slices.Contains(watched[o.Name], o.ino)
	o.Leaked = o.Tracked && !o.Held && !o.Watched && o.CreatorPID > 0 && !o.CreatorAlive && o.Problem == ""
}

// watchedSet maps each file name registered with a live tracker (or a
// killed one whose program still runs) to the inodes registered.
func watchedSet() map[string][]uint64 {
	es, _ := os.ReadDir(segment.Dir)
	w := map[string][]uint64{}
	for _, e := range es {
		if !track.IsRegistry(e.Name()) {
			continue
		}
		r, err := track.ReadRegistry(e.Name())
		if err != nil {
			continue
		}
		if held, err := segment.Held(e.Name()); err != nil || (!held && !proc.AliveID(r.Program)) {
			continue
		}
		for _, en := range r.Entries {
			w[en.File] = append(w[en.File], en.Ino)
		}
	}
	return w
}

// classify reads what file says about itself. It returns an error wrapping
// fs.ErrNotExist for a missing file and ErrNotOurs for a file that is not
// a multiproc object.
func classify(file string) (Object, error) {
	p := segment.Path(file)
	o := Object{Name: file}
	var sx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS|unix.STATX_BTIME, &sx); err != nil {
		if err == unix.ENOENT {
			return o, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
		}
		return o, &fs.PathError{Op: "stat", Path: p, Err: err}
	}
	if sx.Mode&unix.S_IFMT != unix.S_IFREG {
		return o, &fs.PathError{Op: "inspect", Path: p, Err: fmt.Errorf("%w (not a regular file)", ErrNotOurs)}
	}
	o.Size, o.UID = int64(sx.Size), int(sx.Uid)
	o.dev, o.ino = unix.Mkdev(sx.Dev_major, sx.Dev_minor), sx.Ino
	if sx.Mask&unix.STATX_BTIME != 0 {
		o.Created = time.Unix(sx.Btime.Sec, int64(sx.Btime.Nsec))
	}
	var ok bool
	switch {
	case track.IsRegistry(file):
		ok = o.registry()
	case strings.HasPrefix(file, "sem."):
		ok = o.semaphore()
	case shmfile.IsSide(file):
		// An item too large for its queue's ring: raw bytes with no header,
		// living as long as its owner (markOrphan says when that is over).
		o.setKind(layout.KindRaw)
		ok = true
	default:
		ok = o.typed() || o.raw()
		if !ok && strings.HasPrefix(file, segment.GeneratedPrefix) {
			ok = true // ours by name, but it does not say what it is
			if o.Problem == "" {
				o.Problem = "no multiproc header or metadata"
			}
			if strings.HasPrefix(file, segment.GeneratedPrefix+"raw_") {
				o.setKind(layout.KindRaw) // a raw segment where tmpfs keeps no xattrs
				o.Problem = ""
			}
		}
	}
	if !ok {
		return o, &fs.PathError{Op: "inspect", Path: p, Err: ErrNotOurs}
	}
	if o.Kind == "" {
		o.Kind = "unknown"
	}
	return o, nil
}

// typed reads the header with pread; it never maps the file.
func (o *Object) typed() bool {
	head, err := readHead(o.Name, layout.HeaderSize)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			o.Problem = "permission denied: owned by uid " + fmt.Sprint(o.UID)
		}
		return false
	}
	h, err := layout.DecodeHead(head, o.Size)
	if err != nil {
		if len(head) >= 8 && [8]byte(head[:8]) == layout.Magic {
			o.Problem = err.Error() // our magic, damaged header: ours, say what is wrong
			return true
		}
		o.Problem = err.Error()
		return false
	}
	o.setKind(h.Kind)
	o.Persistent = h.Flags&layout.FlagPersistent != 0
	o.setCreator(int(h.CreatorPID), h.CreatorStart, h.Created)
	return true
}

// raw reads the metadata attribute of a headerless segment.
func (o *Object) raw() bool {
	m, err := segment.ReadMeta(o.Name)
	if err != nil || m.Kind != "raw" {
		return false
	}
	o.setKind(layout.KindRaw)
	o.Problem = ""
	o.Persistent = m.Persistent
	o.setCreator(m.PID, m.Start, m.Created)
	return true
}

// semaphore reads the sem_t and its trailer; a file without our trailer is
// someone else's semaphore.
func (o *Object) semaphore() bool {
	info, err := posixsem.Inspect(o.Name)
	if err == nil && !info.Foreign {
		o.setKind(info.Kind)
		o.Persistent = info.Persistent()
		o.setCreator(int(info.Trailer.CreatorPID), info.Trailer.CreatorStart, info.Trailer.Created)
		return true
	}
	if strings.HasPrefix(o.Name, "sem."+segment.GeneratedPrefix) {
		o.setKind(layout.KindSemaphore)
		if err != nil {
			o.Problem = err.Error()
		} else {
			o.Problem = "no multiproc trailer"
		}
		return true
	}
	return false
}

// registry reads a tracker's registry file.
func (o *Object) registry() bool {
	o.Kind, o.isReg = KindTracker, true
	r, err := track.ReadRegistry(o.Name)
	if err != nil {
		o.Problem = err.Error()
		return true // named like ours: listed, never swept
	}
	o.creator = r.Tracker
	o.CreatorPID = r.Tracker.PID
	o.Watched = proc.AliveID(r.Program) // a killed tracker's program may still run
	return true
}

// setKind records what the object is, for code and for people.
func (o *Object) setKind(k layout.Kind) { o.kind, o.Kind = k, k.String() }

func (o *Object) setCreator(pid int, start uint64, created int64) {
	o.CreatorPID, o.creator = pid, proc.ID{PID: pid, Start: start}
	if created > 0 {
		o.Created = time.Unix(0, created)
	}
}

// readHead reads up to n bytes from the start of Dir/file with pread.
func readHead(file string, n int) ([]byte, error) {
	p := segment.Path(file)
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		if err == unix.EACCES || err == unix.EPERM {
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
		}
		return nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	defer unix.Close(fd)
	b := make([]byte, n)
	got, err := unix.Pread(fd, b, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: p, Err: err}
	}
	return b[:got], nil
}
