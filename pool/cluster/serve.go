package cluster

// A host's workers: StartWorkers starts Processes worker processes (this
// program again, worker.go) and keeps that many running — one that dies
// is replaced — until Close. Each is a NATS client of its own, so a
// worker killed takes only its own task down, and that task is delivered
// again after the ack deadline. Processes, not goroutines, for the same
// reasons as the local Pool's workers: a task that crashes, exits, runs
// out of memory or passes its hard timeout ends its process and nothing
// else; package-level state a task sets stays in its process; and the Go
// runtime of one busy process does not stall the heartbeats of another's
// chunk.

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/multiproc/multiproc/internal/codec"
	"github.com/multiproc/multiproc/internal/reexec"
	"github.com/multiproc/multiproc/internal/track"
	"github.com/multiproc/multiproc/pool"
)

// Serve runs worker processes for the Pools connected to the NATS server
// at url until ctx ends, then stops them (a worker busy with a chunk gets
// reexec's grace to finish it; what it could not finish is delivered to
// another worker after the ack deadline) and returns nil. It is the main
// of a worker machine:
//
//	func main() {
//		pool.Init()
//		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//		defer stop()
//		if err := cluster.Serve(ctx, "nats://queue.example:4222", cluster.Credentials("w.creds")); err != nil {
//			log.Fatal(err)
//		}
//	}
//
// Options: the connection's, Processes, AckWait, Prefix, MemoryStorage.
// It fails at once if the server cannot be reached or a worker cannot
// start.
func Serve(ctx context.Context, url string, opts ...Option) error {
	w, err := StartWorkers(url, opts...)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return w.Close()
}

// Workers are the worker processes StartWorkers runs on this host.
type Workers struct {
	cfg   workerConfig
	logf  func(string, ...any)
	mu    sync.Mutex
	slots []*workerSlot
	quit  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

type workerSlot struct {
	number int
	cmd    *reexec.Cmd
	ctl    *os.File // the control pipe's write end: closing it asks the worker to stop
}

// testWorkerStderr, if set, is the workers' stderr (the tests read
// their log lines there).
var testWorkerStderr *os.File

// startFailures is how many worker processes of one slot in a row may die
// within quickDeath of their start before the slot gives up.
const (
	startFailures = 5
	quickDeath    = time.Second
)

// StartWorkers starts the worker processes of Serve and returns once each
// is taking tasks; Close stops them.
func StartWorkers(url string, opts ...Option) (*Workers, error) {
	if err := checkInitDone(); err != nil {
		return nil, err
	}
	o, err := makeOptions(url, opts)
	if err != nil {
		return nil, fmt.Errorf("cluster.StartWorkers: %w", err)
	}
	if len(o.natsOpts) > 0 {
		return nil, fmt.Errorf("cluster.StartWorkers: %w: NATSOptions are for Connect: a worker process cannot be handed functions", ErrInvalidArgument)
	}
	if o.processes == 0 {
		o.processes = pool.CPUCount()
	}
	// Reach the server once here, so that a wrong URL or credentials
	// fail now rather than in each worker, and make the consumer with
	// this Serve's AckWait.
	nc, err := connect(o.conn, nil)
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = ensureStreams(ctx, js, namesOf(o.prefix), o.memory)
		if err == nil {
			_, err = ensureConsumer(ctx, js, namesOf(o.prefix), o.ackWait)
		}
		cancel()
	}
	nc.Close()
	if err != nil {
		return nil, fmt.Errorf("cluster.StartWorkers: %w", err)
	}
	w := &Workers{cfg: workerConfig{Conn: o.conn, Prefix: o.prefix, AckWait: o.ackWait, Memory: o.memory, Salt: o.salt},
		logf: o.logger(), quit: make(chan struct{})}
	for i := range o.processes {
		s := &workerSlot{number: i + 1}
		if err := w.start(s); err != nil {
			w.Close()
			return nil, fmt.Errorf("cluster.StartWorkers: %w", err)
		}
		w.slots = append(w.slots, s)
		w.wg.Add(1)
		go w.keep(s)
	}
	return w, nil
}

func checkInitDone() error {
	if reexec.Dispatched() {
		return nil
	}
	return fmt.Errorf("%w: cluster.StartWorkers starts this program again as workers, and needs pool.Init() as the first line of main (and of TestMain)", pool.ErrNoInit)
}

// start starts slot s's process and waits until it takes tasks.
func (w *Workers) start(s *workerSlot) error {
	cfg := w.cfg
	cfg.Number = s.number
	body, err := codec.Append(workerConfigCodec, nil, &cfg)
	if err != nil {
		return err
	}
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		return err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		ctlR.Close()
		ctlW.Close()
		return err
	}
	defer readyR.Close()
	cmd := reexec.Command(roleWorker)
	cmd.Cmd.Stdout, cmd.Cmd.Stderr = os.Stdout, os.Stderr
	if testWorkerStderr != nil {
		cmd.Cmd.Stderr = testWorkerStderr
	}
	cmd.ParentDeath = true
	cmd.Ask = func() error { return ctlW.Close() }
	track.Inherit(cmd.Cmd)
	cmd.AddFile("control", ctlR)
	cmd.AddFile("ready", readyW)
	err = cmd.Start()
	ctlR.Close()
	readyW.Close()
	if err != nil {
		ctlW.Close()
		return fmt.Errorf("starting a worker: %w", err)
	}
	frame := binary.LittleEndian.AppendUint32(nil, uint32(len(body)))
	if _, err := ctlW.Write(append(frame, body...)); err != nil {
		cmd.Kill()
		ctlW.Close()
		return fmt.Errorf("a worker's config: %w", err)
	}
	var b [1]byte
	if n, _ := readyR.Read(b[:]); n != 1 {
		cmd.Wait()
		ctlW.Close()
		return fmt.Errorf("worker pid %d exited before it took tasks (%s)", cmd.Pid(), reexec.Status(cmd.ProcessState()))
	}
	w.mu.Lock()
	s.cmd, s.ctl = cmd, ctlW
	w.mu.Unlock()
	return nil
}

// keep replaces slot s's process whenever it dies, until Close.
func (w *Workers) keep(s *workerSlot) {
	defer w.wg.Done()
	quick := 0
	for {
		w.mu.Lock()
		cmd, ctl, started := s.cmd, s.ctl, time.Now()
		w.mu.Unlock()
		select {
		case <-cmd.Done():
		case <-w.quit:
			cmd.Stop()
			ctl.Close()
			return
		}
		ctl.Close()
		select {
		case <-w.quit:
			return
		default:
		}
		if time.Since(started) < quickDeath {
			quick++
		} else {
			quick = 0
		}
		w.logf("multiproc cluster: worker pid %d exited (%s); starting another", cmd.Pid(), reexec.Status(cmd.ProcessState()))
		for {
			if quick >= startFailures {
				w.logf("multiproc cluster: worker slot %d gives up: %d workers in a row died within %v of their start", s.number, quick, quickDeath)
				return
			}
			err := w.start(s)
			if err == nil {
				break
			}
			quick++
			w.logf("multiproc cluster: %v", err)
			select {
			case <-w.quit:
				return
			case <-time.After(time.Duration(quick) * 200 * time.Millisecond):
			}
		}
	}
}

// PIDs returns the worker processes' pids (0 for a slot between two).
func (w *Workers) PIDs() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	pids := make([]int, len(w.slots))
	for i, s := range w.slots {
		if s.cmd != nil {
			select {
			case <-s.cmd.Done():
			default:
				pids[i] = s.cmd.Pid()
			}
		}
	}
	return pids
}

// Close stops the workers (see Serve) and returns once they have exited.
// It is idempotent.
func (w *Workers) Close() error {
	w.once.Do(func() {
		close(w.quit)
		w.wg.Wait()
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, s := range w.slots {
			if s.cmd != nil {
				s.cmd.Stop()
				s.ctl.Close()
			}
		}
	})
	return nil
}
