package cluster

// The caller's side: a remote.Transport over NATS JetStream, which
// pool.New uses when given Connect's Option.
//
// A pool has a random id. Each chunk is a message on
// prefix.task.<pool>.<call> in the tasks stream (work-queue retention: a
// message goes once a worker acknowledges it), its headers the caller's
// fingerprint, the delivery limit and the chunk's seq, and its
// Nats-Msg-Id <pool>.<seq>, so a publish sent again after a lost
// acknowledgement is stored once. Workers report on prefix.result.<pool>
// in the results stream, which the pool reads through an ordered consumer
// (it recreates itself after a server restart, from where it was) and
// purges behind itself. Its lease is its last message on
// prefix.lease.<pool>, sent every Expiry/3 with a TTL of Expiry; workers
// drop the tasks of a pool whose lease has gone. A cancelled call's queued
// chunks are purged from the tasks stream, and prefix.cancel.<pool> (plain
// NATS) tells workers running its tasks to cancel them.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/multiproc/multiproc/internal/codec"
	"github.com/multiproc/multiproc/pool"
	"github.com/multiproc/multiproc/pool/internal/remote"
)

// Connect returns the pool.Option that makes pool.New's Pool run its
// calls on workers reached through the NATS server at url (Serve runs
// them), instead of worker processes of its own:
//
//	p, err := pool.New(cluster.Connect("nats://127.0.0.1:4222"))
//	out, err := square.Map(ctx, p, xs) // as with a local Pool
//
// Options: the connection's (Credentials, Token, ClientCert, RootCA, …),
// Prefix, Expiry, MaxDeliver, MemoryStorage, NATSOptions. pool.Workers(n)
// tells the pool's chunking how many workers to plan for (by default, the
// workers waiting for tasks when it starts); pool.TaskTimeout and
// pool.HardTimeout apply as locally; the options about the workers'
// processes are Serve's, and pool.New refuses them here.
func Connect(url string, opts ...Option) pool.Option {
	t := &transport{}
	t.o, t.err = makeOptions(url, opts)
	return remote.Pool.Option(t).(pool.Option)
}

// transport is one pool's connection to the cluster.
type transport struct {
	o    options
	err  error // from the options, reported by Start
	n    names
	id   string
	fp   string
	sink remote.Sink
	logf func(string, ...any)

	nc         *nats.Conn
	js         jetstream.JetStream
	pub        *publisher
	tasks      jetstream.Stream
	results    jetstream.Stream
	cc         jetstream.ConsumeContext
	maxPayload int
	lastSeq    atomic.Uint64 // the results stream's seq read last

	mu        sync.Mutex
	cancelled map[uint64]bool // calls cancelled, whose chunks must not go out
	purges    []uint64        // calls whose chunks to purge
	purgeTok  chan struct{}

	quit   chan struct{}
	wg     sync.WaitGroup
	closed sync.Once
}

// Start connects, makes the streams if need be, takes the pool's lease and
// starts reading its results (remote.Transport).
func (t *transport) Start(sink remote.Sink) (int, error) {
	if t.err != nil {
		return 0, fmt.Errorf("cluster.Connect: %w", t.err)
	}
	var b [8]byte
	rand.Read(b[:])
	t.id = hex.EncodeToString(b[:])
	t.n = namesOf(t.o.prefix)
	t.fp = fingerprint(t.o.salt)
	t.sink = sink
	t.logf = t.o.logger()
	t.cancelled = map[uint64]bool{}
	t.purgeTok = make(chan struct{}, 1)
	t.quit = make(chan struct{})
	if t.o.conn.Name == "" {
		t.o.conn.Name = "multiproc pool " + t.id + " (" + workerName() + ")"
	}
	nc, err := connect(t.o.conn, t.o.natsOpts)
	if err != nil {
		return 0, err
	}
	t.nc = nc
	t.maxPayload = int(nc.MaxPayload())
	var jsOpts []jetstream.JetStreamOpt
	t.pub, jsOpts = newPublisher(t.skip)
	if t.js, err = jetstream.New(nc, jsOpts...); err != nil {
		nc.Close()
		return 0, fmt.Errorf("cluster: %w", err)
	}
	t.pub.start(t.js)
	if err := t.setUp(); err != nil {
		t.pub.stop()
		nc.Close()
		return 0, err
	}
	t.wg.Add(2)
	go t.renew()
	go t.purge()
	return t.waitingWorkers(), nil
}

func (t *transport) setUp() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ensureStreams(ctx, t.js, t.n, t.o.memory); err != nil {
		return err
	}
	var err error
	if t.tasks, err = t.js.Stream(ctx, t.n.tasks); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if t.results, err = t.js.Stream(ctx, t.n.results); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if err := t.lease(ctx); err != nil {
		return fmt.Errorf("cluster: taking the pool's lease: %w", err)
	}
	oc, err := t.results.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{t.n.resultSubject(t.id)}, InactiveThreshold: t.o.expiry})
	if err != nil {
		return fmt.Errorf("cluster: reading results: %w", err)
	}
	if t.cc, err = oc.Consume(t.report); err != nil {
		return fmt.Errorf("cluster: reading results: %w", err)
	}
	return nil
}

// waitingWorkers is how many workers wait for tasks now (each worker
// process keeps one pull request waiting while it is idle).
func (t *transport) waitingWorkers() int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := t.js.Consumer(ctx, t.n.tasks, t.n.consumer)
	if err != nil {
		return 1
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 1
	}
	return max(1, info.NumWaiting)
}

// lease renews the pool's lease.
func (t *transport) lease(ctx context.Context) error {
	_, err := t.js.Publish(ctx, t.n.leaseSubject(t.id), []byte(t.fp), jetstream.WithMsgTTL(t.o.expiry))
	return err
}

// renew keeps the lease until Close; a lease that could not be renewed
// for Expiry has lapsed, and the pool fails with ErrExpired.
func (t *transport) renew() {
	defer t.wg.Done()
	every := t.o.expiry / 3
	tick := time.NewTicker(every)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-t.quit:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		err := t.lease(ctx)
		cancel()
		if err == nil {
			last = time.Now()
			continue
		}
		if since := time.Since(last); since > t.o.expiry {
			t.sink.Stopped(fmt.Errorf("cluster: %w: the pool has not reached the server for %v, past its Expiry (%v), so workers may have dropped its tasks: %v",
				ErrExpired, since.Round(time.Millisecond), t.o.expiry, err))
			return
		}
	}
}

// Send queues a chunk (remote.Transport). It never waits.
func (t *transport) Send(c *remote.Chunk) error {
	if size, most := c.EncodedSize(), t.maxPayload-headerRoom; size > most {
		// The pool sends a chunk of several tasks again as two halves;
		// this message is for the one task too large alone.
		return fmt.Errorf("cluster: %w: a task of %s takes %d bytes encoded (its argument, and a bound receiver's), past the %d bytes a message may carry here (the NATS server's max_payload, %d, less %d for headers): raise max_payload, or pass the data another way (a file, an object store) and its name in the argument",
			pool.ErrTooLarge, c.Func, size, most, t.maxPayload, headerRoom)
	}
	body, err := codec.Append(chunkCodec, make([]byte, 0, c.EncodedSize()), c)
	if err != nil {
		return fmt.Errorf("cluster: encoding a chunk of %s: %w", c.Func, err)
	}
	m := nats.NewMsg(t.n.taskSubject(t.id, c.Call))
	m.Data = body
	m.Header.Set(hdrFingerprint, t.fp)
	m.Header.Set(hdrLimit, strconv.Itoa(t.o.maxDeliver))
	m.Header.Set(hdrSeq, strconv.FormatUint(c.Seq, 10))
	m.Header.Set(jetstream.MsgIDHeader, t.id+"."+strconv.FormatUint(c.Seq, 10))
	m.Header.Set("Multiproc-Call", strconv.FormatUint(c.Call, 10))
	t.pub.send(m)
	return nil
}

// headerRoom is what a message's headers and subject take at most.
const headerRoom = 1024

// skip drops the queued chunks of a cancelled call.
func (t *transport) skip(m *nats.Msg) bool {
	call, _ := headerInt(m.Header, "Multiproc-Call")
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cancelled[call]
}

// Cancel drops a call's chunks and tells workers to cancel its running
// tasks (remote.Transport). It never waits.
func (t *transport) Cancel(call uint64) {
	t.mu.Lock()
	t.cancelled[call] = true
	t.purges = append(t.purges, call)
	t.mu.Unlock()
	t.nc.Publish(t.n.cancelSubject(t.id), []byte(strconv.FormatUint(call, 10)))
	select {
	case t.purgeTok <- struct{}{}:
	default:
	}
}

// purge removes the cancelled calls' queued chunks, and the results the
// pool has read, until Close.
func (t *transport) purge() {
	defer t.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	purged := uint64(0)
	for {
		select {
		case <-t.quit:
			return
		case <-t.purgeTok:
		case <-tick.C:
		}
		t.mu.Lock()
		calls := t.purges
		t.purges = nil
		t.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for _, call := range calls {
			t.tasks.Purge(ctx, jetstream.WithPurgeSubject(t.n.taskSubject(t.id, call)))
		}
		if seq := t.lastSeq.Load(); seq > purged {
			if t.results.Purge(ctx, jetstream.WithPurgeSubject(t.n.resultSubject(t.id)), jetstream.WithPurgeSequence(seq+1)) == nil {
				purged = seq
			}
		}
		cancel()
	}
}

// report acts on one message on the pool's result subject.
func (t *transport) report(m jetstream.Msg) {
	if meta, err := m.Metadata(); err == nil {
		t.lastSeq.Store(meta.Sequence.Stream)
	}
	h := m.Headers()
	seq, ok := headerInt(h, hdrSeq)
	if !ok {
		return
	}
	worker := h.Get(hdrWorker)
	pid64, _ := headerInt(h, hdrPID)
	pid := int(pid64)
	switch h.Get(hdrKind) {
	case kindResults:
		r, err := codec.Decode(resultsCodec, m.Data())
		if err != nil || r.Seq != seq {
			t.sink.Refused(seq, pool.ErrCorrupt, worker, pid, fmt.Sprintf("worker %s sent results that do not decode: %v", worker, err))
			return
		}
		t.sink.Results(&r, worker, pid)
	case kindStarted:
		t.sink.Started(seq, worker, pid)
	case kindLost:
		n, _ := headerInt(h, hdrDeliveries)
		t.sink.Lost(seq, int(n), string(m.Data()))
	case kindRefused:
		sentinel := pool.ErrCorrupt
		if h.Get(hdrReason) == "build" {
			sentinel = ErrBuildMismatch
		}
		t.sink.Refused(seq, sentinel, worker, pid, string(m.Data()))
	}
}

// Close ends the pool's part in the cluster: its leftover chunks and
// results are purged and its lease given up (remote.Transport).
func (t *transport) Close() error {
	var err error
	t.closed.Do(func() {
		close(t.quit)
		t.wg.Wait()
		if t.cc != nil {
			t.cc.Stop()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		t.pub.idle(ctx) // chunks of a call cancelled at the end may be in flight still
		t.pub.stop()
		err = errors.Join(
			t.tasks.Purge(ctx, jetstream.WithPurgeSubject(t.n.prefix+".task."+t.id+".>")),
			t.results.Purge(ctx, jetstream.WithPurgeSubject(t.n.resultSubject(t.id))),
		)
		if leases, lerr := t.js.Stream(ctx, t.n.leases); lerr == nil {
			err = errors.Join(err, leases.Purge(ctx, jetstream.WithPurgeSubject(t.n.leaseSubject(t.id))))
		}
		t.nc.Close()
	})
	return err
}
