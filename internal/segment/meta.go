package segment

import (
	"encoding/json"
	"errors"

	"golang.org/x/sys/unix"
)

// Meta describes a headerless object (a raw segment) from the outside: it
// is stored in the extended attribute "user.multiproc" of the file, so the
// bytes Python's SharedMemory sees are exactly the bytes Go sees. tmpfs keeps
// user xattrs since Linux 6.6; on older kernels raw segments simply carry no
// metadata and the tools know them only by their generated name.
type Meta struct {
	Kind       string `json:"kind"`
	PID        int    `json:"pid"`
	Start      uint64 `json:"start"`
	Created    int64  `json:"created"` // Unix nanoseconds
	Persistent bool   `json:"persistent,omitempty"`
}

const metaAttr = "user.multiproc"

// SetMeta stores m on the open file; failure is not an error worth
// failing a Create for, so it is reported and may be ignored.
func SetMeta(fd int, m Meta) error {
	b, _ := json.Marshal(m)
	return unix.Fsetxattr(fd, metaAttr, b, 0)
}

// ReadMeta reads the metadata of Dir/file. A file without it returns an
// error; a value that does not parse is treated the same way, never trusted.
func ReadMeta(file string) (Meta, error) {
	var m Meta
	buf := make([]byte, 512)
	n, err := unix.Lgetxattr(Path(file), metaAttr, buf)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(buf[:n], &m); err != nil {
		return m, errors.New("unreadable multiproc metadata")
	}
	return m, nil
}
