package admin_test

import (
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/multiproc/multiproc/admin"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/sem"
)

// Inspect reads every kind's state the same way, from a copy of its bytes:
// it never opens the object for use, so it neither holds it (a tracker
// would see a holder) nor waits behind a sweeper's exclusive flock. It used
// to open Locks, RLocks and Conditions, which blocked here.
func TestInspectTakesNoFlock(t *testing.T) {
	proctest.CheckShm(t)
	name := func(what string) sem.Option { return sem.Name(fmt.Sprintf("admin_test_%d_%s", os.Getpid(), what)) }
	l, err := sem.NewLock(name("lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlink()
	c, err := sem.NewCondition(l, name("cond"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Unlink()
	own, err := sem.NewCondition(nil, name("owncond"))
	if err != nil {
		t.Fatal(err)
	}
	defer own.Unlink()
	l.Lock()
	objs := []string{l.Name(), c.Name(), own.Name()}
	c.Close()
	own.Close()
	l.Close() // named: the objects stay, held by nobody; l stays locked by us
	for _, n := range objs {
		f, err := os.Open(segment.Path(n))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			t.Fatal(err) // what a sweeper holds while it removes
		}
	}
	done := make(chan []admin.Info, 1)
	go func() {
		var infos []admin.Info
		for _, n := range objs {
			info, err := admin.Inspect(n)
			if err != nil {
				t.Error(err)
			}
			infos = append(infos, info)
		}
		done <- infos
	}()
	select {
	case infos := <-done:
		for _, info := range infos {
			if info.Problem != "" || info.Lock == nil {
				t.Errorf("%s: problem %q, lock %+v", info.Name, info.Problem, info.Lock)
			}
		}
		if infos[0].Lock != nil && (!infos[0].Lock.Locked || infos[0].Lock.Owner != os.Getpid()) {
			t.Errorf("lock state %+v, want locked by us", *infos[0].Lock)
		}
		if infos[1].Lock != nil && !infos[1].Lock.Locked {
			t.Errorf("condition's lock (ours, locked) shows %+v", *infos[1].Lock)
		}
		if infos[1].Condition == nil || infos[2].Condition == nil {
			t.Errorf("no condition state: %+v, %+v", infos[1].Condition, infos[2].Condition)
		}
	case <-proctest.Context(t).Done():
		t.Fatal("Inspect blocked behind an exclusive flock: it opened the object for use")
	}
}
