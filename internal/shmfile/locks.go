package shmfile

import (
	"bufio"
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Flocks counts the flocks the kernel shows granted on the file id in
// /proc/locks: shared ones (LOCK_SH: a process has the object open, for as
// long as it does) and exclusive ones (LOCK_EX: a sweeper removing it or a
// Held test, for moments). It takes no lock, so unlike Held it never gets
// in anyone's way. Locks of processes outside the caller's pid namespace
// are not shown there.
func Flocks(id ID) (shared, exclusive int, err error) {
	f, err := os.Open("/proc/locks")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	maj, min := unix.Major(id.Dev), unix.Minor(id.Dev)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "1: FLOCK  ADVISORY  READ 19300 00:1b:28306 0 EOF"; a request
		// still waiting has "->" after the number.
		fs := bytes.Fields(sc.Bytes())
		if len(fs) < 6 || string(fs[1]) != "FLOCK" {
			continue
		}
		if !sameFile(fs[5], maj, min, id.Ino) {
			continue
		}
		switch string(fs[3]) {
		case "READ":
			shared++
		case "WRITE":
			exclusive++
		}
	}
	return shared, exclusive, sc.Err()
}

// sameFile reports whether a /proc/locks file field, "MAJ:MIN:INO" with
// the device numbers in hex, names the file.
func sameFile(field []byte, maj, min uint32, ino uint64) bool {
	p := bytes.SplitN(field, []byte(":"), 3)
	if len(p) != 3 {
		return false
	}
	ma, err1 := strconv.ParseUint(string(p[0]), 16, 32)
	mi, err2 := strconv.ParseUint(string(p[1]), 16, 32)
	in, err3 := strconv.ParseUint(string(p[2]), 10, 64)
	return err1 == nil && err2 == nil && err3 == nil && uint32(ma) == maj && uint32(mi) == min && in == ino
}
