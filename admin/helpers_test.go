package admin_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/multiproc/multiproc/admin"
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/proc"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/sem"
)

func init() {
	proctest.Register("leak", leakRole)
	proctest.Register("lock-hold", lockHoldRole)
}

// leakRole makes one object of each kind in args the way a program whose
// tracker never ran would leave it: created, never registered, never
// removed. It prints "obj NAME" for each and exits.
func leakRole(args []string) error {
	for _, kind := range args {
		name, err := makeUntracked(kind)
		if err != nil {
			return err
		}
		fmt.Println("obj", name)
	}
	return nil
}

// makeUntracked creates an object of kind ("raw" or "lock") without
// registering it with any tracker, as segment's own constructors would
// otherwise do.
func makeUntracked(kind string) (string, error) {
	me := proc.Self()
	switch kind {
	case "raw":
		f, err := segment.Create(segment.Generate("raw"), 4096, segment.CreateOptions{}, nil)
		if err != nil {
			return "", err
		}
		defer f.Close()
		return f.Name, segment.SetMeta(f.Fd(), segment.Meta{Kind: "raw", PID: me.PID, Start: me.Start, Created: time.Now().UnixNano()})
	case "lock":
		h := layout.Header{Kind: layout.KindLock, PayloadSize: 64, CreatorPID: uint32(me.PID), CreatorStart: me.Start, Created: time.Now().UnixNano()}
		f, err := segment.Create(segment.Generate("lock"), layout.HeaderSize+64, segment.CreateOptions{}, func(b []byte) error {
			h.Encode(b)
			return nil
		})
		if err != nil {
			return "", err
		}
		return f.Name, f.Close()
	}
	return "", fmt.Errorf("leak: unknown kind %q", kind)
}

// lockHoldRole takes the Lock args[0], says "holding" and waits to be killed.
func lockHoldRole(args []string) error {
	l, err := sem.OpenLock(args[0])
	if err != nil {
		return err
	}
	l.Lock()
	fmt.Println("holding")
	for { // not select{}: the runtime would call that a deadlock and exit
		time.Sleep(time.Hour)
	}
}

// leaked runs the leak role and returns the names it left behind. The
// caller holds the "sweep" lock, so no other package's test sweeps them.
func leaked(t *testing.T, kinds ...string) []string {
	t.Helper()
	c := proctest.Start(t, "leak", kinds...)
	c.MustSucceed()
	var names []string
	for _, l := range c.Output() {
		if n, ok := strings.CutPrefix(l, "obj "); ok {
			names = append(names, n)
			t.Cleanup(func() { os.Remove(segment.Path(n)) })
		}
	}
	if len(names) != len(kinds) {
		t.Fatalf("leak role made %v", names)
	}
	return names
}

// exclusive serialises the tests that sweep with other packages' (cmd/multiproc).
func exclusive(t *testing.T) {
	t.Cleanup(proctest.Exclusive("sweep"))
}

// foreign makes a file in /dev/shm that is not multiproc's and removes it
// at the end of the test, failing it if anything removed it before.
func foreign(t *testing.T, name string, content []byte) string {
	t.Helper()
	p := segment.Path(name)
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Remove(p); err != nil {
			t.Errorf("foreign file %s was touched: %v", name, err)
		}
	})
	return name
}

// glibcSem is the 32 bytes of a semaphore made by C's sem_open: value 1,
// the shared-futex flag, no multiproc trailer.
func glibcSem() []byte {
	b := make([]byte, 32)
	binary.LittleEndian.PutUint32(b[0:], 1)
	binary.LittleEndian.PutUint32(b[8:], 128)
	return b
}

func find(t *testing.T, objs []admin.Object, name string) (admin.Object, bool) {
	t.Helper()
	for _, o := range objs {
		if o.Name == name {
			return o, true
		}
	}
	return admin.Object{}, false
}

func mustList(t *testing.T) []admin.Object {
	t.Helper()
	objs, err := admin.List()
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func pidName(prefix string) string {
	return fmt.Sprintf("%s%d_%d", prefix, os.Getpid(), time.Now().UnixNano())
}
