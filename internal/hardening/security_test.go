package hardening

// Security: what another process of the same user, or another user, can
// do to the objects by way of the file system, and what a forged lock word
// can do to a waiter.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/multiproc/multiproc/array"
	"github.com/multiproc/multiproc/barrier"
	"github.com/multiproc/multiproc/internal/proc"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/pool"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
	"github.com/multiproc/multiproc/value"
)

// A kindCase makes and opens one kind of object through its public API.
type kindCase struct {
	name string
	// create makes an object called name ("" generates one) with mode
	// (0 for the default) and returns the name to open it by.
	// close(unlink) closes it, unlinking it first (through the API) if asked.
	create func(name string, mode fs.FileMode) (opened string, close func(unlink bool), err error)
	// open opens name, with AllowForeignOwner if foreign.
	open func(name string, foreign bool) (close func(), err error)
	// file is the file name in /dev/shm of an object opened by name.
	file  func(name string) string
	typed bool // has the 128-byte typed-object header
}

func plainFile(name string) string { return strings.TrimLeft(name, "/") }
func semFile(name string) string   { return "sem." + strings.TrimLeft(name, "/") }

func semOpts(name string, mode fs.FileMode) []sem.Option {
	var o []sem.Option
	if name != "" {
		o = append(o, sem.Name(name))
	}
	if mode != 0 {
		o = append(o, sem.Mode(mode))
	}
	return o
}

func semForeign(foreign bool) []sem.Option {
	if foreign {
		return []sem.Option{sem.AllowForeignOwner()}
	}
	return nil
}

// closer adapts the handles' Close.
func closer(c interface{ Close() error }) func() { return func() { c.Close() } }

// closeUnlinker adapts the handles' Unlink and Close.
func closeUnlinker(c interface {
	Close() error
	Unlink() error
}) func(bool) {
	return func(unlink bool) {
		if unlink {
			c.Unlink()
		}
		c.Close()
	}
}

var kindCases = []kindCase{
	{
		name: "shm", file: plainFile,
		create: func(name string, mode fs.FileMode) (string, func(bool), error) {
			var o []shm.Option
			if mode != 0 {
				o = append(o, shm.Mode(mode))
			}
			s, err := shm.Create(name, 4096, o...)
			if err != nil {
				return "", nil, err
			}
			return s.Name(), closeUnlinker(s), nil
		},
		open: func(name string, foreign bool) (func(), error) {
			var o []shm.Option
			if foreign {
				o = append(o, shm.AllowForeignOwner())
			}
			s, err := shm.Open(name, o...)
			if err != nil {
				return nil, err
			}
			return closer(s), nil
		},
	},
	{
		name: "Lock", file: plainFile, typed: true,
		create: func(name string, mode fs.FileMode) (string, func(bool), error) {
			l, err := sem.NewLock(semOpts(name, mode)...)
			if err != nil {
				return "", nil, err
			}
			return l.Name(), closeUnlinker(l), nil
		},
		open: func(name string, foreign bool) (func(), error) {
			l, err := sem.OpenLock(name, semForeign(foreign)...)
			if err != nil {
				return nil, err
			}
			return closer(l), nil
		},
	},
	{
		name: "RLock", file: plainFile, typed: true,
		create: func(name string, mode fs.FileMode) (string, func(bool), error) {
			l, err := sem.NewRLock(semOpts(name, mode)...)
			if err != nil {
				return "", nil, err
			}
			return l.Name(), closeUnlinker(l), nil
		},
		open: func(name string, foreign bool) (func(), error) {
			l, err := sem.OpenRLock(name, semForeign(foreign)...)
			if err != nil {
				return nil, err
			}
			return closer(l), nil
		},
	},
	{
		name: "Event", file: plainFile, typed: true,
		create: func(name string, mode fs.FileMode) (string, func(bool), error) {
			e, err := sem.NewEvent(semOpts(name, mode)...)
			if err != nil {
				return "", nil, err
			}
			return e.Name(), closeUnlinker(e), nil
		},
		open: func(name string, foreign bool) (func(), error) {
			e, err := sem.OpenEvent(name, semForeign(foreign)...)
			if err != nil {
				return nil, err
			}
			return closer(e), nil
		},
	},
	{
		name: "Semaphore", file: semFile,
		create: func(name string, mode fs.FileMode) (string, func(bool), error) {
			s, err := sem.NewSemaphore(1, semOpts(name, mode)...)
			if err != nil {
				return "", nil, err
			}
			return s.Name(), closeUnlinker(s), nil
		},
		open: func(name string, foreign bool) (func(), error) {
			s, err := sem.OpenSemaphore(name, semForeign(foreign)...)
			if err != nil {
				return nil, err
			}
			return closer(s), nil
		},
	},
	{
		name: "BoundedSemaphore", file: semFile,
		create: func(name string, mode fs.FileMode) (string, func(bool), error) {
			s, err := sem.NewBoundedSemaphore(1, semOpts(name, mode)...)
			if err != nil {
				return "", nil, err
			}
			return s.Name(), closeUnlinker(s), nil
		},
		open: func(name string, foreign bool) (func(), error) {
			s, err := sem.OpenBoundedSemaphore(name, semForeign(foreign)...)
			if err != nil {
				return nil, err
			}
			return closer(s), nil
		},
	},
	{
		name: "Barrier", file: plainFile, typed: true,
		create: func(name string, mode fs.FileMode) (string, func(bool), error) {
			var o []barrier.Option
			if name != "" {
				o = append(o, barrier.Name(name))
			}
			if mode != 0 {
				o = append(o, barrier.Mode(mode))
			}
			b, err := barrier.New(2, o...)
			if err != nil {
				return "", nil, err
			}
			return b.Name(), closeUnlinker(b), nil
		},
		open: func(name string, foreign bool) (func(), error) {
			var o []barrier.Option
			if foreign {
				o = append(o, barrier.AllowForeignOwner())
			}
			b, err := barrier.Open(name, o...)
			if err != nil {
				return nil, err
			}
			return closer(b), nil
		},
	},
	{
		name: "Value", file: plainFile, typed: true,
		create: func(name string, mode fs.FileMode) (string, func(bool), error) {
			var o []value.Option
			if name != "" {
				o = append(o, value.Name(name))
			}
			if mode != 0 {
				o = append(o, value.Mode(mode))
			}
			v, err := value.New[[4]int64]([4]int64{}, o...)
			if err != nil {
				return "", nil, err
			}
			return v.Name(), closeUnlinker(v), nil
		},
		open: func(name string, foreign bool) (func(), error) {
			var o []value.Option
			if foreign {
				o = append(o, value.AllowForeignOwner())
			}
			v, err := value.Open[[4]int64](name, o...)
			if err != nil {
				return nil, err
			}
			return closer(v), nil
		},
	},
	{
		name: "Array", file: plainFile, typed: true,
		create: func(name string, mode fs.FileMode) (string, func(bool), error) {
			var o []array.Option
			if name != "" {
				o = append(o, array.Name(name))
			}
			if mode != 0 {
				o = append(o, array.Mode(mode))
			}
			a, err := array.New[int32](100, o...)
			if err != nil {
				return "", nil, err
			}
			return a.Name(), closeUnlinker(a), nil
		},
		open: func(name string, foreign bool) (func(), error) {
			var o []array.Option
			if foreign {
				o = append(o, array.AllowForeignOwner())
			}
			a, err := array.Open[int32](name, o...)
			if err != nil {
				return nil, err
			}
			return closer(a), nil
		},
	},
	{
		name: "Condition", file: plainFile, typed: true,
		create: func(name string, mode fs.FileMode) (string, func(bool), error) {
			c, err := sem.NewCondition(nil, semOpts(name, mode)...)
			if err != nil {
				return "", nil, err
			}
			l := c.Locker().(*sem.RLock)
			condLocks.Store(c.Name(), l.Name())
			return c.Name(), func(unlink bool) {
				if unlink {
					c.Unlink()
					l.Unlink()
					condLocks.Delete(c.Name())
				}
				c.Close()
				l.Close()
			}, nil
		},
		open: func(name string, foreign bool) (func(), error) {
			c, err := sem.OpenCondition(name, semForeign(foreign)...)
			if err != nil {
				return nil, err
			}
			return closer(c), nil
		},
	},
}

// everyKind is every kind of object, with how to make and open one:
// kindCases and the Queue and the Pipe (which have no modes or owners
// options of their own to test, so kindCases leaves them out).
func everyKind() []kindCase {
	ks := append([]kindCase(nil), kindCases...)
	return append(ks,
		kindCase{
			name: "Queue", file: plainFile, typed: true,
			create: func(name string, _ fs.FileMode) (string, func(bool), error) {
				o := []pool.QueueOption{pool.Capacity(3 * 4096)}
				if name != "" {
					o = append(o, pool.Name(name))
				}
				q, err := pool.NewQueue[int](o...)
				if err != nil {
					return "", nil, err
				}
				return q.Name(), func(bool) { q.Unlink(); q.Close() }, nil
			},
			open: func(name string, _ bool) (func(), error) {
				q, err := pool.OpenQueue[int](name)
				if err != nil {
					return nil, err
				}
				return func() { q.Close() }, nil
			},
		},
		kindCase{
			name: "Pipe", file: func(name string) string { return strings.TrimSuffix(name, ":1") }, typed: true,
			create: func(name string, _ fs.FileMode) (string, func(bool), error) {
				var o []pool.QueueOption
				if name != "" {
					o = append(o, pool.Name(name))
				}
				a, b, err := pool.Pipe[int](true, o...)
				if err != nil {
					return "", nil, err
				}
				file := strings.TrimSuffix(b.Name(), ":1")
				return b.Name(), func(bool) { a.Close(); b.Close(); segment.Unlink(file) }, nil
			},
			open: func(name string, _ bool) (func(), error) {
				c, err := pool.OpenConn[int](name)
				if err != nil {
					return nil, err
				}
				return func() { c.Close() }, nil
			},
		})
}

// condLocks maps a Condition's name to its own RLock's, whose file
// unlinkFile removes with the Condition's.
var condLocks sync.Map

// uniqueName returns a fresh name for an object the test makes itself. A
// named object stays until it is unlinked (an anonymous one ends with its
// handles), so a test can close it and then work on its file.
func uniqueName(t *testing.T, what string) string {
	return fmt.Sprintf("mpgo_test_%s_%d_%d", what, os.Getpid(), nameSeq.Add(1))
}

var nameSeq atomic.Int64

// unlinkFile removes /dev/shm/file when the test ends, whatever it is.
func unlinkFile(t *testing.T, file string) {
	t.Cleanup(func() {
		os.Remove(filepath.Join("/dev/shm", file))
		if l, ok := condLocks.LoadAndDelete(file); ok {
			os.Remove(filepath.Join("/dev/shm", l.(string)))
		}
	})
}

// TestSecurityModeUnderAnyUmask: objects are created 0600 (or exactly the
// Mode asked for) whatever the process's umask.
func TestSecurityModeUnderAnyUmask(t *testing.T) {
	proctest.CheckShm(t)
	for _, mask := range []int{0, 0o022, 0o077, 0o777} {
		old := syscall.Umask(mask)
		for _, k := range kindCases {
			for _, mode := range []fs.FileMode{0, 0o640} {
				name := uniqueName(t, "mode")
				opened, closeIt, err := k.create(name, mode)
				if err != nil {
					syscall.Umask(old)
					t.Fatalf("umask %#o, %s: %v", mask, k.name, err)
				}
				unlinkFile(t, k.file(opened))
				st, err := os.Stat(filepath.Join("/dev/shm", k.file(opened)))
				closeIt(false)
				want := fs.FileMode(0o600)
				if mode != 0 {
					want = mode
				}
				if err != nil || st.Mode().Perm() != want {
					syscall.Umask(old)
					t.Fatalf("umask %#o, %s with Mode(%#o): file mode %v (%v), want %v", mask, k.name, mode, st.Mode().Perm(), err, want)
				}
			}
		}
		syscall.Umask(old)
	}
}

// TestSecurityForeignOwnerRefused: a file of the name owned by another
// user is refused unless the caller opts in (root only: the test chowns).
func TestSecurityForeignOwnerRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown a file to another user")
	}
	proctest.CheckShm(t)
	for _, k := range kindCases {
		opened, closeIt, err := k.create(uniqueName(t, "obj"), 0)
		if err != nil {
			t.Fatal(err)
		}
		closeIt(false)
		path := filepath.Join("/dev/shm", k.file(opened))
		unlinkFile(t, k.file(opened))
		if err := os.Chown(path, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if c, err := k.open(opened, false); !errors.Is(err, shm.ErrForeignOwner) {
			if c != nil {
				c()
			}
			t.Fatalf("%s owned by uid 65534: open = %v, want ErrForeignOwner", k.name, err)
		} else if !strings.Contains(err.Error(), k.file(opened)) {
			t.Errorf("%s: the error does not name the file: %v", k.name, err)
		}
		c, err := k.open(opened, true)
		if err != nil {
			t.Fatalf("%s owned by uid 65534, AllowForeignOwner: %v", k.name, err)
		}
		c()
	}
}

// TestSecuritySymlinkRefused: a symbolic link planted at an object's name
// is refused by Open, and Create neither follows it nor replaces it.
func TestSecuritySymlinkRefused(t *testing.T) {
	proctest.CheckShm(t)
	for _, k := range kindCases {
		// A real object, the link's target.
		target, closeIt, err := k.create(uniqueName(t, "obj"), 0)
		if err != nil {
			t.Fatal(err)
		}
		closeIt(false)
		targetPath := filepath.Join("/dev/shm", k.file(target))
		unlinkFile(t, k.file(target))
		before, _ := os.ReadFile(targetPath)
		link := uniqueName(t, "link")
		linkPath := filepath.Join("/dev/shm", k.file(link))
		if err := os.Symlink(targetPath, linkPath); err != nil {
			t.Fatal(err)
		}
		unlinkFile(t, k.file(link))
		if c, err := k.open(link, true); err == nil {
			c()
			t.Fatalf("%s: Open followed a symlink to %s", k.name, targetPath)
		}
		after, _ := os.ReadFile(targetPath)
		if string(before) != string(after) {
			t.Fatalf("%s: opening a symlink changed its target", k.name)
		}
		// Create at a dangling link: fs.ErrExist, and no file where it points.
		dangling := filepath.Join(t.TempDir(), "created-through-a-link")
		link2 := uniqueName(t, "dangling")
		if err := os.Symlink(dangling, filepath.Join("/dev/shm", k.file(link2))); err != nil {
			t.Fatal(err)
		}
		unlinkFile(t, k.file(link2))
		if _, c, err := k.create(link2, 0); !errors.Is(err, fs.ErrExist) {
			if c != nil {
				c(false)
			}
			t.Fatalf("%s: Create over a planted symlink = %v, want fs.ErrExist", k.name, err)
		}
		if _, err := os.Lstat(dangling); err == nil {
			t.Fatalf("%s: Create followed a planted symlink and made %s", k.name, dangling)
		}
		if st, err := os.Lstat(filepath.Join("/dev/shm", k.file(link2))); err != nil || st.Mode()&fs.ModeSymlink == 0 {
			t.Fatalf("%s: Create replaced the planted symlink", k.name)
		}
	}
}

// TestSecurityNamesStayInDevShm: no name reaches outside /dev/shm, or
// into a directory under it.
func TestSecurityNamesStayInDevShm(t *testing.T) {
	proctest.CheckShm(t)
	canary := "mpgo_test_escape"
	bad := []string{"../" + canary, "/../" + canary, "a/" + canary, "/a/b", "..", ".", "/..", "x\x00y", "/", "//", strings.Repeat("n", 300)}
	for _, k := range kindCases {
		for _, name := range bad {
			if _, c, err := k.create(name, 0); !errors.Is(err, shm.ErrInvalidName) {
				if c != nil {
					c(true)
				}
				t.Errorf("%s: create %q = %v, want ErrInvalidName", k.name, name, err)
			}
			if c, err := k.open(name, false); !errors.Is(err, shm.ErrInvalidName) {
				if c != nil {
					c()
				}
				t.Errorf("%s: open %q = %v, want ErrInvalidName", k.name, name, err)
			}
		}
		if c, err := k.open("", false); !errors.Is(err, shm.ErrInvalidName) {
			if c != nil {
				c()
			}
			t.Errorf("%s: open \"\" = %v, want ErrInvalidName", k.name, err)
		}
		// Leading slashes are Python's form of the same name.
		name := uniqueName(t, "slashes")
		opened, c, err := k.create("//"+name, 0)
		if err != nil {
			t.Fatalf("%s: create //%s: %v", k.name, name, err)
		}
		c(false)
		unlinkFile(t, k.file(opened))
		if _, err := os.Stat(filepath.Join("/dev/shm", k.file(name))); err != nil {
			t.Fatalf("%s: //%s did not make /dev/shm/%s: %v", k.name, name, k.file(name), err)
		}
	}
	for _, p := range []string{"/dev/" + canary, "/" + canary, "/dev/shm/a"} {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("%s exists: a name escaped /dev/shm", p)
		}
	}
}

// rewriteHeader changes a typed object's header in its file (the object
// closed) and fixes the checksum, as an attacker who knows the format would.
func rewriteHeader(t *testing.T, path string, change func(h []byte)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	change(b)
	binary.LittleEndian.PutUint32(b[124:], crc32.Checksum(b[:124], crc32.MakeTable(crc32.Castagnoli)))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSecurityHeaderClaimingMoreThanTheFile: sizes in a header (or a file
// cut short) that promise more bytes than the file holds are refused at
// Open with ErrCorrupt, before anything is mapped and read.
func TestSecurityHeaderClaimingMoreThanTheFile(t *testing.T) {
	proctest.CheckShm(t)
	le := binary.LittleEndian
	for _, k := range kindCases {
		type lie struct {
			what string
			do   func(path string)
		}
		lies := []lie{{"cut to 100 bytes", func(p string) { os.Truncate(p, 100) }}}
		if k.typed {
			lies = append(lies,
				lie{"payload size past the end", func(p string) {
					st, _ := os.Stat(p)
					rewriteHeader(t, p, func(h []byte) { le.PutUint64(h[24:], uint64(st.Size())) })
				}},
				lie{"payload size 2^64-1", func(p string) {
					rewriteHeader(t, p, func(h []byte) { le.PutUint64(h[24:], ^uint64(0)) })
				}},
				lie{"elements past the payload", func(p string) {
					rewriteHeader(t, p, func(h []byte) {
						le.PutUint32(h[32:], 8)
						le.PutUint64(h[40:], le.Uint64(h[24:])/8+1)
					})
				}},
				lie{"cut one byte short of the payload", func(p string) {
					st, _ := os.Stat(p)
					b, _ := os.ReadFile(p)
					need := 128 + int64(le.Uint64(b[24:]))
					os.Truncate(p, min(need, st.Size())-1)
				}},
			)
		} else {
			lies = append(lies, lie{"cut to 40 bytes", func(p string) { os.Truncate(p, 40) }})
		}
		for _, l := range lies {
			opened, closeIt, err := k.create(uniqueName(t, "obj"), 0)
			if err != nil {
				t.Fatal(err)
			}
			closeIt(false)
			path := filepath.Join("/dev/shm", k.file(opened))
			unlinkFile(t, k.file(opened))
			l.do(path)
			c, err := k.open(opened, false)
			if k.name == "shm" {
				// A raw segment has no header: any size is its size.
				if err != nil {
					t.Fatalf("shm %s: %v", l.what, err)
				}
				c()
				continue
			}
			if !errors.Is(err, shm.ErrCorrupt) {
				if c != nil {
					c()
				}
				t.Fatalf("%s, %s: open = %v, want ErrCorrupt", k.name, l.what, err)
			}
		}
	}
}

// A forgedLock is a lock whose word a test overwrites.
type forgedLock struct {
	name string
	word *uint64 // the 64-bit lock word in this process's own mapping
	// wait blocks on the lock (or on the object through it) until ctx ends.
	wait   func(ctx context.Context) error
	try    func() bool // nil if the kind has no non-blocking form
	repair func()      // after wait took the lock over (ErrOwnerDead): mark and unlock
	done   func()      // close and unlink
}

// forgedLocks makes one object of each kind that has a robust lock and
// finds its lock word.
func forgedLocks(t *testing.T) []forgedLock {
	var out []forgedLock
	lockOf := func(name string, lk robustLocker, file string, done func()) forgedLock {
		return forgedLock{name: name, word: lockWordIn(t, lk, file), wait: lk.LockContext,
			try: func() bool {
				ok := lk.(interface{ TryLock() bool }).TryLock()
				if ok {
					lk.Unlock()
				}
				return ok
			}, repair: func() { lk.MarkConsistent(); lk.Unlock() }, done: done}
	}
	l, err := sem.NewLock()
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, lockOf("Lock", l, l.Name(), func() { l.Close(); l.Unlink() }))
	r, err := sem.NewRLock()
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, lockOf("RLock", r, r.Name(), func() { r.Close(); r.Unlink() }))
	c, err := sem.NewCondition(nil)
	if err != nil {
		t.Fatal(err)
	}
	cl := c.Locker().(*sem.RLock)
	out = append(out, lockOf("Condition", cl, cl.Name(), func() { c.Close(); c.Unlink(); cl.Close(); cl.Unlink() }))
	a, err := array.New[int64](8)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, lockOf("Array", a.Lock(), a.Name(), func() { a.Close(); a.Unlink() }))
	v, err := value.New[[4]int64]([4]int64{})
	if err != nil {
		t.Fatal(err)
	}
	fv := lockOf("Value", v.Lock(), v.Name(), func() { v.Close(); v.Unlink() })
	fv.wait = func(ctx context.Context) error { return v.UpdateContext(ctx, func(x *[4]int64) { x[0]++ }) }
	fv.repair = func() {} // UpdateContext released the lock it took over
	out = append(out, fv)
	b, err := barrier.New(2)
	if err != nil {
		t.Fatal(err)
	}
	// The barrier's lock M is the first record of its payload (barrier.go).
	raw, err := shm.Open(b.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	out = append(out, forgedLock{name: "Barrier", word: (*uint64)(unsafe.Pointer(&raw.Bytes()[128])),
		wait:   func(ctx context.Context) error { _, err := b.Wait(ctx); return err },
		repair: func() {}, // Wait repaired M and released it
		done:   func() { b.Close(); b.Unlink() }})
	return out
}

// lockWordIn finds lk's word in the file of that name by holding lk and
// looking for this process's identity, so the test does not depend on
// where a kind keeps its lock record.
func lockWordIn(t *testing.T, lk robustLocker, file string) *uint64 {
	t.Helper()
	raw, err := shm.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	me := proc.Self()
	mine := uint64(me.PID) | uint64(me.Tag)<<32
	if err := lk.LockContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer lk.Unlock()
	b := raw.Bytes()
	for off := 0; off+8 <= len(b); off += 8 {
		if w := (*uint64)(unsafe.Pointer(&b[off])); atomic.LoadUint64(w) == mine {
			return w
		}
	}
	t.Fatalf("no lock word %#x in %s while we hold its lock", mine, file)
	return nil
}

// TestSecurityForgedOwnerIsALiveProcess: a lock word forged to name a
// live unrelated process (pid 1, with its true identity) is a lock held by
// a process that never lets go. Waiting for it ends when ctx ends — at the
// deadline, or at once on cancel — never with the lock; and the wait is
// made of bounded sleeps: when the word turns into a dead process's, with
// no wake-up at all, the waiter notices and takes it over.
func TestSecurityForgedOwnerIsALiveProcess(t *testing.T) {
	proctest.CheckShm(t)
	init1, err := proc.Lookup(1)
	if err != nil {
		t.Skipf("cannot read pid 1's identity: %v", err)
	}
	forged := uint64(1) | uint64(init1.Tag)<<32
	for _, f := range forgedLocks(t) {
		atomic.StoreUint64(f.word, forged)
		// The deadline.
		const d = 300 * time.Millisecond
		start := time.Now() // before the deadline is set, so the wait takes at least d
		ctx, cancel := context.WithTimeout(context.Background(), d)
		err := f.wait(ctx)
		took := time.Since(start)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || took < d || took > d+2*time.Second {
			t.Fatalf("%s held by pid 1: wait with a %v deadline = %v after %v, want DeadlineExceeded at the deadline", f.name, d, err, took)
		}
		if f.try != nil && f.try() {
			t.Fatalf("%s held by pid 1: TryLock succeeded", f.name)
		}
		// A cancel with no deadline.
		ctx, cancel = context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start = time.Now()
		err = f.wait(ctx)
		if took := time.Since(start); !errors.Is(err, context.Canceled) || took > 2*time.Second {
			t.Fatalf("%s held by pid 1: wait cancelled after 100ms = %v after %v, want Canceled at once", f.name, err, took)
		}
		// Waiters may set flag bits (waiters, handoff); the owner must stay.
		if w := atomic.LoadUint64(f.word); uint32(w>>32) != init1.Tag || w&0xffff != 1 {
			t.Fatalf("%s: the forged word became %#x: a waiter wrote over a live owner", f.name, w)
		}
		// Bounded sleeps: no deadline, no cancel, no wake-up; only the
		// owner's identity changes under the sleeper (the futex half of
		// the word stays as it is).
		done := make(chan error, 1)
		go func() {
			err := f.wait(context.Background())
			if err != nil && (errors.Is(err, sem.ErrOwnerDead) || errors.Is(err, value.ErrOwnerDead)) {
				f.repair() // on this goroutine: an RLock is its holder's
			}
			done <- err
		}()
		time.Sleep(200 * time.Millisecond)
		for {
			w := atomic.LoadUint64(f.word)
			if atomic.CompareAndSwapUint64(f.word, w, w&0xffffffff|uint64(init1.Tag^1)<<32) {
				break
			}
		}
		select {
		case err := <-done:
			if f.name != "Barrier" && !errors.Is(err, sem.ErrOwnerDead) && !errors.Is(err, value.ErrOwnerDead) {
				t.Fatalf("%s: after the owner turned into a dead process: %v, want ErrOwnerDead", f.name, err)
			}
			if f.name == "Barrier" && err == nil {
				t.Fatalf("%s: Wait of one of two parties returned nil", f.name)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: a waiter with no deadline did not notice its owner's death in 10 s: it sleeps without a bound", f.name)
		}
		if w := atomic.LoadUint64(f.word); w != 0 {
			t.Fatalf("%s: lock word %#x after the takeover was released", f.name, w)
		}
		f.done()
	}
}
