package admin_test

import (
	"errors"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/multiproc/multiproc/admin"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/shm"
)

func TestSweepRemovesLeakedObjectsOnly(t *testing.T) {
	proctest.CheckShm(t)
	exclusive(t)
	leak := leaked(t, "raw", "lock", "raw")
	held := leak[2]
	h, err := shm.Open(held) // leaked by its creator, but someone still uses it
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	keep, err := shm.Create("", 64, shm.Persistent())
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Unlink()
	keep.Close() // unheld, but persistent: never swept
	psm := foreign(t, pidName("psm_test_"), make([]byte, 64))
	csem := foreign(t, pidName("sem.foreign_"), glibcSem())

	objs := mustList(t)
	for i, name := range leak {
		o, ok := find(t, objs, name)
		if wantLeaked := i < 2; !ok || o.Leaked != wantLeaked || o.CreatorAlive || o.Watched {
			t.Fatalf("%s: %+v (listed %v); want leaked=%v, creator dead, unwatched", name, o, ok, wantLeaked)
		}
	}

	dry, err := admin.Sweep(admin.SweepOptions{DryRun: true})
	if err != nil || !contains(dry, leak[0]) || !contains(dry, leak[1]) || contains(dry, held) {
		t.Fatalf("dry run: %v, %v", names(dry), err)
	}
	if young, _ := admin.Sweep(admin.SweepOptions{DryRun: true, OlderThan: time.Hour}); contains(young, leak[0]) {
		t.Fatalf("OlderThan an hour picked a fresh object: %v", names(young))
	}
	for _, name := range append(leak, keep.Name(), psm, csem) {
		if _, err := os.Stat(segment.Path(name)); err != nil {
			t.Fatalf("dry run removed %s", name)
		}
	}

	gone, err := admin.Sweep(admin.SweepOptions{})
	if err != nil || !contains(gone, leak[0]) || !contains(gone, leak[1]) {
		t.Fatalf("sweep: %v, %v", names(gone), err)
	}
	for _, name := range leak[:2] {
		if _, err := os.Stat(segment.Path(name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("leaked %s still there", name)
		}
	}
	for _, name := range []string{held, keep.Name(), psm, csem} {
		if _, err := os.Stat(segment.Path(name)); err != nil {
			t.Errorf("sweep removed %s, which it must keep", name)
		}
	}
	h.Close() // now nobody holds it: the next sweep takes it
	if gone, err := admin.Sweep(admin.SweepOptions{}); err != nil || !contains(gone, held) {
		t.Fatalf("second sweep: %v, %v", names(gone), err)
	}
}

func TestRemoveRefusesHeldUnlessForced(t *testing.T) {
	proctest.CheckShm(t)
	seg, err := shm.Create("", 64, shm.Persistent())
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Unlink()
	defer seg.Close()
	if _, err := admin.Remove(seg.Name(), false); !errors.Is(err, admin.ErrHeld) {
		t.Fatalf("Remove(held) = %v; want ErrHeld", err)
	}
	if _, err := os.Stat(segment.Path(seg.Name())); err != nil {
		t.Fatal("refused remove removed it")
	}
	o, err := admin.Remove(seg.Name(), true)
	if err != nil || o.Kind != "raw segment" || !o.Persistent {
		t.Fatalf("Remove(held, force) = %+v, %v", o, err)
	}
	if _, err := os.Stat(segment.Path(seg.Name())); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("forced remove left the file")
	}
	copy(seg.Bytes(), "still mapped") // the holder keeps its mapping
}

func TestRemoveTakesAnUnheldPersistentObject(t *testing.T) {
	proctest.CheckShm(t)
	seg, err := shm.Create("", 64, shm.Persistent())
	if err != nil {
		t.Fatal(err)
	}
	name := seg.Name()
	seg.Close()
	if o, err := admin.Remove(name, false); err != nil || !o.Persistent {
		t.Fatalf("Remove(persistent) = %+v, %v", o, err)
	}
	if _, err := admin.Remove(name, false); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("second Remove = %v; want fs.ErrNotExist", err)
	}
}
