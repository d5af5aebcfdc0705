package shmfile

import (
	"fmt"
	"hash/fnv"
	"os"
	"strings"
)

// Side segments. An item too large for a queue's or a pipe's ring travels
// in a segment of its own, a side segment, whose name the ring's record
// carries. Its life is its owner's (the queue or pipe), not its producer's:
// a producer may put a large item and exit long before a consumer takes it,
// so no tracker removes a side segment when the process that made it ends.
// Instead its name starts with SidePrefix(owner), and whatever removes the
// owner's name — its Unlink, its creator's Close or exit, the tracker after
// a crash, `multiproc rm` or `clean` — removes the owner's side segments
// with it (RemoveSides).

// sideKind is the kind word of a side segment's name.
const sideKind = "qitem"

// SidePrefix starts the name of every side segment of owner:
// "mpgo_qitem_<16 hex digits of owner's FNV-64a>_".
func SidePrefix(owner string) string {
	h := fnv.New64a()
	h.Write([]byte(owner))
	return fmt.Sprintf("%s%s_%016x_", GeneratedPrefix, sideKind, h.Sum64())
}

// GenerateSide returns a fresh name for a side segment of owner.
func GenerateSide(owner string) string {
	return SidePrefix(owner) + strings.TrimPrefix(Generate(sideKind), GeneratedPrefix+sideKind+"_")
}

// IsSide reports whether file is a side segment's name.
func IsSide(file string) bool {
	const p = GeneratedPrefix + sideKind + "_"
	rest, ok := strings.CutPrefix(file, p)
	return ok && len(rest) == 16+1+16 && rest[16] == '_'
}

// RemoveSides removes the side segments of owner that nobody holds (under
// TryRemove's flock rule: a consumer reading one removes it itself) and
// returns how many it removed.
func RemoveSides(owner string) int {
	d, err := os.Open(Dir)
	if err != nil {
		return 0
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	prefix := SidePrefix(owner)
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
