package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/sem"
)

// Placement of the processes of a cross-process benchmark on CPUs, given
// as sub-benchmark names: "same" puts every process on CPU 0 (a handoff is
// a context switch), "spread" puts process i on CPU i mod NumCPU (a handoff
// wakes another CPU), "any" leaves it to the scheduler. Only the thread
// doing the work is pinned (runtime.LockOSThread + sched_setaffinity).
var eventBarrierPlacements = []string{"same", "spread", "any"}

// eventBarrierCPU returns the CPU process i of a run with placement p
// should use, or -1 for no pinning.
func eventBarrierCPU(p string, i int) int {
	switch p {
	case "same":
		return 0
	case "spread":
		return i % runtime.NumCPU()
	}
	return -1
}

// eventBarrierPin pins the calling goroutine's thread to cpu (-1: no-op)
// and returns a function that undoes it.
func eventBarrierPin(cpu int) (undo func(), err error) {
	if cpu < 0 {
		return func() {}, nil
	}
	runtime.LockOSThread()
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	return func() {
		unix.SchedSetaffinity(0, &old)
		runtime.UnlockOSThread()
	}, nil
}

func init() {
	proctest.Register("event-bench-pong", eventPongRole)
	proctest.Register("event-bench-fifo-pong", fifoPongRole)
}

// eventPongRole answers n pings: args ping, pong, n, cpu.
func eventPongRole(args []string) error {
	ping, err := sem.OpenEvent(args[0])
	if err != nil {
		return err
	}
	defer ping.Close()
	pong, err := sem.OpenEvent(args[1])
	if err != nil {
		return err
	}
	defer pong.Close()
	n, _ := strconv.Atoi(args[2])
	cpu, _ := strconv.Atoi(args[3])
	undo, err := eventBarrierPin(cpu)
	if err != nil {
		return err
	}
	defer undo()
	ctx := context.Background()
	fmt.Println("ready")
	for range n {
		if err := ping.Wait(ctx); err != nil {
			return err
		}
		ping.Clear()
		pong.Set()
	}
	return nil
}

// BenchmarkEventPingPong measures one round trip between two processes:
// the parent Sets ping and Waits for pong, the child Waits for ping, Clears
// it and Sets pong. Each op is two cross-process wake-ups.
func BenchmarkEventPingPong(b *testing.B) {
	for _, p := range eventBarrierPlacements {
		b.Run("cpus="+p, func(b *testing.B) {
			if p == "spread" && runtime.NumCPU() < 2 {
				b.Skip("one CPU")
			}
			ping, err := sem.NewEvent()
			if err != nil {
				b.Fatal(err)
			}
			defer ping.Unlink()
			defer ping.Close()
			pong, err := sem.NewEvent()
			if err != nil {
				b.Fatal(err)
			}
			defer pong.Unlink()
			defer pong.Close()
			child := proctest.Start(b, "event-bench-pong", ping.Name(), pong.Name(),
				strconv.Itoa(b.N), strconv.Itoa(eventBarrierCPU(p, 1)))
			child.WaitLine("ready")
			undo, err := eventBarrierPin(eventBarrierCPU(p, 0))
			if err != nil {
				b.Fatal(err)
			}
			defer undo()
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				ping.Set()
				if err := pong.Wait(ctx); err != nil {
					b.Fatal(err)
				}
				pong.Clear()
			}
			b.StopTimer()
			child.MustSucceed()
		})
	}
}

// fifoPongRole is the OS baseline's child: it echoes n bytes from one
// named pipe to another. args: dir, n, cpu.
func fifoPongRole(args []string) error {
	n, _ := strconv.Atoi(args[1])
	cpu, _ := strconv.Atoi(args[2])
	undo, err := eventBarrierPin(cpu)
	if err != nil {
		return err
	}
	defer undo()
	in, err := os.OpenFile(filepath.Join(args[0], "ping"), os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(filepath.Join(args[0], "pong"), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer out.Close()
	buf := make([]byte, 1)
	for range n {
		if _, err := in.Read(buf); err != nil {
			return err
		}
		if _, err := out.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkPipePingPong is the OS baseline for BenchmarkEventPingPong: one
// byte there and back over two named pipes between the same two processes.
func BenchmarkPipePingPong(b *testing.B) {
	for _, p := range eventBarrierPlacements {
		b.Run("cpus="+p, func(b *testing.B) {
			if p == "spread" && runtime.NumCPU() < 2 {
				b.Skip("one CPU")
			}
			dir := b.TempDir()
			for _, f := range []string{"ping", "pong"} {
				if err := unix.Mkfifo(filepath.Join(dir, f), 0o600); err != nil {
					b.Fatal(err)
				}
			}
			child := proctest.Start(b, "event-bench-fifo-pong", dir, strconv.Itoa(b.N), strconv.Itoa(eventBarrierCPU(p, 1)))
			out, err := os.OpenFile(filepath.Join(dir, "ping"), os.O_WRONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer out.Close()
			in, err := os.OpenFile(filepath.Join(dir, "pong"), os.O_RDONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer in.Close()
			undo, err := eventBarrierPin(eventBarrierCPU(p, 0))
			if err != nil {
				b.Fatal(err)
			}
			defer undo()
			buf := []byte{1}
			b.ResetTimer()
			for range b.N {
				if _, err := out.Write(buf); err != nil {
					b.Fatal(err)
				}
				if _, err := in.Read(buf); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			child.MustSucceed()
		})
	}
}
