package pool

import (
	"fmt"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A worker's progress words: four uint64 in a memfd page that the parent
// makes and the worker inherits (no name in /dev/shm, so nothing to leak:
// the page dies with the last of the two processes).
//
// The worker writes them, one goroutine, around each task i of chunk c:
//
//	before: chunk = c (when it changes, with started = finished = 0 first)
//	        started = i+1, since = now
//	after:  finished = i+1
//
// The parent reads them once the worker is dead, when no store can be in
// flight, so the four are consistent: task finished was running when the
// worker died if started > finished (that task failed with it); tasks
// below finished ran and only their results may be lost; tasks from
// started on were never reached. While the worker lives the parent reads
// only since, for the hard-timeout backstop, where a torn read costs at
// most one tick.
type progress struct {
	words *[4]atomic.Uint64
	mem   []byte
	file  *os.File
}

const (
	progChunk = iota
	progStarted
	progFinished
	progSince // CLOCK_MONOTONIC ns when the running task started
)

// newProgress makes the page for one worker.
func newProgress() (*progress, error) {
	fd, err := unix.MemfdCreate("multiproc-pool-progress", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("pool: a worker's progress page: memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "multiproc-pool-progress")
	if err := f.Truncate(int64(os.Getpagesize())); err != nil {
		f.Close()
		return nil, fmt.Errorf("pool: a worker's progress page: %w", err)
	}
	p, err := mapProgress(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return p, nil
}

// mapProgress maps the page in f (the worker's inherited copy).
func mapProgress(f *os.File) (*progress, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("pool: a worker's progress page: %w", err)
	}
	if st.Size() < 32 {
		return nil, fmt.Errorf("pool: a worker's progress page: %w: %d bytes", ErrCorrupt, st.Size())
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, 32, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("pool: a worker's progress page: mmap: %w", err)
	}
	return &progress{words: (*[4]atomic.Uint64)(unsafe.Pointer(&mem[0])), mem: mem, file: f}, nil
}

func (p *progress) close() {
	if p == nil {
		return
	}
	unix.Munmap(p.mem)
	p.file.Close()
}

// begin records that task i (0-based) of chunk c starts now; timed
// records when, for a chunk with a hard timeout (the clock costs more
// than the rest).
func (p *progress) begin(c uint64, i int, timed bool) {
	w := p.words
	if w[progChunk].Load() != c {
		w[progStarted].Store(0)
		w[progFinished].Store(0)
		w[progChunk].Store(c)
	}
	if timed {
		w[progSince].Store(uint64(workerEpoch.mono + time.Since(workerEpoch.t).Nanoseconds()))
	}
	w[progStarted].Store(uint64(i + 1))
}

// end records that task i of the current chunk has finished.
func (p *progress) end(i int) { p.words[progFinished].Store(uint64(i + 1)) }

// snapshot reads the words: the chunk, tasks started and finished in it.
func (p *progress) snapshot() (chunk uint64, started, finished int) {
	w := p.words
	return w[progChunk].Load(), int(w[progStarted].Load()), int(w[progFinished].Load())
}

// running reports how long the task in hand has run, if one is.
func (p *progress) running() (chunk uint64, task int, d int64, ok bool) {
	c, s, f := p.snapshot()
	if s <= f {
		return 0, 0, 0, false
	}
	return c, s - 1, monotonicNow() - int64(p.words[progSince].Load()), true
}

// workerEpoch ties Go's monotonic clock, which is CLOCK_MONOTONIC with a
// process-local origin, to CLOCK_MONOTONIC itself, read once: one clock for
// every process of the machine, at the price of a vDSO read per task.
var workerEpoch = struct {
	t    time.Time
	mono int64
}{time.Now(), monotonicNow()}

// monotonicNow is CLOCK_MONOTONIC in ns.
func monotonicNow() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}
