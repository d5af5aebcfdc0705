package reexec_test

import (
	"fmt"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/multiproc/multiproc/internal/reexec"
)

func init() {
	reexec.Register("rt.affinity", func([]string) int {
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &set); err != nil {
			fmt.Println(err)
			return 1
		}
		fmt.Printf("gomaxprocs=%d cpus=%s\n", runtime.GOMAXPROCS(0), cpus(&set))
		return 0
	})
}

func cpus(set *unix.CPUSet) string {
	s := ""
	for i := range 1024 {
		if set.IsSet(i) {
			if s != "" {
				s += ","
			}
			s += strconv.Itoa(i)
		}
	}
	return s
}

// A child started with an Affinity runs on those CPUs from its start, so
// its Go runtime sizes GOMAXPROCS from them, with ParentDeath (forked on
// the lasting thread) and without; and neither this goroutine's thread
// nor the lasting one stays pinned.
func TestAffinityAtStart(t *testing.T) {
	var own unix.CPUSet
	if err := unix.SchedGetaffinity(0, &own); err != nil {
		t.Fatal(err)
	}
	if own.Count() < 2 {
		t.Skip("one CPU: pinning changes nothing to see")
	}
	var last int
	for i := range 1024 {
		if own.IsSet(i) {
			last = i
		}
	}
	var one unix.CPUSet
	one.Set(last)
	for _, daemon := range []bool{false, true} {
		c := reexec.Command("rt.affinity")
		c.Affinity = &one
		c.ParentDeath = daemon
		out, err := output(t, c)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("gomaxprocs=1 cpus=%d\n", last); out != want {
			t.Errorf("ParentDeath %v: the child says %q, want %q", daemon, out, want)
		}
		// The thread that forked is put back: a child started after,
		// without an Affinity, inherits all of this process's CPUs.
		c = reexec.Command("rt.affinity")
		c.ParentDeath = daemon
		out, err = output(t, c)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("gomaxprocs=%d cpus=%s\n", runtime.GOMAXPROCS(0), cpus(&own)); out != want {
			t.Errorf("ParentDeath %v, after a pinned start: the child says %q, want %q", daemon, out, want)
		}
	}
}
