package cluster

// A worker process: this program started again by StartWorkers, in role
// pool.cluster-worker, with two inherited pipes: "control", on which it
// reads its workerConfig (a 4-byte length, then the codec's encoding) and
// then waits for EOF — its parent closed it to ask it to stop, or died —
// and "ready", to which it writes one byte once it is taking tasks.
//
// It takes one chunk at a time from the workers' durable consumer (a pull
// of one message, so that no worker holds chunks it is not running, and
// the ack deadline of a chunk runs only while it runs), and for each:
//
//  1. refuses it (a "refused" report, and Term: never delivered again) if
//     the caller's fingerprint is not this build's, with a log line
//     naming both; or if its body does not decode;
//  2. reports it "lost" (and Terms it) if it was delivered more times than
//     its caller's MaxDeliver: every delivery before ended without an ack;
//  3. drops it (Term) if its caller's lease has gone, or its call was
//     cancelled;
//  4. on its last allowed delivery, reports "started" with its pid, and
//     runs it reporting after every task and waiting for each report to be
//     stored, so that if it dies the first task without an outcome is the
//     one it was running;
//  5. runs it (package pool's runner), sending results as they come,
//     while a goroutine tells the server every AckWait/3 that it is still
//     at it, and cancels the chunk if its caller's lease goes;
//  6. waits until every result is stored, then acknowledges the chunk
//     (and waits for the server to confirm it: a lost ack means one more
//     delivery, whose results the caller drops as duplicates).

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/multiproc/multiproc/internal/codec"
	"github.com/multiproc/multiproc/internal/reexec"
	"github.com/multiproc/multiproc/pool/internal/remote"
)

const roleWorker = "pool.cluster-worker"

func init() { reexec.Register(roleWorker, runWorker) }

// workerConfig is what a worker process is told.
type workerConfig struct {
	Conn    connOptions
	Prefix  string
	AckWait time.Duration
	Memory  bool
	Salt    string
	Number  int
}

var workerConfigCodec = mustBinary[workerConfig]()

// Exit statuses of a worker process.
const (
	exitBadStart = 2 // no config, or the runner could not start
	exitNoServer = 3 // the server could not be reached at start
)

func runWorker([]string) int {
	ctl, ready := reexec.File("control"), reexec.File("ready")
	if ctl == nil || ready == nil {
		fmt.Fprintln(os.Stderr, "cluster: a worker started without its control and ready pipes")
		return exitBadStart
	}
	var size [4]byte
	if _, err := io.ReadFull(ctl, size[:]); err != nil {
		fmt.Fprintf(os.Stderr, "cluster: a worker's config: %v\n", err)
		return exitBadStart
	}
	buf := make([]byte, binary.LittleEndian.Uint32(size[:]))
	if _, err := io.ReadFull(ctl, buf); err != nil {
		fmt.Fprintf(os.Stderr, "cluster: a worker's config: %v\n", err)
		return exitBadStart
	}
	cfg, err := codec.Decode(workerConfigCodec, buf)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cluster: a worker's config: %v\n", err)
		return exitBadStart
	}
	w, code := newWorker(cfg)
	if w == nil {
		return code
	}
	go func() {
		io.Copy(io.Discard, ctl) // until EOF: asked to stop, or the parent is gone
		w.stop()
	}()
	ready.Write([]byte{1})
	ready.Close()
	return w.serve()
}

type worker struct {
	cfg     workerConfig
	n       names
	fp      string
	name    string
	pid     int
	logf    func(string, ...any)
	nc      *nats.Conn
	js      jetstream.JetStream
	cons    jetstream.Consumer
	leases  jetstream.Stream
	pub     *publisher
	run     remote.Runner
	ackWait time.Duration
	maxMsg  int

	stopping atomic.Bool
	busy     atomic.Bool

	mu        sync.Mutex
	local     map[string]uint64 // "pool/call" → the call's id in this process
	order     []string          // local's keys, oldest first
	nextLocal uint64
	cancelled map[string]bool      // "pool/call"
	leaseOf   map[string]leaseSeen // by pool
	refused   map[string]bool      // pools told about in the log already
}

// leaseSeen is what a worker last learnt of a pool's lease.
type leaseSeen struct {
	alive bool
	at    time.Time
	ttl   time.Duration
}

// remembered bounds the calls and pools a worker keeps in mind.
const remembered = 1024

func newWorker(cfg workerConfig) (*worker, int) {
	o := options{}
	w := &worker{cfg: cfg, n: namesOf(cfg.Prefix), fp: fingerprint(cfg.Salt), name: workerName(), pid: os.Getpid(),
		logf: o.logger(), local: map[string]uint64{}, cancelled: map[string]bool{}, leaseOf: map[string]leaseSeen{},
		refused: map[string]bool{}}
	run, err := remote.Pool.NewRunner(cfg.Number)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cluster: worker %s: %v\n", w.name, err)
		return nil, exitBadStart
	}
	w.run = run
	cfg.Conn.Name = "multiproc worker " + w.name
	if w.nc, err = connect(cfg.Conn, nil); err != nil {
		fmt.Fprintf(os.Stderr, "cluster: worker %s: %v\n", w.name, err)
		return nil, exitNoServer
	}
	var jsOpts []jetstream.JetStreamOpt
	w.pub, jsOpts = newPublisher(nil)
	if w.js, err = jetstream.New(w.nc, jsOpts...); err != nil {
		fmt.Fprintf(os.Stderr, "cluster: worker %s: %v\n", w.name, err)
		return nil, exitNoServer
	}
	w.pub.start(w.js)
	w.maxMsg = int(w.nc.MaxPayload()) - headerRoom
	if err := w.attach(); err != nil {
		fmt.Fprintf(os.Stderr, "cluster: worker %s: %v\n", w.name, err)
		return nil, exitNoServer
	}
	if _, err := w.nc.Subscribe(cfg.Prefix+".cancel.*", w.onCancel); err != nil {
		fmt.Fprintf(os.Stderr, "cluster: worker %s: %v\n", w.name, err)
		return nil, exitNoServer
	}
	return w, 0
}

// attach finds (or makes) the streams and the workers' consumer.
func (w *worker) attach() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ensureStreams(ctx, w.js, w.n, w.cfg.Memory); err != nil {
		return err
	}
	cons, err := ensureConsumer(ctx, w.js, w.n, w.cfg.AckWait)
	if err != nil {
		return err
	}
	w.cons = cons
	w.ackWait = cons.CachedInfo().Config.AckWait
	if w.leases, err = w.js.Stream(ctx, w.n.leases); err != nil {
		return fmt.Errorf("stream %s: %w", w.n.leases, err)
	}
	return nil
}

// ensureConsumer makes or updates the workers' durable consumer.
func ensureConsumer(ctx context.Context, js jetstream.JetStream, n names, ackWait time.Duration) (jetstream.Consumer, error) {
	c, err := js.CreateOrUpdateConsumer(ctx, n.tasks, jetstream.ConsumerConfig{
		Durable: n.consumer, Description: "multiproc: the workers", FilterSubject: n.prefix + ".task.>",
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait,
		MaxDeliver:    -1, // the caller's limit travels with each chunk: the worker enforces it
		MaxAckPending: -1, MaxWaiting: 4096,
	})
	if err != nil {
		return nil, fmt.Errorf("the workers' consumer on %s: %w", n.tasks, err)
	}
	return c, nil
}

func (w *worker) stop() {
	w.stopping.Store(true)
	if !w.busy.Load() {
		w.nc.Close()
		os.Exit(0) // idle: nothing held, nothing to finish
	}
}

// serve takes chunks until asked to stop.
func (w *worker) serve() int {
	defer w.nc.Close()
	for !w.stopping.Load() {
		msg, err := w.cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			if errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
				if err := w.attach(); err != nil {
					w.logf("multiproc cluster: worker %s: %v", w.name, err)
				}
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		w.busy.Store(true)
		w.handle(msg)
		w.busy.Store(false)
	}
	return 0
}

// handle is the steps in the file's comment.
func (w *worker) handle(msg jetstream.Msg) {
	h := msg.Headers()
	pool, call, ok := w.parseSubject(msg.Subject())
	seq, ok2 := headerInt(h, hdrSeq)
	meta, err := msg.Metadata()
	if !ok || !ok2 || err != nil {
		w.logf("multiproc cluster: worker %s drops a message on %s that is not a task", w.name, msg.Subject())
		msg.Term()
		return
	}
	// 1. The caller's build.
	if fp := h.Get(hdrFingerprint); fp != w.fp {
		why := fmt.Sprintf("worker %s refused it: the caller's build has fingerprint %s, this worker's is %s (the registered functions — names and types —, the multiproc version or the architecture differ): run workers of the caller's build",
			w.name, fp, w.fp)
		w.mu.Lock()
		first := !w.refused[pool]
		w.refused[pool] = true
		w.mu.Unlock()
		if first {
			w.logf("multiproc cluster: refusing the tasks of pool %s: %s", pool, why)
		}
		w.reportNow(pool, seq, kindRefused, why, hdrReason, "build")
		msg.Term()
		return
	}
	// 2. Delivered past its limit.
	limit, _ := headerInt(h, hdrLimit)
	if limit > 0 && meta.NumDelivered > limit {
		why := fmt.Sprintf("no worker acknowledged it within the ack deadline (%v) on any of its %d allowed deliveries (killed, crashed, or cut off from the server)", w.ackWait, limit)
		w.reportNow(pool, seq, kindLost, why, hdrDeliveries, strconv.FormatUint(meta.NumDelivered-1, 10))
		msg.Term()
		return
	}
	// 3. Its caller gone, or the call cancelled.
	key := pool + "/" + strconv.FormatUint(call, 10)
	if !w.alive(pool) || w.isCancelled(key) {
		msg.Term()
		return
	}
	c, err := codec.Decode(chunkCodec, msg.Data())
	if err != nil || c.Seq != seq {
		w.reportNow(pool, seq, kindRefused, fmt.Sprintf("worker %s: the chunk did not decode: %v", w.name, err), hdrReason, "corrupt")
		msg.Term()
		return
	}
	c.Call = w.localCall(key)
	// 4. The last allowed delivery.
	careful := limit > 0 && meta.NumDelivered >= limit
	if careful {
		w.reportNow(pool, seq, kindStarted, "")
	}
	// 5. Run it, heartbeats beside.
	stopBeat := w.heartbeat(msg, pool, key, c.Call)
	delivery := meta.NumDelivered
	err = w.run.Run(&c, careful, w.maxMsg, func(r *remote.Results) error {
		return w.sendResults(pool, seq, delivery, r, careful)
	})
	stopBeat()
	if err != nil {
		return // its results did not all go: it is delivered again after the deadline
	}
	// 6. Results stored, then the ack.
	ctx, cancel := context.WithTimeout(context.Background(), w.ackWait)
	defer cancel()
	if err := w.pub.idle(ctx); err != nil {
		return
	}
	for {
		if err := msg.DoubleAck(ctx); err == nil || ctx.Err() != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// parseSubject reads prefix.task.<pool>.<call>.
func (w *worker) parseSubject(s string) (pool string, call uint64, ok bool) {
	rest, found := strings.CutPrefix(s, w.n.prefix+".task.")
	if !found {
		return "", 0, false
	}
	pool, callStr, found := strings.Cut(rest, ".")
	if !found || pool == "" {
		return "", 0, false
	}
	call, err := strconv.ParseUint(callStr, 10, 64)
	return pool, call, err == nil
}

// heartbeat tells the server every AckWait/3 that msg is in progress, and
// cancels the chunk if its pool's lease goes; the func it returns stops
// it.
func (w *worker) heartbeat(msg jetstream.Msg, pool, key string, local uint64) func() {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(w.ackWait / 3)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			msg.InProgress()
			if !w.alive(pool) {
				w.cancel(key)
			}
		}
	}()
	return func() { close(quit); <-done }
}

// sendResults publishes one batch; careful waits until it is stored.
func (w *worker) sendResults(pool string, seq, delivery uint64, r *remote.Results, careful bool) error {
	body, err := codec.Append(resultsCodec, make([]byte, 0, r.EncodedSize()), r)
	if err != nil {
		return err
	}
	m := w.reportMsg(pool, seq, kindResults)
	m.Data = body
	m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("%s.%d.%d.%d", pool, seq, delivery, r.From))
	w.pub.send(m)
	if careful {
		return w.waitStored()
	}
	return nil
}

// waitStored waits until everything sent is stored, or the worker is
// asked to stop.
func (w *worker) waitStored() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return w.pub.idle(ctx)
}

func (w *worker) reportMsg(pool string, seq uint64, kind string) *nats.Msg {
	m := nats.NewMsg(w.n.resultSubject(pool))
	m.Header.Set(hdrKind, kind)
	m.Header.Set(hdrSeq, strconv.FormatUint(seq, 10))
	m.Header.Set(hdrWorker, w.name)
	m.Header.Set(hdrPID, strconv.Itoa(w.pid))
	return m
}

// reportNow sends a report (body text, then header pairs) and waits until
// it is stored.
func (w *worker) reportNow(pool string, seq uint64, kind, text string, kv ...string) {
	m := w.reportMsg(pool, seq, kind)
	m.Data = []byte(text)
	for i := 0; i+1 < len(kv); i += 2 {
		m.Header.Set(kv[i], kv[i+1])
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(time.Now().UnixNano()))
	m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("%s.%d.%s.%x", pool, seq, kind, b))
	w.pub.send(m)
	w.waitStored()
}

// alive reports whether pool's lease holds, as last seen (looked at again
// after a quarter of its TTL). A lease that cannot be looked at counts as
// held: only its absence drops a pool's tasks.
func (w *worker) alive(pool string) bool {
	w.mu.Lock()
	seen, ok := w.leaseOf[pool]
	w.mu.Unlock()
	if ok && (!seen.alive || time.Since(seen.at) < seen.ttl/4) {
		return seen.alive
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m, err := w.leases.GetLastMsgForSubject(ctx, w.n.leaseSubject(pool))
	now := leaseSeen{alive: true, at: time.Now(), ttl: 4 * time.Second}
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		now.alive = false
		w.logf("multiproc cluster: worker %s drops the tasks of pool %s: its lease has lapsed (the caller died, or lost the server)", w.name, pool)
	case err != nil:
		return true
	default:
		if ttl, err := time.ParseDuration(m.Header.Get(jetstream.MsgTTLHeader)); err == nil && ttl > 0 {
			now.ttl = ttl
		}
	}
	w.mu.Lock()
	if len(w.leaseOf) > remembered {
		clear(w.leaseOf)
	}
	w.leaseOf[pool] = now
	w.mu.Unlock()
	return now.alive
}

// localCall returns the id in this process of the call key ("pool/call":
// two pools' calls share numbers).
func (w *worker) localCall(key string) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if id, ok := w.local[key]; ok {
		return id
	}
	w.nextLocal++
	w.local[key] = w.nextLocal
	w.order = append(w.order, key)
	for len(w.order) > remembered {
		delete(w.local, w.order[0])
		delete(w.cancelled, w.order[0])
		w.order = w.order[1:]
	}
	return w.nextLocal
}

func (w *worker) isCancelled(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cancelled[key]
}

// cancel marks the call key cancelled, and cancels its running tasks.
func (w *worker) cancel(key string) {
	w.mu.Lock()
	if w.cancelled[key] {
		w.mu.Unlock()
		return
	}
	if len(w.cancelled) > remembered {
		clear(w.cancelled)
	}
	w.cancelled[key] = true
	id, ok := w.local[key]
	w.mu.Unlock()
	if ok {
		w.run.Cancel(id)
	}
}

// onCancel is a message on prefix.cancel.<pool>: the call it names.
func (w *worker) onCancel(m *nats.Msg) {
	pool := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	call, err := strconv.ParseUint(string(m.Data), 10, 64)
	if err != nil {
		return
	}
	w.cancel(pool + "/" + strconv.FormatUint(call, 10))
}
