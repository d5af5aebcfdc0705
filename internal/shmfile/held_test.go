package shmfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func idOf(t *testing.T, path string) ID {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return ID{st.Dev, st.Ino}
}

func TestHeldFileIsNeverRemoved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "obj")
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	if held, err := Held(path); err != nil || !held {
		t.Fatalf("Held = %v, %v; want true", held, err)
	}
	if removed, err := TryRemove(path, ID{}); err != nil || removed {
		t.Fatalf("TryRemove of a held file = %v, %v", removed, err)
	}
	f.Close() // drops the shared lock
	if held, err := Held(path); err != nil || held {
		t.Fatalf("Held after close = %v, %v; want false", held, err)
	}
	if removed, err := TryRemove(path, ID{}); err != nil || !removed {
		t.Fatalf("TryRemove of an unheld file = %v, %v", removed, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("file still there: %v", err)
	}
}

func TestTryRemoveSparesAnotherFileUnderTheName(t *testing.T) {
	path := filepath.Join(t.TempDir(), "obj")
	os.WriteFile(path, []byte("old"), 0o600)
	old := idOf(t, path)
	os.Remove(path)
	keep, _ := os.Create(filepath.Join(filepath.Dir(path), "keep")) // keep old's inode number from being reused
	defer keep.Close()
	os.WriteFile(path, []byte("new"), 0o600)
	if removed, err := TryRemove(path, old); err != nil || removed {
		t.Fatalf("TryRemove with a stale identity = %v, %v; want false", removed, err)
	}
	if removed, err := TryRemove(path, idOf(t, path)); err != nil || !removed {
		t.Fatalf("TryRemove with the right identity = %v, %v", removed, err)
	}
}

func TestMissingAndSymlink(t *testing.T) {
	dir := t.TempDir()
	if _, err := Held(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Held(missing) err = %v", err)
	}
	if removed, err := TryRemove(filepath.Join(dir, "none"), ID{}); err != nil || removed {
		t.Fatalf("TryRemove(missing) = %v, %v", removed, err)
	}
	target := filepath.Join(dir, "target")
	os.WriteFile(target, nil, 0o600)
	link := filepath.Join(dir, "link")
	os.Symlink(target, link)
	if removed, err := TryRemove(link, ID{}); err == nil || removed {
		t.Fatalf("TryRemove(symlink) = %v, %v; want an error", removed, err)
	}
	if _, err := os.Stat(target); err != nil {
		t.Fatal("symlink target touched:", err)
	}
}

func TestUnlinkRemovesAHeldFileButNeverAnother(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "obj")
	os.WriteFile(path, []byte("old"), 0o600)
	old := idOf(t, path)
	f, _ := os.Open(path)
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	// Held by us: the name goes anyway, the open file stays usable.
	if err := Unlink(path, old); err != nil {
		t.Fatalf("Unlink of a held file: %v", err)
	}
	if b, err := os.ReadFile("/proc/self/fd/" + strconv.Itoa(int(f.Fd()))); err != nil || string(b) != "old" {
		t.Fatalf("open file after Unlink: %q, %v", b, err)
	}
	if err := Unlink(path, old); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("second Unlink = %v, want ErrNotExist", err)
	}
	os.WriteFile(path, []byte("new"), 0o600) // f keeps old's inode number from being reused
	if err := Unlink(path, old); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Unlink of another file under the name = %v, want ErrNotExist", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal("newer file removed:", err)
	}
}

func TestCleanNameRefusesEmptyAndPaths(t *testing.T) {
	for _, bad := range []string{"", "/", "//", "a/b", ".", "..", "a\x00b", strings.Repeat("x", 256)} {
		if _, err := CleanName(bad, ""); !errors.Is(err, ErrInvalidName) {
			t.Errorf("CleanName(%q) = %v, want ErrInvalidName", bad, err)
		}
		if IsFileName(bad) {
			t.Errorf("IsFileName(%q) = true", bad)
		}
	}
	if got, err := CleanName("/jobs", ""); err != nil || got != "jobs" || !IsFileName(got) {
		t.Fatalf("CleanName(/jobs) = %q, %v", got, err)
	}
}

func TestFlocksTellsHoldersFromProbers(t *testing.T) {
	path := filepath.Join("/dev/shm", "shmfile_test_"+strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Skip(err)
	}
	defer os.Remove(path)
	id := idOf(t, path)
	count := func() (int, int) {
		t.Helper()
		sh, ex, err := Flocks(id)
		if err != nil {
			t.Skip("no /proc/locks:", err)
		}
		return sh, ex
	}
	if sh, ex := count(); sh != 0 || ex != 0 {
		t.Fatalf("unlocked file: %d shared, %d exclusive", sh, ex)
	}
	a, _ := os.Open(path)
	defer a.Close()
	b, _ := os.Open(path)
	defer b.Close()
	unix.Flock(int(a.Fd()), unix.LOCK_SH)
	unix.Flock(int(b.Fd()), unix.LOCK_SH)
	if sh, ex := count(); sh != 2 || ex != 0 {
		t.Fatalf("two holders: %d shared, %d exclusive", sh, ex)
	}
	unix.Flock(int(a.Fd()), unix.LOCK_UN)
	unix.Flock(int(b.Fd()), unix.LOCK_UN)
	unix.Flock(int(a.Fd()), unix.LOCK_EX)
	if sh, ex := count(); sh != 0 || ex != 1 {
		t.Fatalf("a prober: %d shared, %d exclusive", sh, ex)
	}
}
