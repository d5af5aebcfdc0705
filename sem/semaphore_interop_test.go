package sem_test

// Interop, tested for real: the C program testdata/semtool.c (glibc's
// sem_open/sem_post/sem_wait, built with gcc by the test) and
// testdata/semtool.py (ctypes on libc, and multiprocessing's own
// Semaphore) work on the same semaphore as Go at the same time.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/multiproc/multiproc/internal/posixsem"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
)

// semtoolC builds testdata/semtool.c into the test's temp dir.
func semtoolC(t *testing.T) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found: skipping the C interop test (install gcc to run it)")
	}
	bin := filepath.Join(t.TempDir(), "semtool")
	out, err := exec.Command(gcc, "-O2", "-pthread", "-o", bin, "testdata/semtool.c").CombinedOutput()
	if err != nil {
		t.Fatalf("gcc testdata/semtool.c: %v\n%s", err, out)
	}
	return bin
}

// semtoolPy returns the command line prefix for testdata/semtool.py.
func semtoolPy(t *testing.T) []string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found: skipping the Python interop test")
	}
	return []string{py, "testdata/semtool.py"}
}

// semExt is a running C or Python helper process.
type semExt struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

func semStartExt(t *testing.T, argv ...string) *semExt {
	t.Helper()
	// Killed at the test's deadline (less the margin), so a C or Python
	// helper that hangs fails the test with its stderr instead of hanging it.
	cmd := exec.CommandContext(proctest.Context(t), argv[0], argv[1:]...)
	e := &semExt{t: t, cmd: cmd, lines: make(chan string, 100), done: make(chan struct{})}
	cmd.Stderr = &e.stderr
	stdout, _ := cmd.StdoutPipe()
	e.stdin, _ = cmd.StdinPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			e.lines <- sc.Text()
		}
		e.err = cmd.Wait()
		close(e.lines)
		close(e.done)
	}()
	t.Cleanup(func() {
		select {
		case <-e.done:
		default:
			cmd.Process.Kill()
			<-e.done
			t.Errorf("%s still running at the end of the test; stderr: %s", argv[0], e.stderr.String())
		}
	})
	return e
}

func (e *semExt) waitLine(prefix string) string {
	e.t.Helper()
	timeout := proctest.Context(e.t).Done()
	for {
		select {
		case line, ok := <-e.lines:
			if !ok {
				e.t.Fatalf("%s exited before printing %q: %v\nstderr: %s", e.cmd.Path, prefix, e.err, e.stderr.String())
			}
			if strings.HasPrefix(line, prefix) {
				return line
			}
		case <-timeout:
			e.t.Fatalf("%s did not print %q by the test's deadline\nstderr: %s", e.cmd.Path, prefix, e.stderr.String())
		}
	}
}

// mustSucceed waits for the helper's "ok" and its exit status 0.
func (e *semExt) mustSucceed() {
	e.t.Helper()
	e.waitLine("ok")
	select {
	case <-e.done:
	case <-proctest.Context(e.t).Done():
		e.t.Fatalf("%s printed ok but did not exit by the test's deadline\nstderr: %s", e.cmd.Path, e.stderr.String())
	}
	if e.err != nil {
		e.t.Fatalf("%s: %v\nstderr: %s", e.cmd.Path, e.err, e.stderr.String())
	}
}

func (e *semExt) kill() {
	e.cmd.Process.Kill()
	<-e.done
}

// semForeignName returns a fresh semaphore name for a C or Python creator and
// removes its file at the end of the test.
func semForeignName(t *testing.T) string {
	t.Helper()
	proctest.CheckShm(t)
	name := segment.Generate("semtest")
	t.Cleanup(func() { os.Remove(semFile(name)) })
	return "/" + name
}

// semGoCounter runs n Acquire/increment/Release rounds in each of g goroutines.
func semGoCounter(t *testing.T, s *sem.Semaphore, c *uint64, g, n int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for i := 0; i < g; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < n; j++ {
				if err := s.Acquire(context.Background()); err != nil {
					t.Error(err)
					return
				}
				*c = *c + 1
				if err := s.Release(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	return &wg
}

// semGoProduceConsume releases n tokens in one goroutine while another takes
// n, independently (a consumer that hands each token back would need one
// first, and could wait for ever once the other side has taken them all).
func semGoProduceConsume(t *testing.T, q *sem.Semaphore, n int) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			if err := q.Acquire(context.Background()); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			if err := q.Release(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
}

func semCounterSeg(t *testing.T) (*shm.Segment, *uint64) {
	t.Helper()
	seg, err := shm.Create("", 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seg.Unlink(); seg.Close() })
	return seg, semCounterWord(seg)
}

func TestGlibcSemOpenWritesWhatWeWrite(t *testing.T) {
	tool := semtoolC(t)
	for _, v := range []int{0, 3, 1000, sem.ValueMax} {
		name := semForeignName(t)
		semStartExt(t, tool, "create", name, strconv.Itoa(v)).mustSucceed()
		theirs, err := os.ReadFile(semFile(name))
		if err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(semFile(name))
		s := newTestSem(t, v, false)
		ours, err := os.ReadFile(semFile(s.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if len(theirs) != posixsem.Size || !bytes.Equal(ours[:posixsem.Size], theirs) {
			t.Fatalf("value %d:\nglibc % x\nours  % x", v, theirs, ours[:posixsem.Size])
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("glibc file mode %v", st.Mode())
		}
	}
}

// Both directions: C creates and Go opens with OpenNamed; Go creates and C
// opens with sem_open. In each, C and Go guard one plain counter with the
// semaphore as a lock, and pass tokens both ways as producer and consumer.
func TestInteropWithC(t *testing.T) {
	tool := semtoolC(t)
	for _, goCreates := range []bool{false, true} {
		t.Run(map[bool]string{false: "CCreatesGoOpens", true: "GoCreatesCOpens"}[goCreates], func(t *testing.T) {
			open := func(value int) *sem.Semaphore {
				if goCreates {
					return newTestSem(t, value, false)
				}
				name := semForeignName(t)
				semStartExt(t, tool, "create", name, strconv.Itoa(value)).mustSucceed()
				s, err := sem.OpenNamed(name)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}

			// Mutual exclusion: 2 C processes and 2 goroutines.
			lock := open(1)
			seg, c := semCounterSeg(t)
			const n = 20000
			cs := []*semExt{
				semStartExt(t, tool, "counter", lock.Name(), segment.Path(seg.Name()), strconv.Itoa(n)),
				semStartExt(t, tool, "counter", lock.Name(), segment.Path(seg.Name()), strconv.Itoa(n)),
			}
			semGoCounter(t, lock, c, 2, n).Wait()
			for _, e := range cs {
				e.mustSucceed()
			}
			if *c != 4*n || lock.Value() != 1 {
				t.Fatalf("counter %d, want %d; value %d", *c, 4*n, lock.Value())
			}

			// Producer/consumer both ways at once.
			q := open(0)
			cPost := semStartExt(t, tool, "post", q.Name(), strconv.Itoa(n))
			cWait := semStartExt(t, tool, "wait", q.Name(), strconv.Itoa(n))
			semGoProduceConsume(t, q, n)
			cPost.mustSucceed()
			cWait.mustSucceed()
			if q.Value() != 0 || q.Waiters() != 0 {
				t.Fatalf("value %d waiters %d, want 0 0", q.Value(), q.Waiters())
			}
		})
	}
}

func TestKilledCWaiterLeavesOnlyAStaleWaiterCount(t *testing.T) {
	tool := semtoolC(t)
	s := newTestSem(t, 0, false)
	w := semStartExt(t, tool, "waitone", s.Name())
	w.waitLine("waiting")
	semWaitUntil(t, "the C waiter sleeps", func() bool { return s.Waiters() == 1 })
	w.kill()
	if s.Waiters() != 1 {
		t.Fatalf("waiters = %d after SIGKILL, want the stale 1", s.Waiters())
	}
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
	if err := s.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	w2 := semStartExt(t, tool, "waitone", s.Name())
	w2.waitLine("waiting")
	semWaitUntil(t, "the second C waiter sleeps", func() bool { return s.Waiters() == 2 })
	s.Release()
	w2.mustSucceed()
	if s.Value() != 0 {
		t.Fatalf("value %d", s.Value())
	}
}

func TestInteropWithPythonCtypes(t *testing.T) {
	py := semtoolPy(t)
	s := newTestSem(t, 1, false)
	seg, c := semCounterSeg(t)
	const n = 5000
	p := semStartExt(t, append(py, "counter", s.Name(), segment.Path(seg.Name()), strconv.Itoa(n))...)
	semGoCounter(t, s, c, 2, n).Wait()
	p.mustSucceed()
	if *c != 3*n || s.Value() != 1 {
		t.Fatalf("counter %d, want %d; value %d", *c, 3*n, s.Value())
	}

	q := newTestSem(t, 0, false)
	pPost := semStartExt(t, append(py, "post", q.Name(), strconv.Itoa(n))...)
	pWait := semStartExt(t, append(py, "wait", q.Name(), strconv.Itoa(n))...)
	semGoProduceConsume(t, q, n)
	pPost.mustSucceed()
	pWait.mustSucceed()
	if q.Value() != 0 || q.Waiters() != 0 {
		t.Fatalf("value %d waiters %d", q.Value(), q.Waiters())
	}
}

// Python's own multiprocessing.Semaphore (spawn context) is a named
// semaphore "/mp-…"; Go opens it by name, and the two pass tokens both
// ways, Python blocking in its acquire while Go releases.
func TestInteropWithPythonMultiprocessingSemaphore(t *testing.T) {
	py := semtoolPy(t)
	proctest.CheckShm(t)
	p := semStartExt(t, append(py, "mp")...)
	name := strings.TrimPrefix(p.waitLine("name "), "name ")
	if !strings.HasPrefix(name, "/mp-") {
		t.Fatalf("Python's semaphore is called %q", name)
	}
	s, err := sem.OpenNamed(name)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Bounded() || s.Value() != 0 {
		t.Fatalf("bounded %v value %d", s.Bounded(), s.Value())
	}
	const n = 100
	fmt.Fprintf(p.stdin, "acquire %d\n", n)
	semWaitUntil(t, "Python blocks in acquire", func() bool { return s.Waiters() == 1 })
	for i := 0; i < n; i++ {
		if err := s.Release(); err != nil {
			t.Fatal(err)
		}
	}
	p.waitLine("acquired")
	fmt.Fprintf(p.stdin, "release %d\n", n)
	p.waitLine("released")
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithCancel(proctest.Context(t))
		err := s.Acquire(ctx)
		cancel()
		if err != nil {
			t.Fatalf("token %d from Python: %v", i, err)
		}
	}
	fmt.Fprintln(p.stdin, "exit")
	p.mustSucceed()
	// Python's resource tracker unlinks its semaphore as the program ends;
	// our mapping keeps working.
	semWaitUntil(t, "Python's tracker unlinks "+name, func() bool {
		_, err := os.Stat(semFile(name))
		return err != nil
	})
	if err := s.Release(); err != nil || !s.TryAcquire() {
		t.Fatalf("semaphore unusable after Python unlinked it: %v", err)
	}
}
