package shmfile

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Side segments. An item too large for a queue's or a pipe's ring travels
// in a segment of its own, a side segment, whose name the ring's record
// carries. Its life is its owner's (the queue or pipe), not its producer's:
// a producer may put a large item and exit long before a consumer takes it,
// so no tracker removes a side segment when the process that made it ends.
// Instead its name starts with SidePrefix of its owner — the owner's name
// and inode, so a newer object under the same name is another owner — and
// the owner's end removes its side segments (RemoveSides): whoever removes
// the owner's name while nobody holds it (TryRemove: an Unlink after the
// last Close, the tracker, `multiproc rm` or `clean`), or else the last
// holder's Close once the name is gone (LastHolder). A side segment whose
// owner is gone — no file and no process mapping it — is an orphan
// (SideOwners), which `multiproc clean` removes: what a last holder killed
// before its Close leaves.

// sideKind is the kind word of a side segment's name.
const sideKind = "qitem"

// SidePrefix starts the name of every side segment of the object whose
// file is owner, inode ino: "mpgo_qitem_<16 hex digits>_".
func SidePrefix(owner string, ino uint64) string {
	h := fnv.New64a()
	h.Write([]byte(owner))
	h.Write(binary.LittleEndian.AppendUint64([]byte{0}, ino))
	return fmt.Sprintf("%s%s_%016x_", GeneratedPrefix, sideKind, h.Sum64())
}

// GenerateSide returns a fresh name under prefix (a SidePrefix).
func GenerateSide(prefix string) string {
	return prefix + strings.TrimPrefix(Generate(sideKind), GeneratedPrefix+sideKind+"_")
}

// IsSide reports whether file is a side segment's name.
func IsSide(file string) bool {
	const p = GeneratedPrefix + sideKind + "_"
	rest, ok := strings.CutPrefix(file, p)
	return ok && len(rest) == 16+1+16 && rest[16] == '_'
}

// SideOf returns the SidePrefix part of a side segment's name.
func SideOf(file string) string { return file[:len(GeneratedPrefix+sideKind+"_")+17] }

// RemoveSides removes the side segments under prefix that nobody holds
// (under TryRemove's flock rule: a consumer reading one removes it itself)
// and returns how many it removed.
func RemoveSides(prefix string) int {
	d, err := os.Open(Dir)
	if err != nil {
		return 0
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	n := 0
	for _, name := range names {
		if !strings.HasPrefix(name, prefix) || !IsSide(name) {
			continue
		}
		if ok, _ := TryRemove(Path(name), ID{}); ok {
			n++
		}
	}
	return n
}

// LastHolder reports whether no process holds the object open by probe (an
// open file description with no lock of its own: segment.File.Probe, or
// one the tracker kept) — every holder has a shared flock for as long as it
// does. A moment's exclusive lock is a probe's or a sweeper's, never a
// holder's: LastHolder waits a little for it to go.
func LastHolder(probe *os.File, id ID) bool {
	fd := int(probe.Fd())
	for range 50 {
		if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil {
			unix.Flock(fd, unix.LOCK_UN)
			return true
		}
		if shared, _, err := Flocks(id); err != nil || shared > 0 {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// SideOwners returns the SidePrefix of every object that may still own
// side segments: each file in Dir (names, with their inodes from stat) and
// each file of Dir already removed but still mapped by a process we can
// read /proc/PID/maps of (an owner unlinked while in use).
//
// complete is false when some process's maps could not be read (another
// user's, a non-dumpable one, /proc mounted with hidepid): an owner only
// such a process maps would look gone, so nothing may be called orphaned.
func SideOwners(names []string) (owners map[string]bool, complete bool) {
	owners = map[string]bool{}
	for _, name := range names {
		if IsSide(name) {
			continue
		}
		if fi, err := os.Lstat(Path(name)); err == nil {
			if st, ok := statIno(fi); ok {
				owners[SidePrefix(name, st)] = true
			}
		}
	}
	mapped, complete := MappedOwners()
	for p := range mapped {
		owners[p] = true
	}
	return owners, complete
}

// MappedOwners returns the SidePrefix of every file of Dir that is already
// removed but still mapped by a process whose /proc/PID/maps we can read,
// and whether we could read every process's.
func MappedOwners() (owners map[string]bool, complete bool) {
	owners, complete = map[string]bool{}, true
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		f, err := os.Open("/proc/" + p.Name() + "/maps")
		if err != nil {
			if !os.IsNotExist(err) { // not one that just exited
				complete = false
			}
			continue
		}
		s := bufio.NewScanner(f)
		for s.Scan() {
			// address perms offset dev inode path [(deleted)]
			line := s.Text()
			if !strings.HasSuffix(line, " (deleted)") {
				continue
			}
			at := strings.Index(line, " "+Dir+"/")
			fields := strings.Fields(line)
			if at < 0 || len(fields) < 6 {
				continue
			}
			ino, err := strconv.ParseUint(fields[4], 10, 64)
			if err != nil {
				continue
			}
			name := strings.TrimSuffix(line[at+len(Dir)+2:], " (deleted)") // a name may hold spaces
			owners[SidePrefix(unescapeMaps(name), ino)] = true
		}
		f.Close()
	}
	return owners, complete
}

// unescapeMaps undoes the kernel's escape of a newline in a maps path
// (seq_file_path writes it as \012).
func unescapeMaps(s string) string { return strings.ReplaceAll(s, `\012`, "\n") }
