package cluster

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/pool"
	"github.com/multiproc/multiproc/pool/cluster/embedded"
)

// srv is the embedded server of every test: started once in TestMain, on
// 127.0.0.1, a free port and a temporary directory (file storage, so a
// restart keeps the streams). Each test uses a Prefix of its own, so its
// streams are its own.
var srv *embedded.Server

func TestMain(m *testing.M) {
	pool.Init() // in a worker or a test role: serves it and exits
	var err error
	if srv, err = embedded.Start(embedded.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Start and stop a worker once, so that what lives as long as the
	// process (the resource tracker, reexec's parent-death thread) is
	// there before any test counts goroutines.
	if w, err := StartWorkers(srv.URL(), Prefix("warmup"), Processes(1)); err == nil {
		w.Close()
	}
	code := m.Run()
	srv.Close()
	os.Exit(code)
}

// The tests' functions.
var (
	square = pool.RegisterName("cluster_test.square", func(_ context.Context, x int) (int, error) { return x * x, nil })
	bigOut = pool.RegisterName("cluster_test.bigOut", func(_ context.Context, n int) ([]byte, error) { return make([]byte, n), nil })
	bigIn  = pool.RegisterName("cluster_test.bigIn", func(_ context.Context, b []byte) (int, error) { return len(b), nil })
)

var prefixes atomic.Int64

// cluster is one test's setting: its server, its prefix, its workers,
// its pool.
type cluster struct {
	t       testing.TB
	url     string
	dial    []nats.Option // the test's own connections' (credentials, TLS)
	prefix  string
	workers *Workers
	pool    *pool.Pool
}

// testAckWait is the workers' ack deadline in the tests: short, so a
// dead worker's task comes back soon, and long enough that a loaded
// machine does not stall a live worker's heartbeats (every AckWait/3)
// past it.
const testAckWait = 2 * time.Second

// newCluster starts n worker processes (with wopts) and a pool (with
// popts) on a prefix of the test's own, and stops them all at its end,
// checking that no goroutine, process or /dev/shm object is left.
func newCluster(t testing.TB, n int, wopts []Option, popts []Option) *cluster {
	t.Helper()
	return newClusterAt(t, srv.URL(), nil, n, wopts, popts)
}

// newClusterAt is newCluster on the server at url, which the test's own
// connections reach with dial.
func newClusterAt(t testing.TB, url string, dial []nats.Option, n int, wopts []Option, popts []Option) *cluster {
	t.Helper()
	proctest.CheckShm(t)
	goroutines := ourGoroutines()
	c := &cluster{t: t, url: url, dial: dial, prefix: fmt.Sprintf("t%d_%d", os.Getpid(), prefixes.Add(1))}
	wopts = append([]Option{Prefix(c.prefix), Processes(n), AckWait(testAckWait)}, wopts...)
	w, err := StartWorkers(url, wopts...)
	if err != nil {
		t.Fatal(err)
	}
	c.workers = w
	popts = append([]Option{Prefix(c.prefix)}, popts...)
	p, err := pool.New(Connect(url, popts...))
	if err != nil {
		w.Close()
		t.Fatal(err)
	}
	c.pool = p
	t.Cleanup(func() {
		p.Close()
		w.Close()
		for _, pid := range w.PIDs() {
			if pid != 0 {
				t.Errorf("worker pid %d still running after Close", pid)
			}
		}
		c.deleteStreams()
		waitGoroutines(t, goroutines)
	})
	return c
}

// deleteStreams removes the test's streams from the server.
func (c *cluster) deleteStreams() {
	nc, js := c.connect()
	defer nc.Close()
	n := namesOf(c.prefix)
	for _, s := range []string{n.tasks, n.results, n.leases} {
		js.DeleteStream(context.Background(), s)
	}
}

func (c *cluster) connect() (*nats.Conn, jetstream.JetStream) {
	c.t.Helper()
	nc, err := nats.Connect(c.url, c.dial...)
	if err != nil {
		c.t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		c.t.Fatal(err)
	}
	return nc, js
}

// queued is what the test's tasks stream holds, and the workers hold
// unacknowledged.
func (c *cluster) queued() (msgs uint64, ackPending int) {
	c.t.Helper()
	nc, js := c.connect()
	defer nc.Close()
	ctx := context.Background()
	n := namesOf(c.prefix)
	s, err := js.Stream(ctx, n.tasks)
	if err != nil {
		c.t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	cons, err := s.Consumer(ctx, n.consumer)
	if err != nil {
		c.t.Fatal(err)
	}
	ci, err := cons.Info(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	return info.State.Msgs, ci.NumAckPending
}

// ourGoroutines counts the goroutines of this process but the embedded
// server's (which come and go with its streams).
func ourGoroutines() int {
	n, _ := goroutines()
	return n
}

func goroutines() (int, string) {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var ours []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "nats-server/v2/server.") {
			ours = append(ours, g)
		}
	}
	return len(ours), strings.Join(ours, "\n\n")
}

// waitGoroutines fails t unless our goroutines go back to at most n
// before the test's deadline (nats.go's end theirs after Close returns).
func waitGoroutines(t testing.TB, n int) {
	t.Helper()
	deadline := deadlineOf(t)
	for {
		now, stacks := goroutines()
		if now <= n {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d goroutines left, %d before:\n%s", now, n, stacks)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eventually polls cond until it holds, failing t at the test's deadline
// (less a margin for the cleanups); it returns how long it took.
func eventually(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := deadlineOf(t)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", time.Since(start).Round(time.Millisecond), what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// deadlineOf is t's deadline less a margin for its cleanups and report,
// as proctest.Context's (a minute from now for a benchmark).
func deadlineOf(t testing.TB) time.Time {
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := d.Deadline(); ok {
			return dl.Add(-10 * time.Second)
		}
	}
	return time.Now().Add(time.Minute)
}
