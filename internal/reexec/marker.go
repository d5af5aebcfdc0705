package reexec

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	// EnvRole is the role marker's variable (see the package doc).
	EnvRole       = "MULTIPROC_ROLE"
	markerVersion = "v1"
	// maxMarker bounds a marker's size, well below the kernel's 128 KiB
	// for one environment string (MAX_ARG_STRLEN).
	maxMarker = 16 << 10
)

// ExitNoRole is the exit status of a process started in a role it cannot
// play: the marker is not one this binary reads, or names a role this
// binary does not register.
const ExitNoRole = 126

// ErrMarker is returned for a role marker that cannot be made: a bad role
// or file name, or arguments too large for the environment.
var ErrMarker = errors.New("reexec: bad role marker")

// marker is what a role marker says.
type marker struct {
	role  string
	files map[string]int // name → fd
	args  []string
}

// self is this process's marker, read (and removed from the environment)
// by init. role is "" in a process not started in a role.
var self marker

// fileCache holds the *os.File made for each inherited descriptor, so
// that two calls to File never wrap one fd twice.
var fileCache = map[string]*os.File{}

func init() {
	v, ok := os.LookupEnv(EnvRole)
	if !ok {
		return
	}
	// Removed before anything else can start a child with os.Environ().
	os.Unsetenv(EnvRole)
	m, err := parseMarker(v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "multiproc: %s=%q: %v; exiting (this variable is how multiproc starts its own processes: unset it to run the program)\n", EnvRole, v, err)
		os.Exit(ExitNoRole)
	}
	for name, fd := range m.files {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			fmt.Fprintf(os.Stderr, "multiproc: %s=%q names the inherited file %s (fd %d), which is not open (%v); exiting\n", EnvRole, v, name, fd, err)
			os.Exit(ExitNoRole)
		}
		unix.CloseOnExec(fd) // never passed on to this role's own children
	}
	self = m
}

// formatMarker writes the marker for role with files and args.
func formatMarker(role string, files []namedFD, args []string) (string, error) {
	if !validName(role) {
		return "", fmt.Errorf("%w: role name %q (want letters, digits, '.', '_', '-')", ErrMarker, role)
	}
	var b strings.Builder
	b.WriteString(markerVersion + " " + role + " ")
	if len(files) == 0 {
		b.WriteString("-")
	}
	for i, f := range files {
		if !validName(f.name) {
			return "", fmt.Errorf("%w: file name %q (want letters, digits, '.', '_', '-')", ErrMarker, f.name)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%d", f.name, f.fd)
	}
	for _, a := range args {
		b.WriteByte(' ')
		b.WriteString(strconv.Quote(a))
	}
	if b.Len() > maxMarker {
		return "", fmt.Errorf("%w: role %s's arguments take %d bytes, more than the %d a marker may: pass data through an inherited file", ErrMarker, role, b.Len(), maxMarker)
	}
	return b.String(), nil
}

// parseMarker reads a marker; it never trusts it (anyone can set an
// environment variable).
func parseMarker(v string) (marker, error) {
	rest, ok := strings.CutPrefix(v, markerVersion+" ")
	if !ok {
		return marker{}, fmt.Errorf("not a %s marker", markerVersion)
	}
	role, rest, _ := strings.Cut(rest, " ")
	if !validName(role) {
		return marker{}, fmt.Errorf("bad role name %q", role)
	}
	files, rest, _ := strings.Cut(rest, " ")
	m := marker{role: role, files: map[string]int{}}
	if files != "-" {
		for _, kv := range strings.Split(files, ",") {
			name, n, ok := strings.Cut(kv, "=")
			fd, err := strconv.Atoi(n)
			if !ok || !validName(name) || err != nil || fd < 3 {
				return marker{}, fmt.Errorf("bad inherited file %q", kv)
			}
			if _, dup := m.files[name]; dup {
				return marker{}, fmt.Errorf("inherited file %q named twice", name)
			}
			m.files[name] = fd
		}
	}
	for rest != "" {
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return marker{}, fmt.Errorf("bad argument at %q", rest)
		}
		a, _ := strconv.Unquote(q)
		m.args = append(m.args, a)
		rest = rest[len(q):]
		if rest != "" {
			if rest[0] != ' ' {
				return marker{}, fmt.Errorf("bad argument at %q", rest)
			}
			rest = rest[1:]
		}
	}
	return m, nil
}

func validName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '.', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

// Environ returns base without any role marker, plus the marker for role
// with args and no inherited files: the environment of a child that is
// started some other way than Cmd (syscall.ForkExec, say). It panics on a
// role name or arguments no marker can carry, a programming error.
func Environ(base []string, role string, args ...string) []string {
	env, err := environ(base, role, nil, args)
	if err != nil {
		panic(err)
	}
	return env
}

func environ(base []string, role string, files []namedFD, args []string) ([]string, error) {
	m, err := formatMarker(role, files, args)
	if err != nil {
		return nil, err
	}
	env := make([]string, 0, len(base)+2)
	gorace := false
	for _, kv := range base {
		if strings.HasPrefix(kv, EnvRole+"=") {
			continue // replaced, never added to
		}
		if g, ok := strings.CutPrefix(kv, "GORACE="); ok && raceEnabled {
			gorace = true
			if !strings.Contains(g, "atexit_sleep_ms") {
				kv = "GORACE=atexit_sleep_ms=0 " + g
			}
		}
		env = append(env, kv)
	}
	if raceEnabled && !gorace {
		// A -race binary otherwise sleeps a second before it exits, and
		// children exit often.
		env = append(env, "GORACE=atexit_sleep_ms=0")
	}
	return append(env, EnvRole+"="+m), nil
}
