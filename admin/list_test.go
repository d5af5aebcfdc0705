package admin_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/multiproc/multiproc/admin"
	"github.com/multiproc/multiproc/array"
	"github.com/multiproc/multiproc/barrier"
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
	"github.com/multiproc/multiproc/value"
)

func TestListShowsEveryKindOfOursAndNothingElse(t *testing.T) {
	proctest.CheckShm(t)
	seg, err := shm.Create("", 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Unlink()
	defer seg.Close()
	keep, err := shm.Create("", 64, shm.Persistent())
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Unlink()
	defer keep.Close()
	l, err := sem.NewLock()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlink()
	defer l.Close()
	s, err := sem.NewBoundedSemaphore(3)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unlink()
	defer s.Close()
	v, err := value.New[int64](7)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Unlink()
	defer v.Close()
	a, err := array.New[float32](10)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Unlink()
	defer a.Close()
	psm := foreign(t, pidName("psm_test_"), make([]byte, 4096))
	csem := foreign(t, pidName("sem.foreign_"), glibcSem())

	objs := mustList(t)
	want := map[string]string{seg.Name(): "raw segment", keep.Name(): "raw segment", l.Name(): "Lock",
		semFile(s.Name()): "BoundedSemaphore", v.Name(): "Value", a.Name(): "Array"}
	me := os.Getpid()
	for name, kind := range want {
		o, ok := find(t, objs, name)
		if !ok {
			t.Errorf("%s (%s) not listed", name, kind)
			continue
		}
		if o.Kind != kind || o.CreatorPID != me || !o.CreatorAlive || !o.Held || o.Leaked || o.Problem != "" {
			t.Errorf("%s: %+v; want kind %s, created by us (alive), held, not leaked", name, o, kind)
		}
		if o.Age < 0 || o.Age > time.Minute || o.Created.IsZero() {
			t.Errorf("%s: created %v, age %v", name, o.Created, o.Age)
		}
		if persistent := name == keep.Name(); o.Persistent != persistent || o.Tracked == persistent {
			t.Errorf("%s: persistent %v tracked %v", name, o.Persistent, o.Tracked)
		}
	}
	// The registration reaches the tracker through a pipe; it soon shows.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if o, _ := find(t, mustList(t), seg.Name()); o.Watched {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not watched, though this test binary's tracker registered it", seg.Name())
		}
	}
	for _, name := range []string{psm, csem} {
		if _, ok := find(t, objs, name); ok {
			t.Errorf("foreign file %s listed", name)
		}
	}
	for _, o := range objs {
		if o.Kind == admin.KindTracker && o.CreatorPID > 0 && o.CreatorAlive && o.Leaked {
			t.Errorf("live tracker's registry %s called leaked", o.Name)
		}
	}
}

func TestInspectSaysALockOwnerWasKilled(t *testing.T) {
	proctest.CheckShm(t)
	l, err := sem.NewLock()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlink()
	defer l.Close()
	c := proctest.Start(t, "lock-hold", l.Name())
	c.WaitLine("holding")
	info, err := admin.Inspect(l.Name())
	if err != nil {
		t.Fatal(err)
	}
	if info.Lock == nil || !info.Lock.Locked || info.Lock.Owner != c.Pid() || !info.Lock.OwnerAlive {
		t.Fatalf("held lock: %+v", info.Lock)
	}
	c.Kill()
	info, err = admin.Inspect("/" + l.Name())
	if err != nil {
		t.Fatal(err)
	}
	if info.Lock == nil || !info.Lock.Locked || info.Lock.Owner != c.Pid() || info.Lock.OwnerAlive {
		t.Fatalf("lock of a killed owner: %+v; want locked by pid %d, dead", info.Lock, c.Pid())
	}
	if !hasField(info, "owner pid", fmt.Sprintf("%d (dead)", c.Pid())) {
		t.Fatalf("fields %v", info.Fields())
	}
}

func hasField(info admin.Info, label, value string) bool {
	for _, f := range info.Fields() {
		if f.Label == label && f.Value == value {
			return true
		}
	}
	return false
}

func TestInspectShowsEachKindsState(t *testing.T) {
	proctest.CheckShm(t)
	s, err := sem.NewSemaphore(5)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unlink()
	defer s.Close()
	s.TryAcquire()
	c, err := sem.NewCondition(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Unlink()
	defer c.Close()
	v, err := value.New[int32](1)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Unlink()
	defer v.Close()
	a, err := array.New[float64](12)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Unlink()
	defer a.Close()

	e, err := sem.NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Unlink()
	defer e.Close()
	e.Set()
	b, err := barrier.New(3)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Unlink()
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	waited := make(chan error, 1)
	go func() { _, err := b.Wait(ctx); waited <- err }()
	defer func() { cancel(); <-waited }()

	info := mustInspect(t, e.Name())
	if info.Event == nil || !info.Event.Set || !hasField(info, "flag", "set") {
		t.Errorf("event: %+v %v", info.Event, info.Fields())
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		info = mustInspect(t, b.Name())
		if info.Barrier != nil && info.Barrier.Waiting == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("barrier never showed its waiter: %+v", info.Barrier)
		}
	}
	if st := info.Barrier; st.Parties != 3 || st.Broken || len(st.PIDs) != 1 || st.PIDs[0] != os.Getpid() ||
		!hasField(info, "waiting", fmt.Sprintf("1 (pids %d)", os.Getpid())) || !hasField(info, "broken", "no") {
		t.Errorf("barrier: %+v %v", st, info.Fields())
	}

	info = mustInspect(t, semFile(s.Name()))
	if st := info.Semaphore; st == nil || st.Value != 4 || st.Bounded || info.Kind != "Semaphore" {
		t.Errorf("semaphore: %+v %+v", info.Object, st)
	}
	info = mustInspect(t, c.Name())
	if info.Condition == nil || info.Condition.Waiters != 0 || info.Lock == nil || info.Lock.Locked {
		t.Errorf("condition: %+v lock %+v", info.Condition, info.Lock)
	}
	v.Lock().Lock() // a locked Value shows its lock's owner
	info = mustInspect(t, v.Name())
	v.Lock().Unlock()
	if e := info.Elem; e == nil || e.Type != "int32" || e.Size != 4 || e.Len != 1 {
		t.Errorf("value: %+v", e)
	}
	if l := info.Lock; l == nil || !l.Locked || l.Owner != os.Getpid() || !l.OwnerAlive {
		t.Errorf("value lock: %+v", l)
	}
	info = mustInspect(t, "/dev/shm/"+a.Name())
	if e := info.Elem; e == nil || e.Type != "float64" || e.Size != 8 || e.Len != 12 {
		t.Errorf("array: %+v", e)
	}
	if l := info.Lock; l == nil || l.Locked {
		t.Errorf("array lock: %+v", l)
	}
	if !hasField(info, "length", "12") || !hasField(info, "element", "float64 (8 bytes)") {
		t.Errorf("array fields: %v", info.Fields())
	}
	raw, err := value.NewRaw[int64](0)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Unlink()
	defer raw.Close()
	if info = mustInspect(t, raw.Name()); info.Lock != nil {
		t.Errorf("raw value shows a lock: %+v", info.Lock)
	}
}

func TestInspectATrackersRegistry(t *testing.T) {
	proctest.CheckShm(t)
	seg, err := shm.Create("", 64) // registers: this binary's tracker runs
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Unlink()
	defer seg.Close()
	for _, o := range mustList(t) {
		if o.Kind != admin.KindTracker || !o.CreatorAlive {
			continue
		}
		info := mustInspect(t, o.Name)
		if info.Registry == nil {
			t.Fatalf("%s: no tracker state", o.Name)
		}
		if info.Registry.ProgramPID != os.Getpid() {
			continue // another program's tracker
		}
		if !info.Held || info.Leaked || !info.Registry.ProgramAlive || info.Registry.ClientsGone {
			t.Fatalf("our tracker's registry: %+v %+v", info.Object, info.Registry)
		}
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(strings.Join(info.Registry.Objects, " "), seg.Name()) {
			if time.Now().After(deadline) { // the registration is still in the pipe
				t.Fatalf("registry lists %v, not %s", info.Registry.Objects, seg.Name())
			}
			time.Sleep(10 * time.Millisecond)
			info = mustInspect(t, o.Name)
		}
		return
	}
	t.Fatal("no registry of this test binary's tracker")
}

func TestBadNamesGiveClearErrors(t *testing.T) {
	proctest.CheckShm(t)
	psm := foreign(t, pidName("psm_test_"), make([]byte, 64))
	for _, tc := range []struct {
		name string
		want error
	}{
		{"mpgo_no_such_object", fs.ErrNotExist},
		{psm, admin.ErrNotOurs},
		{"a/b", segment.ErrInvalidName},
		{"", segment.ErrInvalidName},
	} {
		_, err := admin.Inspect(tc.name)
		if !errors.Is(err, tc.want) || (tc.name != "" && !strings.Contains(err.Error(), tc.name)) {
			t.Errorf("Inspect(%q) = %v; want %v naming it", tc.name, err, tc.want)
		}
		_, err = admin.Remove(tc.name, true)
		if !errors.Is(err, tc.want) {
			t.Errorf("Remove(%q, force) = %v; want %v", tc.name, err, tc.want)
		}
	}
}

func TestDamagedHeaderIsReportedAndNeverSwept(t *testing.T) {
	proctest.CheckShm(t)
	exclusive(t)
	// A Lock header whose checksum no longer matches, from a dead creator.
	name := pidName("mpgo_lock_damaged_")
	b := make([]byte, layout.HeaderSize+64)
	h := layout.Header{Kind: layout.KindLock, PayloadSize: 64, CreatorPID: 1 << 22, Created: time.Now().UnixNano()}
	h.Encode(b)
	b[30] ^= 0xff
	if err := os.WriteFile(segment.Path(name), b, 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(segment.Path(name))
	o, ok := find(t, mustList(t), name)
	if !ok || !strings.Contains(o.Problem, "checksum") || o.Leaked {
		t.Fatalf("damaged object listed as %+v (listed %v)", o, ok)
	}
	info := mustInspect(t, name)
	if !hasField(info, "problem", o.Problem) {
		t.Fatalf("inspect fields: %v", info.Fields())
	}
	if gone, err := admin.Sweep(admin.SweepOptions{}); err != nil || contains(gone, name) {
		t.Fatalf("Sweep removed the damaged file or failed: %v %v", names(gone), err)
	}
	if _, err := admin.Remove(name, false); !errors.Is(err, admin.ErrDamaged) || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("Remove(damaged) = %v; want ErrDamaged naming the checksum", err)
	}
	if _, err := admin.Remove(name, true); err != nil {
		t.Fatalf("Remove(damaged, force) = %v", err)
	}
	if _, err := os.Stat(segment.Path(name)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("forced remove left the file")
	}
}

func mustInspect(t *testing.T, name string) admin.Info {
	t.Helper()
	info, err := admin.Inspect(name)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// semFile is the file of a semaphore named name.
func semFile(name string) string {
	if strings.HasPrefix(name, "sem.") {
		return name
	}
	return "sem." + strings.TrimPrefix(name, "/")
}

func contains(objs []admin.Object, name string) bool {
	for _, o := range objs {
		if o.Name == name {
			return true
		}
	}
	return false
}

func names(objs []admin.Object) []string {
	var ns []string
	for _, o := range objs {
		ns = append(ns, o.Name)
	}
	return ns
}
