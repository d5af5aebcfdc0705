package bench

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
)

func init() {
	proctest.Register("bench-sem-counter", benchSemCounterRole)
	proctest.Register("bench-sem-pong", benchSemPongRole)
}

// Figures of the baselines measured earlier in the same run, so the
// Semaphore benchmarks can report ratios beside their own ns/op. Zero
// when the baseline was filtered out.
var semBaseline struct {
	mutexPair, cPair, cPingPong float64
}

func semNsPerOp(b *testing.B) float64 { return float64(b.Elapsed().Nanoseconds()) / float64(b.N) }

// buildSemtool compiles ../sem/testdata/semtool.c (glibc's sem_open,
// sem_wait, sem_post) for the C baselines; "" if gcc is missing.
func buildSemtool(b *testing.B) string {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return ""
	}
	bin := filepath.Join(b.TempDir(), "semtool")
	if out, err := exec.Command(gcc, "-O2", "-pthread", "-o", bin, "../sem/testdata/semtool.c").CombinedOutput(); err != nil {
		b.Fatalf("gcc semtool.c: %v\n%s", err, out)
	}
	return bin
}

// semRunC runs the C tool and returns the "ns/op" figure it printed.
func semRunC(b *testing.B, argv ...string) float64 {
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil {
		b.Fatalf("%v: %v", argv, err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if f, ok := strings.CutPrefix(sc.Text(), "ns/op "); ok {
			v, err := strconv.ParseFloat(f, 64)
			if err != nil {
				b.Fatal(err)
			}
			return v
		}
	}
	b.Fatalf("%v printed no ns/op: %q", argv, out)
	return 0
}

func newBenchSem(b *testing.B, value int) *sem.Semaphore {
	s, err := sem.NewSemaphore(value)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Unlink(); s.Close() })
	return s
}

// BenchmarkSemaphoreUncontended: one Acquire+Release pair with nobody else
// around, beside sync.Mutex (the in-process floor) and C's
// sem_wait+sem_post on the same kind of semaphore. The Semaphore line also
// reports its ratio to each ("x-sync.Mutex", "x-C").
func BenchmarkSemaphoreUncontended(b *testing.B) {
	tool := buildSemtool(b)
	b.Run("sync.Mutex", func(b *testing.B) {
		var mu sync.Mutex
		for b.Loop() {
			mu.Lock()
			mu.Unlock()
		}
		semBaseline.mutexPair = semNsPerOp(b)
	})
	b.Run("C-sem_wait+sem_post", func(b *testing.B) {
		if tool == "" {
			b.Skip("gcc not found: no C baseline")
		}
		s := newBenchSem(b, 1)
		ns := semRunC(b, tool, "bench", s.Name(), strconv.Itoa(max(b.N, 1000)))
		b.ReportMetric(ns, "ns/op")
		semBaseline.cPair = ns
	})
	b.Run("Semaphore", func(b *testing.B) {
		s := newBenchSem(b, 1)
		ctx := context.Background()
		for b.Loop() {
			if err := s.Acquire(ctx); err != nil {
				b.Fatal(err)
			}
			if err := s.Release(); err != nil {
				b.Fatal(err)
			}
		}
		semReportRatios(b, semBaseline.mutexPair, semBaseline.cPair)
	})
	b.Run("TryAcquire", func(b *testing.B) {
		s := newBenchSem(b, 1)
		for b.Loop() {
			if !s.TryAcquire() {
				b.Fatal("no token")
			}
			if err := s.Release(); err != nil {
				b.Fatal(err)
			}
		}
		semReportRatios(b, semBaseline.mutexPair, semBaseline.cPair)
	})
}

func semReportRatios(b *testing.B, mutex, c float64) {
	ns := semNsPerOp(b)
	if mutex > 0 {
		b.ReportMetric(ns/mutex, "x-sync.Mutex")
	}
	if c > 0 {
		b.ReportMetric(ns/c, "x-C")
	}
}

// bench-sem-counter START NAME SEGMENT N: after the start token, N rounds
// of Acquire, increment a plain counter, Release; prints "done".
func benchSemCounterRole(args []string) error {
	start, err := sem.OpenSemaphore(args[0])
	if err != nil {
		return err
	}
	defer start.Close()
	s, err := sem.OpenSemaphore(args[1])
	if err != nil {
		return err
	}
	defer s.Close()
	seg, err := shm.Open(args[2])
	if err != nil {
		return err
	}
	defer seg.Close()
	n, _ := strconv.Atoi(args[3])
	c := (*uint64)(unsafe.Pointer(&seg.Bytes()[0]))
	ctx := context.Background()
	fmt.Println("ready")
	if err := start.Acquire(ctx); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := s.Acquire(ctx); err != nil {
			return err
		}
		*c = *c + 1
		if err := s.Release(); err != nil {
			return err
		}
	}
	fmt.Println("done")
	return nil
}

// BenchmarkSemaphoreContendedCounter: P processes share b.N increments of
// a plain counter in shared memory, each under Semaphore(1); ns/op is per
// increment, all processes together.
func BenchmarkSemaphoreContendedCounter(b *testing.B) {
	for _, procs := range []int{2, 4} {
		b.Run(fmt.Sprintf("procs=%d", procs), func(b *testing.B) {
			s := newBenchSem(b, 1)
			start := newBenchSem(b, 0)
			seg, err := shm.Create("", 8)
			if err != nil {
				b.Fatal(err)
			}
			defer seg.Unlink()
			defer seg.Close()
			per := (b.N + procs - 1) / procs
			cs := proctest.StartN(b, procs, "bench-sem-counter", start.Name(), s.Name(), seg.Name(), strconv.Itoa(per))
			for _, c := range cs {
				c.WaitLine("ready")
			}
			b.ResetTimer()
			start.ReleaseN(procs)
			for _, c := range cs {
				c.WaitLine("done")
			}
			b.StopTimer()
			for _, c := range cs {
				c.MustSucceed()
			}
			if got := *(*uint64)(unsafe.Pointer(&seg.Bytes()[0])); got != uint64(per*procs) {
				b.Fatalf("counter %d, want %d", got, per*procs)
			}
		})
	}
}

// bench-sem-pong PING PONG N: N times take a PING token and give a PONG.
func benchSemPongRole(args []string) error {
	ping, err := sem.OpenSemaphore(args[0])
	if err != nil {
		return err
	}
	defer ping.Close()
	pong, err := sem.OpenSemaphore(args[1])
	if err != nil {
		return err
	}
	defer pong.Close()
	n, _ := strconv.Atoi(args[2])
	ctx := context.Background()
	fmt.Println("ready")
	for i := 0; i < n; i++ {
		if err := ping.Acquire(ctx); err != nil {
			return err
		}
		if err := pong.Release(); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkSemaphorePingPong: a round trip between two processes over two
// semaphores (post ping, wait pong), Go against Go and C against C; the Go
// line reports its ratio to C ("x-C").
func BenchmarkSemaphorePingPong(b *testing.B) {
	tool := buildSemtool(b)
	b.Run("C", func(b *testing.B) {
		if tool == "" {
			b.Skip("gcc not found: no C baseline")
		}
		ping, pong := newBenchSem(b, 0), newBenchSem(b, 0)
		n := strconv.Itoa(max(b.N, 1000))
		other := exec.Command(tool, "pingpong", ping.Name(), pong.Name(), n, "1")
		if err := other.Start(); err != nil {
			b.Fatal(err)
		}
		ns := semRunC(b, tool, "pingpong", ping.Name(), pong.Name(), n, "0")
		if err := other.Wait(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(ns, "ns/op")
		semBaseline.cPingPong = ns
	})
	b.Run("Go", func(b *testing.B) {
		ping, pong := newBenchSem(b, 0), newBenchSem(b, 0)
		c := proctest.Start(b, "bench-sem-pong", ping.Name(), pong.Name(), strconv.Itoa(b.N))
		c.WaitLine("ready")
		ctx := context.Background()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := ping.Release(); err != nil {
				b.Fatal(err)
			}
			if err := pong.Acquire(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		c.MustSucceed()
		if semBaseline.cPingPong > 0 {
			b.ReportMetric(semNsPerOp(b)/semBaseline.cPingPong, "x-C")
		}
	})
}
