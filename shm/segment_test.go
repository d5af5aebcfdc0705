package shm_test

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/shm"
)

// pattern is what children write and check: byte i is (i*7+seed)%251.
func fill(b []byte, seed int) {
	for i := range b {
		b[i] = byte((i*7 + seed) % 251)
	}
}

func verify(b []byte, seed int) error {
	for i := range b {
		if want := byte((i*7 + seed) % 251); b[i] != want {
			return fmt.Errorf("byte %d = %d, want %d", i, b[i], want)
		}
	}
	return nil
}

func writePattern(args []string) error {
	seg, err := shm.Open(args[0])
	if err != nil {
		return err
	}
	defer seg.Close()
	fill(seg.Bytes(), 3)
	return nil
}

func checkPattern(args []string) error {
	seg, err := shm.Open(args[0])
	if err != nil {
		return err
	}
	defer seg.Close()
	return verify(seg.Bytes(), 5)
}

func TestSegmentSharedWithChildren(t *testing.T) {
	proctest.CheckShm(t)
	seg, err := shm.Create("", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Unlink()
	defer seg.Close()
	if !strings.HasPrefix(seg.Name(), "mpgo_raw_") || seg.Size() != 1<<20 {
		t.Fatalf("name %q size %d", seg.Name(), seg.Size())
	}
	proctest.Run(t, 1, "write-pattern", seg.Name())
	if err := verify(seg.Bytes(), 3); err != nil {
		t.Fatal("child's writes not visible:", err)
	}
	fill(seg.Bytes(), 5)
	proctest.Run(t, 3, "check-pattern", "/"+seg.Name())
}

func TestCreatedFileIsPrivateAndExact(t *testing.T) {
	proctest.CheckShm(t)
	seg, err := shm.Create("mpgo_test_mode"+sfx, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	defer seg.Unlink()
	fi, err := os.Lstat("/dev/shm/mpgo_test_mode" + sfx)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o600 || fi.Size() != 10 {
		t.Fatalf("mode %v size %d, want -rw------- 10", fi.Mode(), fi.Size())
	}
	seg2, err := shm.Create("mpgo_test_mode2"+sfx, 10, shm.Mode(0o640))
	if err != nil {
		t.Fatal(err)
	}
	defer seg2.Close()
	defer seg2.Unlink()
	if fi, _ := os.Lstat("/dev/shm/mpgo_test_mode2" + sfx); fi.Mode() != 0o640 {
		t.Fatalf("Mode(0640) gave %v", fi.Mode())
	}
}

func TestBadNames(t *testing.T) {
	proctest.CheckShm(t)
	for _, name := range []string{"/", "//", "a/b", "/a/b", ".", "..", "/..", "a\x00b", strings.Repeat("x", 256)} {
		_, err := shm.Create(name, 10)
		if !errors.Is(err, shm.ErrInvalidName) {
			t.Errorf("Create(%q) = %v, want ErrInvalidName", name, err)
		}
		_, err = shm.Open(name)
		if !errors.Is(err, shm.ErrInvalidName) {
			t.Errorf("Open(%q) = %v, want ErrInvalidName", name, err)
		}
	}
	_, err := shm.Create("a/b", 10)
	if !strings.Contains(err.Error(), `"a/b"`) {
		t.Errorf("message does not quote the name: %v", err)
	}
	// 255 bytes is the longest file name and is fine.
	long := strings.Repeat("y", 255)
	seg, err := shm.Create(long, 1)
	if err != nil {
		t.Fatalf("255-byte name: %v", err)
	}
	seg.Close()
	shm.Unlink(long)
}

func TestBadSizes(t *testing.T) {
	proctest.CheckShm(t)
	for _, size := range []int{0, -1} {
		_, err := shm.Create("mpgo_test_size"+sfx, size)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprint(size)) {
			t.Errorf("Create size %d = %v", size, err)
		}
	}
	_, err := shm.Create("mpgo_test_huge"+sfx, 1<<50)
	if !errors.Is(err, shm.ErrNoSpace) || !strings.Contains(err.Error(), "free") {
		t.Fatalf("huge Create = %v, want ErrNoSpace naming the free space", err)
	}
	if _, err := os.Lstat("/dev/shm/mpgo_test_huge" + sfx); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("failed Create left a file")
	}
}

func TestExistAndNotExist(t *testing.T) {
	proctest.CheckShm(t)
	_, err := shm.Open("mpgo_test_missing" + sfx)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open missing = %v", err)
	}
	if err := shm.Unlink("mpgo_test_missing" + sfx); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Unlink missing = %v", err)
	}
	seg, err := shm.Create("mpgo_test_exist"+sfx, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	defer seg.Unlink()
	seg.Bytes()[0] = 42
	if _, err := shm.Create("mpgo_test_exist"+sfx, 128); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create existing = %v", err)
	}
	if seg.Bytes()[0] != 42 || seg.Size() != 64 {
		t.Fatal("failed Create damaged the existing segment")
	}
}

func TestSymlinkRefused(t *testing.T) {
	proctest.CheckShm(t)
	target := t.TempDir() + "/secret"
	os.WriteFile(target, []byte("do not touch"), 0o600)
	if err := os.Symlink(target, "/dev/shm/mpgo_test_link"+sfx); err != nil {
		t.Fatal(err)
	}
	defer os.Remove("/dev/shm/mpgo_test_link" + sfx)
	if _, err := shm.Open("mpgo_test_link" + sfx); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("Open symlink = %v", err)
	}
	if _, err := shm.Create("mpgo_test_link"+sfx, 8); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create over symlink = %v", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "do not touch" {
		t.Fatal("symlink target modified")
	}
}

func TestForeignOwnerRefused(t *testing.T) {
	proctest.CheckShm(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a file owned by another user")
	}
	path := "/dev/shm/mpgo_test_foreign" + sfx
	if err := os.WriteFile(path, make([]byte, 16), 0o666); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path)
	os.Chown(path, 12345, 12345)
	_, err := shm.Open("mpgo_test_foreign" + sfx)
	if !errors.Is(err, shm.ErrForeignOwner) || !strings.Contains(err.Error(), "12345") {
		t.Fatalf("Open foreign = %v", err)
	}
	seg, err := shm.Open("mpgo_test_foreign"+sfx, shm.AllowForeignOwner())
	if err != nil {
		t.Fatal(err)
	}
	seg.Close()
}

func TestNotRegularOrEmptyRefused(t *testing.T) {
	proctest.CheckShm(t)
	os.Mkdir("/dev/shm/mpgo_test_dir"+sfx, 0o700)
	defer os.Remove("/dev/shm/mpgo_test_dir" + sfx)
	if _, err := shm.Open("mpgo_test_dir" + sfx); err == nil {
		t.Fatal("opened a directory")
	}
	os.WriteFile("/dev/shm/mpgo_test_empty"+sfx, nil, 0o600)
	defer os.Remove("/dev/shm/mpgo_test_empty" + sfx)
	if _, err := shm.Open("mpgo_test_empty" + sfx); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("Open empty = %v", err)
	}
}

func TestCloseIsIdempotentAndUnlinkWorksAfterClose(t *testing.T) {
	proctest.CheckShm(t)
	seg, err := shm.Create("", 8)
	if err != nil {
		t.Fatal(err)
	}
	name := seg.Name()
	if err := seg.Close(); err != nil {
		t.Fatal(err)
	}
	if err := seg.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if err := seg.Unlink(); err != nil {
		t.Fatalf("Unlink after Close = %v", err)
	}
	if err := shm.Unlink(name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("second Unlink = %v", err)
	}
}

// Python interop: both directions, bytes compared.
func TestPythonInterop(t *testing.T) {
	proctest.CheckShm(t)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found; skipping the multiprocessing.shared_memory interop test")
	}
	// Python creates, Go opens and checks, Go writes, Python checks.
	script := `
import sys
from multiprocessing import shared_memory, resource_tracker
name = sys.argv[1]
shm = shared_memory.SharedMemory(name=name, create=True, size=4096)
for i in range(4096):
    shm.buf[i] = (i * 7 + 5) % 251
print("ready", flush=True)
sys.stdin.readline()
bad = [i for i in range(4096) if shm.buf[i] != (i * 7 + 3) % 251]
print("bad", len(bad), flush=True)
shm.close()
shm.unlink()
`
	cmd := exec.CommandContext(proctest.Context(t), py, "-c", script, "mpgo_test_py1"+sfx)
	stdin, _ := cmd.StdinPipe()
	outPipe, _ := cmd.StdoutPipe()
	outR := bufio.NewReader(outPipe)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := outR.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("python said %q, %v", line, err)
	}
	seg, err := shm.Open("/mpgo_test_py1" + sfx)
	if err != nil {
		t.Fatal(err)
	}
	if seg.Size() != 4096 {
		t.Fatalf("size %d", seg.Size())
	}
	if err := verify(seg.Bytes(), 5); err != nil {
		t.Fatal("Python's bytes seen from Go:", err)
	}
	fill(seg.Bytes(), 3)
	seg.Close()
	stdin.Write([]byte("\n"))
	line, _ := outR.ReadString('\n')
	cmd.Wait()
	if strings.TrimSpace(line) != "bad 0" {
		t.Fatalf("Python saw Go's bytes wrong: %q", line)
	}

	// Go creates, Python opens, checks and writes back.
	seg, err = shm.Create("mpgo_test_py2"+sfx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	defer seg.Unlink()
	fill(seg.Bytes(), 5)
	got, err := exec.CommandContext(proctest.Context(t), py, "-c", pyAttach+pyCheckAndWrite, "mpgo_test_py2"+sfx, "untracked").CombinedOutput()
	if err != nil || strings.TrimSpace(string(got)) != "ok" {
		t.Fatalf("python: %s %v", got, err)
	}
	if err := verify(seg.Bytes(), 3); err != nil {
		t.Fatal("Python's writes seen from Go:", err)
	}
}

// pyAttach attaches to the segment argv[1] as a Python worker would:
// argv[2] "untracked" with the fix (track=False on 3.13+, unregister
// before), "plain" as the Python docs' examples do.
const pyAttach = `
import sys
from multiprocessing import shared_memory, resource_tracker
name, how = sys.argv[1], sys.argv[2]
if how == "untracked" and sys.version_info >= (3, 13):
    shm = shared_memory.SharedMemory(name=name, track=False)
else:
    shm = shared_memory.SharedMemory(name=name)
    if how == "untracked":
        # Attaching is not owning: take back the registration the attach made.
        resource_tracker.unregister(shm._name, "shared_memory")
`

const pyCheckAndWrite = `
ok = shm.size == 1000 and all(shm.buf[i] == (i * 7 + 5) % 251 for i in range(1000))
for i in range(1000):
    shm.buf[i] = (i * 7 + 3) % 251
shm.close()
print("ok" if ok else "mismatch size=%d" % shm.size)
`

// A Python process that only attaches to a Go segment removes it when it
// exits — Python's resource tracker unlinks what SharedMemory registered,
// attaches included (CPython gh-82300; issue 9 item 6) — unless it attaches
// untracked, as shm's doc and the README say. The Go side keeps its
// mapping either way. (CombinedOutput returns once Python's tracker, which
// shares Python's stderr, has exited: its cleanup is done.)
func TestPythonAttachRemovesTheSegmentUnlessTold(t *testing.T) {
	proctest.CheckShm(t)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found; skipping the multiprocessing.shared_memory interop test")
	}
	for _, tc := range []struct {
		how       string
		survives  bool
		pyWarning bool
	}{
		{"untracked", true, false},
		{"plain", false, true},
	} {
		t.Run(tc.how, func(t *testing.T) {
			name := "mpgo_test_py3_" + tc.how + sfx
			seg, err := shm.Create(name, 1000)
			if err != nil {
				t.Fatal(err)
			}
			defer seg.Close()
			defer shm.Unlink(name) // if it survived
			fill(seg.Bytes(), 5)
			out, err := exec.CommandContext(proctest.Context(t), py, "-c", pyAttach+pyCheckAndWrite, name, tc.how).CombinedOutput()
			if err != nil || !strings.HasPrefix(strings.TrimSpace(string(out)), "ok") {
				t.Fatalf("python: %s %v", out, err)
			}
			if warned := strings.Contains(string(out), "leaked shared_memory objects"); warned != tc.pyWarning {
				t.Errorf("Python's tracker warned of a leak: %v, want %v; Python said:\n%s", warned, tc.pyWarning, out)
			}
			again, err := shm.Open(name)
			if tc.survives {
				if err != nil {
					t.Fatalf("the segment Python attached to untracked is gone: %v", err)
				}
				again.Close()
			} else {
				if err == nil {
					again.Close()
					t.Fatalf("the segment survived a plain Python attach: Python %s no longer removes attached segments (gh-82300 fixed?): update shm's doc and the README", pyVersion(py))
				}
				if !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("Open after Python removed it: %v", err)
				}
			}
			// Go's own mapping is untouched by the unlink.
			if err := verify(seg.Bytes(), 3); err != nil {
				t.Fatal("Python's writes, seen through the Go mapping:", err)
			}
		})
	}
}

func pyVersion(py string) string {
	out, _ := exec.Command(py, "--version").Output()
	return strings.TrimSpace(string(out))
}

// sfx makes fixed test names unique to this test process, so two runs of
// the suite on one machine never collide.
var sfx = "_" + strconv.Itoa(os.Getpid())
