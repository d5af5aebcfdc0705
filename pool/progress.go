package pool

import (
	"fmt"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/multiproc/multiproc/internal/futex"
)

// A worker's progress words: four uint64 in a memfd page that the parent
// makes and the worker inherits (no name in /dev/shm, so nothing to leak:
// the page dies with the last of the two processes). The page also holds
// the calls the parent cancelled (see cancel).
//
// The worker writes them, one goroutine, around each task i of chunk c:
//
//	before: chunk = c (when it changes, with started = finished = 0 first)
//	        started = i+1, since = now
//	after:  finished = i+1
//
// c is the chunk's seq, which the parent gives afresh at every send, never
// 0 (see chunk in pool_loop.go): that the word changes at each chunk is
// what resets started and finished, so two chunks of one worker sharing a
// seq would read as one.
//
// The parent reads them once the worker is dead, when no store can be in
// flight, so the four are consistent: task finished was running when the
// worker died if started > finished (that task failed with it); tasks
// below finished ran and only their results may be lost; tasks from
// started on were never reached. While the worker lives the parent reads
// only since, for the hard-timeout backstop, where a torn read costs at
// most one tick.
type progress struct {
	words   *[4]atomic.Uint64
	cancels *cancelRing
	mem     []byte
	file    *os.File
}

// cancelRing is the calls the parent cancelled, newest last: it writes
// ids[seq % cancelSlots], then seq+1, and wakes seq's futex. The worker's
// watcher sleeps on seq and cancels the running task's ctx when its call
// appears; the runner looks at seq before each task and skips the tasks of
// cancelled calls. A worker that falls more than cancelSlots behind misses
// the oldest: it runs tasks whose results the parent then drops.
type cancelRing struct {
	seq atomic.Uint32
	_   [28]byte
	ids [cancelSlots]atomic.Uint64
}

const (
	cancelSlots  = 64
	progressSize = 32 + int(unsafe.Sizeof(cancelRing{}))
)

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
	if st.Size() < int64(progressSize) {
		return nil, fmt.Errorf("pool: a worker's progress page: %w: %d bytes", ErrCorrupt, st.Size())
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, progressSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("pool: a worker's progress page: mmap: %w", err)
	}
	return &progress{words: (*[4]atomic.Uint64)(unsafe.Pointer(&mem[0])),
		cancels: (*cancelRing)(unsafe.Pointer(&mem[32])), mem: mem, file: f}, nil
}

func (p *progress) close() {
	if p == nil {
		return
	}
	unix.Munmap(p.mem)
	p.file.Close()
}

// cancel tells the worker that call id was cancelled (the parent's side).
func (p *progress) cancel(id uint64) {
	r := p.cancels
	seq := r.seq.Load()
	r.ids[seq%cancelSlots].Store(id)
	r.seq.Store(seq + 1)
	futex.WakeAll((*uint32)(unsafe.Pointer(&r.seq)))
}

// cancelled calls fn with each call cancelled since seq seen, and returns
// the seq to pass next time (the worker's side).
func (p *progress) cancelled(seen uint32, fn func(id uint64)) uint32 {
	r := p.cancels
	now := r.seq.Load()
	if now-seen > cancelSlots {
		seen = now - cancelSlots
	}
	for s := seen; s != now; s++ {
		fn(r.ids[s%cancelSlots].Load())
	}
	return now
}

// awaitCancel sleeps until a call is cancelled after seq seen.
func (p *progress) awaitCancel(seen uint32) {
	r := p.cancels
	for r.seq.Load() == seen {
		futex.Wait((*uint32)(unsafe.Pointer(&r.seq)), seen, time.Time{})
	}
}

// begin records that task i (0-based) of chunk c starts now; timed
// records when, for a chunk with a hard timeout (the clock costs more
// than the rest).
//
// The per-task words are written with plain stores: an atomic store is an
// XCHG on amd64, a fifth of a trivial task's time, and nothing needs its
// ordering — the parent reads these words once the worker is dead (the
// kernel has drained its stores by then), or only since, where a stale
// read costs a tick.
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
	*(*uint64)(unsafe.Pointer(&w[progStarted])) = uint64(i + 1)
}

// end records that task i of the current chunk has finished.
func (p *progress) end(i int) {
	*(*uint64)(unsafe.Pointer(&p.words[progFinished])) = uint64(i + 1)
}

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
