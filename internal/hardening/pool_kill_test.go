package hardening

// What the Pool suites share: the tasks they run and their journal, and a
// killer of worker processes that never signals a process that is not
// one of this test's pool workers.
//
// The journal is a segment every worker opens once (the pool's
// Initializer), 64-bit words:
//
//	pkArm…     pkArms words, each a task index + 1 whose first run must
//	           SIGKILL its own worker (the task CASes it to 0, so a rerun
//	           runs normally)
//	pkSelf     self-kills so far; the k-th one's task index and pid are
//	           at pkSelfAt+2k and pkSelfAt+2k+1
//	pkRuns+2i  runs of task i, ever (+1 as each run begins)
//	pkRuns+2i+1 call<<32 | pid of the worker that began task i last
//
// The parent zeroes the task words before each call.

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multiproc/multiproc/pool"
	"github.com/multiproc/multiproc/shm"
)

const (
	pkSelf    = 0
	pkArm     = 2
	pkArms    = 4
	pkSelfAt  = 8 // pairs (index, pid), up to pkMaxSelf
	pkMaxSelf = 28
	pkRuns    = 64
)

// poolJournal is the journal in this process: opened by the Initializer
// in a worker, made by the test in the parent.
var (
	poolJournalSeg *shm.Segment
	poolJournal    []uint64
)

var (
	// chaosInit opens the journal named name in a worker.
	chaosInit = pool.Register(func(ctx context.Context, name string) (struct{}, error) {
		seg, err := shm.Open(name)
		if err != nil {
			return struct{}{}, err
		}
		poolJournalSeg, poolJournal = seg, words(seg.Bytes())
		return struct{}{}, nil
	})
	// chaosSquare is task a[1] of call a[0], spinning a[2] µs: a result of
	// fixed size, so arguments and results travel as memory images.
	chaosSquare = pool.Register(func(ctx context.Context, a [3]int64) ([2]int64, error) {
		call, i := a[0], a[1]
		chaosBegin(call, i)
		spin(time.Duration(a[2]) * time.Microsecond)
		return [2]int64{i, chaosValue(call, i)}, nil
	})
	// chaosEcho is the same with encoded arguments and results of varied
	// sizes.
	chaosEcho = pool.Register(func(ctx context.Context, a echoArg) (echoOut, error) {
		chaosBegin(a.Call, a.I)
		spin(time.Duration(a.Spin) * time.Microsecond)
		return echoOut{I: a.I, V: chaosValue(a.Call, a.I), Pad: strings.ToUpper(a.Pad)}, nil
	})
)

type echoArg struct {
	Call, I, Spin int64
	Pad           string
}

type echoOut struct {
	I, V int64
	Pad  string
}

func echoPad(i int64) string { return strings.Repeat("pad", int(i%23)) }

// chaosValue is task i's result in call: never 0, so a failed task's zero
// slot cannot pass for a result.
func chaosValue(call, i int64) int64 { return i*i*7 + call*1000003 + 1 }

// chaosBegin journals the start of task i of call in a worker, and dies
// if the task is armed.
func chaosBegin(call, i int64) {
	l := poolJournal
	if l == nil || int(pkRuns+2*i+1) >= len(l) {
		return
	}
	atomic.StoreUint64(&l[pkRuns+2*i+1], uint64(call)<<32|uint64(os.Getpid()))
	atomic.AddUint64(&l[pkRuns+2*i], 1)
	for a := pkArm; a < pkArm+pkArms; a++ {
		if atomic.LoadUint64(&l[a]) == uint64(i)+1 && atomic.CompareAndSwapUint64(&l[a], uint64(i)+1, 0) {
			chaosDie(l, i)
		}
	}
}

// chaosDie records a self-kill of the worker running task i, and dies.
func chaosDie(l []uint64, i int64) {
	if k := atomic.AddUint64(&l[pkSelf], 1); k <= pkMaxSelf {
		atomic.StoreUint64(&l[pkSelfAt+2*(k-1)], uint64(i))
		atomic.StoreUint64(&l[pkSelfAt+2*(k-1)+1], uint64(os.Getpid()))
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	time.Sleep(time.Hour)
}

// killPoolWorker SIGKILLs pid if it is, still, a pool worker child of this
// process: the pid is pinned by a pidfd first, so that a pid reused after
// the worker was reaped is never signalled.
func killPoolWorker(pid int) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ppid ...: comm may hold spaces, so after the last ')'.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(f) < 2 || f[1] != strconv.Itoa(os.Getpid()) {
		return false
	}
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil || !bytes.Contains(env, []byte("MULTIPROC_ROLE=v1 pool.worker ")) {
		return false
	}
	return unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0) == nil
}

// A poolKiller SIGKILLs a random ready worker of a pool every interval
// (a random time up to maxGap, or exactly every, when set), until
// stopped. Only a worker that has returned results since it started is
// killed: the pool stops, by design, after three replacements in a row
// die before they are ready, and a test of task accounting must not end
// it that way.
type poolKiller struct {
	p      *pool.Pool
	maxGap time.Duration
	every  time.Duration
	stop   chan struct{}
	done   chan struct{}

	mu     sync.Mutex
	killed map[int]bool
	n      int
}

func startPoolKiller(p *pool.Pool, maxGap, every time.Duration) *poolKiller {
	k := &poolKiller{p: p, maxGap: maxGap, every: every, stop: make(chan struct{}), done: make(chan struct{}), killed: map[int]bool{}}
	go k.run()
	return k
}

func (k *poolKiller) run() {
	defer close(k.done)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 23))
	type seen struct{ pid, tasks int }
	first := map[int]seen{} // by slot: the process and the slot's tasks when it appeared
	for {
		gap := k.every
		if gap == 0 {
			gap = time.Duration(rng.Int64N(int64(k.maxGap)) + 1)
		}
		select {
		case <-k.stop:
			return
		case <-time.After(gap):
		}
		var ready []int
		for _, s := range k.p.Stats() {
			if s.PID == 0 {
				continue
			}
			if f, ok := first[s.Slot]; !ok || f.pid != s.PID {
				first[s.Slot] = seen{s.PID, s.Tasks}
			} else if s.Tasks > f.tasks {
				ready = append(ready, s.PID)
			}
		}
		if len(ready) == 0 {
			continue
		}
		pid := ready[rng.IntN(len(ready))]
		k.mu.Lock()
		if !k.killed[pid] && killPoolWorker(pid) {
			k.killed[pid] = true
			k.n++
		}
		k.mu.Unlock()
	}
}

// halt stops the killer and returns the kills it made.
func (k *poolKiller) halt() int {
	close(k.stop)
	<-k.done
	return k.n
}

func (k *poolKiller) wasKilled(pid int) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.killed[pid]
}

// newPoolJournal makes the journal for calls of up to tasks tasks.
func newPoolJournal(tasks int) (*shm.Segment, error) {
	seg, err := shm.Create("", 8*(pkRuns+2*tasks))
	if err != nil {
		return nil, fmt.Errorf("the pool journal: %w", err)
	}
	return seg, nil
}
