package admin_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/multiproc/multiproc/admin"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
)

func ExampleList() {
	seg, err := shm.Create("", 4096)
	if err != nil {
		panic(err)
	}
	defer seg.Unlink()
	defer seg.Close()

	objs, err := admin.List()
	if err != nil {
		panic(err)
	}
	for _, o := range objs {
		if o.Name == seg.Name() {
			fmt.Printf("%s, %d bytes, made by us: %v, held: %v, leaked: %v\n",
				o.Kind, o.Size, o.CreatorPID == os.Getpid(), o.Held, o.Leaked)
		}
	}
	// Output: raw segment, 4096 bytes, made by us: true, held: true, leaked: false
}

func ExampleInspect() {
	l, err := sem.NewLock()
	if err != nil {
		panic(err)
	}
	defer l.Unlink()
	defer l.Close()
	l.Lock()
	defer l.Unlock()

	info, err := admin.Inspect(l.Name())
	if err != nil {
		panic(err)
	}
	fmt.Println(info.Kind, "locked:", info.Lock.Locked, "by us:", info.Lock.Owner == os.Getpid(), "owner alive:", info.Lock.OwnerAlive)
	// Output: Lock locked: true by us: true owner alive: true
}

func ExampleSweep() {
	// A program that crashed without a tracker left a segment behind:
	// nobody holds it, its creator is dead, and no tracker will remove it.
	name, done := leftBehindByACrashedProgram()
	defer done()

	would, err := admin.Sweep(admin.SweepOptions{DryRun: true})
	if err != nil {
		panic(err)
	}
	for _, o := range would {
		if o.Name == name {
			fmt.Println("would remove a leaked", o.Kind)
		}
	}

	removed, err := admin.Sweep(admin.SweepOptions{})
	if err != nil {
		panic(err)
	}
	for _, o := range removed {
		if o.Name == name {
			fmt.Println("removed a leaked", o.Kind)
		}
	}
	_, err = os.Stat("/dev/shm/" + name)
	fmt.Println("gone:", os.IsNotExist(err))
	// Output:
	// would remove a leaked raw segment
	// removed a leaked raw segment
	// gone: true
}

// leftBehindByACrashedProgram runs a child that creates an untracked
// segment and exits. It holds the tests' sweep lock until done.
func leftBehindByACrashedProgram() (name string, done func()) {
	release := proctest.Exclusive("sweep")
	out, err := proctest.Command("leak", "raw").Output()
	if err != nil {
		panic(err)
	}
	name = strings.TrimPrefix(strings.TrimSpace(string(out)), "obj ")
	return name, func() { os.Remove("/dev/shm/" + name); release() }
}
