package sem_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/internal/posixsem"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/sem"
)

func TestBadValuesAreInvalidArgumentNamingTheValue(t *testing.T) {
	proctest.CheckShm(t)
	for _, v := range []int{-1, -1 << 40, sem.ValueMax + 1, 1 << 40} {
		for _, bounded := range []bool{false, true} {
			var err error
			if bounded {
				_, err = sem.NewBoundedSemaphore(v)
			} else {
				_, err = sem.NewSemaphore(v)
			}
			if !errors.Is(err, sem.ErrInvalidArgument) || !strings.Contains(err.Error(), strconv.Itoa(v)) {
				t.Errorf("value %d (bounded %v): %v", v, bounded, err)
			}
		}
	}
	s := newTestSem(t, 0, false)
	for _, n := range []int{0, -3, sem.ValueMax + 1} {
		if err := s.ReleaseN(n); !errors.Is(err, sem.ErrInvalidArgument) || !strings.Contains(err.Error(), strconv.Itoa(n)) {
			t.Errorf("ReleaseN(%d) = %v", n, err)
		}
	}
	if s.Value() != 0 {
		t.Fatal("a refused ReleaseN changed the value")
	}
}

func TestBadNamesAreRefused(t *testing.T) {
	proctest.CheckShm(t)
	long := strings.Repeat("x", 252) // sem. + 252 > NAME_MAX
	for _, name := range []string{"/", "//", "a/b", "/a/b", ".", "..", "a\x00b", long} {
		if _, err := sem.NewSemaphore(0, sem.Name(name)); !errors.Is(err, sem.ErrInvalidName) {
			t.Errorf("NewSemaphore(Name(%q)) = %v", name, err)
		}
		if _, err := sem.OpenNamed(name); !errors.Is(err, sem.ErrInvalidName) {
			t.Errorf("OpenNamed(%q) = %v", name, err)
		}
	}
	if _, err := sem.OpenSemaphore(""); !errors.Is(err, sem.ErrInvalidName) {
		t.Errorf("OpenSemaphore(\"\") = %v", err)
	}
	// 251 bytes is glibc's limit and ours.
	s := newTestSem(t, 0, false, sem.Name("/"+long[:251]))
	if s.Name() != "/"+long[:251] {
		t.Fatal(s.Name())
	}
	if _, err := sem.OpenSemaphore("/" + segment.Generate("semtest")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing semaphore: %v", err)
	}
}

// semPlant writes b as /dev/shm/sem.NAME, as a foreign or broken program
// would, and returns "/NAME".
func semPlant(t *testing.T, b []byte) string {
	t.Helper()
	proctest.CheckShm(t)
	name := segment.Generate("semtest")
	path := semFile(name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	return "/" + name
}

// glibcSemT is the 32 bytes glibc's sem_open writes for value.
func glibcSemT(value uint32) []byte {
	b := make([]byte, posixsem.Size)
	binary.LittleEndian.PutUint32(b, value)
	b[8] = 0x80
	return b
}

func TestCorruptTrailerIsErrCorrupt(t *testing.T) {
	s := newTestSem(t, 1, true)
	f, err := os.OpenFile(semFile(s.Name()), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The bound, raised behind the checksum's back.
	if _, err := f.WriteAt([]byte{0xff, 0, 0, 0}, posixsem.Size+16); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, open := range []func(string, ...sem.Option) (*sem.Semaphore, error){sem.OpenSemaphore, sem.OpenBoundedSemaphore, sem.OpenNamed} {
		if _, err := open(s.Name()); !errors.Is(err, sem.ErrCorrupt) || !strings.Contains(err.Error(), "checksum") {
			t.Fatalf("open of a damaged trailer = %v", err)
		}
	}
	// The handle opened before the damage keeps its own bound.
	if err := s.Release(); !errors.Is(err, sem.ErrReleasedTooManyTimes) {
		t.Fatalf("Release = %v", err)
	}
}

func TestOldGlibcLayoutIsRefused(t *testing.T) {
	old := make([]byte, posixsem.Size) // glibc < 2.21: value@0, private@4, nwaiters@8
	old[0], old[4] = 1, 0x80
	_, err := sem.OpenNamed(semPlant(t, old))
	if !errors.Is(err, sem.ErrCorrupt) || !strings.Contains(err.Error(), "glibc < 2.21") {
		t.Fatalf("OpenNamed of an old-layout semaphore = %v", err)
	}
}

func TestGarbageSemFilesAreRefused(t *testing.T) {
	cases := map[string][]byte{
		"text, 96 bytes":         []byte(strings.Repeat("garbage!", 12)),
		"10 bytes":               []byte("0123456789"),
		"64 bytes of sem_t":      append(glibcSemT(1), make([]byte, 32)...),
		"private futex flag":     make([]byte, posixsem.Size),
		"value > SEM_VALUE_MAX":  append([]byte{0, 0, 0, 0x80}, glibcSemT(0)[4:]...),
		"sem_t + zeroed trailer": append(glibcSemT(1), make([]byte, posixsem.TrailerSize)...),
	}
	for what, b := range cases {
		name := semPlant(t, b)
		for _, open := range []func(string, ...sem.Option) (*sem.Semaphore, error){sem.OpenSemaphore, sem.OpenNamed} {
			if s, err := open(name); !errors.Is(err, sem.ErrCorrupt) {
				if s != nil {
					s.Close()
				}
				t.Errorf("%s: open = %v, want ErrCorrupt", what, err)
			}
		}
	}
}

func TestForeignSemaphoreNeedsOpenNamed(t *testing.T) {
	name := semPlant(t, glibcSemT(5))
	if _, err := sem.OpenSemaphore(name); !errors.Is(err, sem.ErrKindMismatch) || !strings.Contains(err.Error(), "OpenNamed") {
		t.Fatalf("OpenSemaphore of a C semaphore = %v", err)
	}
	s, err := sem.OpenNamed(name)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Value() != 5 || s.Bounded() || s.MaxValue() != sem.ValueMax {
		t.Fatalf("value %d bounded %v max %d", s.Value(), s.Bounded(), s.MaxValue())
	}
	plain := newTestSem(t, 0, false)
	if _, err := sem.OpenBoundedSemaphore(plain.Name()); !errors.Is(err, sem.ErrKindMismatch) || !strings.Contains(err.Error(), "is a Semaphore, not a BoundedSemaphore") {
		t.Fatalf("OpenBoundedSemaphore of a Semaphore = %v", err)
	}
}

func TestOurFilesBeginWithGlibcSemT(t *testing.T) {
	for _, v := range []int{0, 3, sem.ValueMax} {
		s := newTestSem(t, v, false)
		b, err := os.ReadFile(semFile(s.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b[:posixsem.Size], glibcSemT(uint32(v))) {
			t.Fatalf("value %d: sem_t % x", v, b[:posixsem.Size])
		}
	}
}

func TestForeignOwnedSemaphoreNeedsAllowForeignOwner(t *testing.T) {
	name := semPlant(t, glibcSemT(1))
	if err := os.Chown(semFile(name), 65534, 65534); err != nil {
		t.Skipf("cannot give the file to another user (needs root): %v", err)
	}
	if _, err := sem.OpenNamed(name); !errors.Is(err, segment.ErrForeignOwner) {
		t.Fatalf("OpenNamed of another user's semaphore = %v", err)
	}
	s, err := sem.OpenNamed(name, sem.AllowForeignOwner())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.TryAcquire() {
		t.Fatal("no token")
	}
}

// OpenNamed takes sem_open's names and the listed file names: "sem.x"
// means the file sem.sem.x when there is one (C's sem_open("/sem.x")
// makes it), else the file sem.x itself, as `ls /dev/shm` shows it.
func TestOpenNamedTakesSemOpensNamesAndFileNames(t *testing.T) {
	plain := semPlant(t, glibcSemT(3)) // "/mpgo_semtest_…": the file sem.mpgo_semtest_…
	for _, form := range []string{plain, plain[1:], "sem." + plain[1:], "/sem." + plain[1:]} {
		s, err := sem.OpenNamed(form)
		if err != nil {
			t.Errorf("OpenNamed(%q): %v", form, err)
			continue
		}
		if s.Value() != 3 || s.Name() != plain {
			t.Errorf("OpenNamed(%q): value %d, Name %q", form, s.Value(), s.Name())
		}
		s.Close()
	}
	// C's sem_open("/sem.x"): the file sem.sem.x, which sem.x names first.
	x := strings.TrimPrefix(semPlant(t, glibcSemT(5)), "/")
	cName := "sem." + x // the file is sem.<x>; planted again under sem.sem.<x>
	if err := os.WriteFile(semFile(cName), glibcSemT(7), 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(semFile(cName))
	s, err := sem.OpenNamed("/" + cName)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Value() != 7 {
		t.Fatalf("OpenNamed(%q) opened the semaphore of value %d, not sem_open's file %s", "/"+cName, s.Value(), semFile(cName))
	}
}
