package bench

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
)

func init() {
	proctest.Register("bench-cond-pong", roleBenchCondPong)
}

// roleBenchCondPong: cond, segment, n, spin. Answers n pings: waits for an
// odd turn, makes it even, notifies.
func roleBenchCondPong(args []string) error {
	spin, _ := time.ParseDuration(args[3])
	sem.SetSpin(spin)
	c, err := sem.OpenCondition(args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	seg, err := shm.Open(args[1])
	if err != nil {
		return err
	}
	defer seg.Close()
	turn := (*uint64)(unsafe.Pointer(&seg.Bytes()[0]))
	n := atoi(args[2])
	ctx := context.Background()
	fmt.Println("ready")
	c.Lock()
	defer c.Unlock()
	for i := range n {
		want := uint64(2*i + 1)
		if err := c.WaitFor(ctx, func() bool { return *turn == want }); err != nil {
			return err
		}
		*turn = want + 1
		c.Notify(1)
	}
	return nil
}

// BenchmarkConditionPingPong: one op is a round trip between two processes
// through one Condition: the parent makes the turn odd and notifies, the
// child wakes, makes it even and notifies, the parent wakes. Each side
// waits with the lock released, so every op is two notifications of a
// waiting process plus two lock handoffs. spin=0 makes every wait sleep in
// the kernel; with the default spin a waiter catches a prompt notification
// while spinning.
func BenchmarkConditionPingPong(b *testing.B) {
	for _, flavor := range []string{"Lock", "RLock"} {
		for _, spin := range spins {
			b.Run(fmt.Sprintf("lock=%s/spin=%v", flavor, spin), func(b *testing.B) {
				benchCondPingPong(b, flavor, spin)
			})
		}
	}
}

func benchCondPingPong(b *testing.B, flavor string, spin time.Duration) {
	defer sem.SetSpin(sem.SetSpin(spin))
	var c *sem.Condition
	var err error
	if flavor == "Lock" {
		l, lerr := sem.NewLock()
		if lerr != nil {
			b.Fatal(lerr)
		}
		defer l.Unlink()
		defer l.Close()
		c, err = sem.NewCondition(l)
	} else {
		c, err = sem.NewCondition(nil) // its own RLock
	}
	if err != nil {
		b.Fatal(err)
	}
	defer c.Unlink()
	defer c.Close()
	seg, err := shm.Create("", 4096)
	if err != nil {
		b.Fatal(err)
	}
	defer seg.Unlink()
	defer seg.Close()
	turn := (*uint64)(unsafe.Pointer(&seg.Bytes()[0]))
	child := proctest.Start(b, "bench-cond-pong", c.Name(), seg.Name(), strconv.Itoa(b.N), spin.String())
	child.WaitLine("ready")
	ctx := context.Background()
	b.ResetTimer()
	c.Lock()
	for i := range b.N {
		*turn = uint64(2*i + 1)
		c.Notify(1)
		want := uint64(2*i + 2)
		if err := c.WaitFor(ctx, func() bool { return *turn == want }); err != nil {
			b.Fatal(err)
		}
	}
	c.Unlock()
	child.MustSucceed()
}
