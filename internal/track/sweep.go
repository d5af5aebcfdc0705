package track

import (
	"io/fs"
	"os"
	"strconv"

	"github.com/multiproc/multiproc/internal/proc"
	"github.com/multiproc/multiproc/internal/shmfile"
	"golang.org/x/sys/unix"
)

func quote(s string) string { return strconv.Quote(s) }

// sweepOrphans sweeps every registry but own whose tracker is gone.
func sweepOrphans(own string) {
	es, err := os.ReadDir(shmfile.Dir)
	if err != nil {
		return
	}
	for _, e := range es {
		if IsRegistry(e.Name()) && e.Name() != own {
			SweepRegistry(e.Name(), nil)
		}
	}
}

// SweepRegistry cleans up after a tracker that was killed. It takes the
// registry's exclusive flock without waiting — so its tracker is gone and
// no other sweeper is at work — and, if the program that started that
// tracker is dead too, removes each object the registry lists that
//
//   - was made by a process that is dead,
//   - is still the very file registered (same device and inode) and is
//     owned by us,
//   - nobody holds (shmfile.TryRemove: the flock rule), and
//   - approve, unless nil, accepts.
//
// Once none of the objects it lists is left, it removes the registry. It
// returns the entries it removed. A registry whose tracker or program is
// alive is left alone, as is one that is not ours.
func SweepRegistry(file string, approve func(Entry) bool) ([]Entry, error) {
	p := shmfile.Path(file)
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		if err == unix.ENOENT {
			return nil, nil
		}
		return nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if err == unix.EWOULDBLOCK {
			return nil, nil // its tracker is alive, or another sweeper is here
		}
		return nil, &fs.PathError{Op: "flock", Path: p, Err: err}
	}
	var locked, now unix.Stat_t
	if unix.Fstat(fd, &locked) != nil || unix.Lstat(p, &now) != nil || now.Ino != locked.Ino || now.Dev != locked.Dev {
		return nil, nil // removed or replaced meanwhile
	}
	uid := uint32(os.Geteuid())
	if locked.Uid != uid {
		return nil, nil
	}
	reg, err := readRegistry(f, file)
	if err != nil {
		return nil, err
	}
	if proc.AliveID(reg.Program) {
		return nil, nil // the program runs on without its tracker: its objects are its own
	}
	var removed []Entry
	left := 0
	for _, e := range reg.Entries {
		var st unix.Stat_t
		if unix.Lstat(shmfile.Path(e.File), &st) != nil || st.Dev != e.Dev || st.Ino != e.Ino {
			continue // gone, or the name means another file now
		}
		if st.Uid != uid || proc.Alive(e.PID, proc.StartTag(uint64(e.Start32))) || (approve != nil && !approve(e)) {
			left++
			continue
		}
		ok, err := shmfile.TryRemove(shmfile.Path(e.File), e.id())
		switch {
		case ok:
			removeSides(e)
			removed = append(removed, e)
		case err != nil || isFile(e):
			left++
		}
	}
	if left == 0 {
		unix.Unlink(p) // we hold its lock and it is still this file
	}
	return removed, nil
}
