package admin

import (
	"fmt"
	"io/fs"
	"time"

	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/shmfile"
	"github.com/multiproc/multiproc/internal/track"
	"golang.org/x/sys/unix"
)

// Remove removes the object name (any form Inspect accepts), Persistent
// or not, and returns what it was. It refuses, with the object unchanged:
//
//   - a file that is not multiproc's: ErrNotOurs, even with force;
//   - an object some process holds open: ErrHeld, unless force (processes
//     that have it mapped keep using their mapping; new opens fail);
//   - a file named like ours that does not validate: ErrDamaged, unless
//     force.
//
// Without force the object is removed under a non-blocking exclusive flock
// (segment.TryRemoveUnheldID), so one that somebody opens meanwhile is
// kept. A missing name is an error wrapping fs.ErrNotExist.
func Remove(name string, force bool) (Object, error) {
	file, err := fileName(name)
	if err != nil {
		return Object{}, err
	}
	o, err := find(file)
	if err != nil {
		return o, err
	}
	path := segment.Path(file)
	refuse := func(err error, why string) (Object, error) {
		return o, &fs.PathError{Op: "remove", Path: path, Err: fmt.Errorf("%w%s", err, why)}
	}
	switch {
	case o.Problem != "" && !force:
		return refuse(ErrDamaged, " ("+o.Problem+")")
	case o.Held && !force:
		return refuse(ErrHeld, "")
	case force:
		// Unheld, it goes under an exclusive flock (nobody can open it
		// meanwhile), and a queue's side segments with it; held, only the
		// name goes, and its last holder's Close removes those.
		if removed, err := segment.TryRemoveUnheldID(file, o.dev, o.ino); err == nil && removed {
			removeSides(o)
			return o, nil
		}
		if err := unlinkIf(file, o.dev, o.ino); err != nil {
			return o, err
		}
		return o, nil
	}
	removed, err := segment.TryRemoveUnheldID(file, o.dev, o.ino)
	if err != nil {
		return o, err
	}
	if removed {
		removeSides(o)
	}
	if !removed {
		if _, err := classify(file); err != nil {
			return o, err // gone meanwhile
		}
		return refuse(ErrHeld, "")
	}
	return o, nil
}

// unlinkIf unlinks Dir/file if it is still the file dev/ino.
func unlinkIf(file string, dev, ino uint64) error {
	var st unix.Stat_t
	path := segment.Path(file)
	if err := unix.Lstat(path, &st); err != nil || st.Dev != dev || st.Ino != ino {
		return &fs.PathError{Op: "remove", Path: path, Err: fs.ErrNotExist}
	}
	return segment.Unlink(file)
}

// SweepOptions tunes Sweep.
type SweepOptions struct {
	DryRun    bool          // report what would be removed, remove nothing
	OlderThan time.Duration // only objects at least this old (0: any age)
}

// Sweep removes the leaked objects (see the package documentation): each
// under a non-blocking exclusive flock and only while its name still means
// the file List saw, so an object opened or replaced meanwhile is kept. It
// then removes the registries of killed trackers once nothing they list is
// left. It returns what it removed (or, with DryRun, would remove).
func Sweep(opts SweepOptions) ([]Object, error) {
	objs, err := List()
	if err != nil {
		return nil, err
	}
	var out []Object
	gone := map[string]bool{}
	var errs []error
	for _, o := range objs {
		if !o.Leaked || o.isReg || o.Age < opts.OlderThan {
			continue
		}
		if opts.DryRun {
			out, gone[o.Name] = append(out, o), true
			continue
		}
		removed, err := segment.TryRemoveUnheldID(o.Name, o.dev, o.ino)
		if err != nil {
			errs = append(errs, err)
		}
		if removed {
			out, gone[o.Name] = append(out, o), true
			removeSides(o)
		}
	}
	for _, o := range objs {
		if !o.Leaked || !o.isReg {
			continue
		}
		if opts.DryRun {
			if r, err := track.ReadRegistry(o.Name); err == nil && allGone(r, gone) {
				out = append(out, o)
			}
			continue
		}
		// Whatever the registry still lists was judged above; here it is
		// only removed once none of that is left.
		track.SweepRegistry(o.Name, func(track.Entry) bool { return false })
		if _, err := classify(o.Name); err != nil {
			out = append(out, o)
		}
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("sweep: %d objects could not be removed: %w", len(errs), errs[0])
	}
	return out, nil
}

// allGone reports whether nothing r lists would be left.
func allGone(r track.Registry, gone map[string]bool) bool {
	for _, e := range r.Entries {
		var st unix.Stat_t
		if unix.Lstat(segment.Path(e.File), &st) == nil && st.Dev == e.Dev && st.Ino == e.Ino && !gone[e.File] {
			return false
		}
	}
	return true
}

// removeSides removes, with a queue or a pipe that nobody holds, the side
// segments that carry its items too large for its ring (they live as long
// as it does; one still held is left to its last holder's Close).
func removeSides(o Object) {
	if o.Kind == "Queue" || o.Kind == "Pipe" {
		shmfile.RemoveSides(shmfile.SidePrefix(o.Name, o.ino))
	}
}
