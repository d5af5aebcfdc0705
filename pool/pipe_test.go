package pool_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/pool"
	"github.com/multiproc/multiproc/sem"
)

func init() {
	proctest.Register("pipe-echo", rolePipeEcho)
	proctest.Register("pipe-seed-child", rolePipeSeedChild)
	proctest.Register("pipe-send-then-close", rolePipeSendThenClose)
	proctest.Register("pipe-hold", rolePipeHold)
}

// pipe-echo END N: receives N messages and answers each with its double.
func rolePipeEcho(args []string) error {
	c, err := pool.OpenConn[int](args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	n, _ := strconv.Atoi(args[1])
	ctx := context.Background()
	for range n {
		v, err := c.Recv(ctx)
		if err != nil {
			return err
		}
		if err := c.Send(ctx, 2*v); err != nil {
			return err
		}
	}
	return nil
}

func newPipe[T any](t testing.TB, duplex bool, opts ...pool.QueueOption) (*pool.Conn[T], *pool.Conn[T]) {
	t.Helper()
	proctest.CheckShm(t)
	a, b, err := pool.Pipe[T](duplex, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestPipeDuplexConversation(t *testing.T) {
	a, b := newPipe[int](t, true)
	const n = 100000
	c := proctest.Start(t, "pipe-echo", b.Name(), strconv.Itoa(n))
	ctx := proctest.Context(t)
	for i := range n {
		if err := a.Send(ctx, i); err != nil {
			t.Fatal(err)
		}
		v, err := a.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v != 2*i {
			t.Fatalf("message %d: got %d, want %d", i, v, 2*i)
		}
	}
	c.MustSucceed()
}

// The seed's Pipe example: the child sends [42, None, 'hello'] and closes.
func rolePipeSeedChild(args []string) error {
	c, err := pool.OpenConn[[]any](args[0])
	if err != nil {
		return err
	}
	if err := c.Send(context.Background(), []any{42, nil, "hello"}); err != nil {
		return err
	}
	return c.Close()
}

func TestPipeSeedExampleAndEOF(t *testing.T) {
	parent, child := newPipe[[]any](t, true)
	c := proctest.Start(t, "pipe-seed-child", child.Name())
	ctx := proctest.Context(t)
	v, err := parent.Recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(v) != "[42 <nil> hello]" {
		t.Fatalf("got %v", v)
	}
	c.MustSucceed()
	if _, err := parent.Recv(ctx); err != io.EOF {
		t.Fatalf("Recv after the peer closed = %v, want io.EOF", err)
	}
	if err := parent.Send(ctx, nil); !errors.Is(err, pool.ErrPeerClosed) {
		t.Fatalf("Send to a closed peer = %v", err)
	}
}

// pipe-send-then-close END K: sends K messages, then closes its end.
func rolePipeSendThenClose(args []string) error {
	c, err := pool.OpenConn[string](args[0])
	if err != nil {
		return err
	}
	k, _ := strconv.Atoi(args[1])
	for i := range k {
		if err := c.Send(context.Background(), strconv.Itoa(i)); err != nil {
			return err
		}
	}
	return c.Close()
}

// Everything sent before a close is received, then io.EOF; one way, the
// first end only receives and the second only sends.
func TestPipeOneWayDrainsThenEOF(t *testing.T) {
	r, w := newPipe[string](t, false)
	c := proctest.Start(t, "pipe-send-then-close", w.Name(), "500")
	ctx := proctest.Context(t)
	for i := range 500 {
		s, err := r.Recv(ctx)
		if err != nil || s != strconv.Itoa(i) {
			t.Fatalf("message %d: %q, %v", i, s, err)
		}
	}
	if _, err := r.Recv(ctx); err != io.EOF {
		t.Fatalf("Recv after drain = %v, want io.EOF", err)
	}
	c.MustSucceed()
	if err := r.Send(ctx, "x"); !errors.Is(err, pool.ErrWrongWay) {
		t.Fatalf("Send on the receiving end = %v", err)
	}
	if _, err := w.Recv(ctx); !errors.Is(err, pool.ErrWrongWay) && !errors.Is(err, pool.ErrEndTaken) {
		t.Fatalf("Recv on the sending end = %v", err)
	}
}

// pipe-hold END: opens the end, prints "ready", never sends.
func rolePipeHold(args []string) error {
	c, err := pool.OpenConn[int](args[0])
	if err != nil {
		return err
	}
	_ = c
	fmt.Println("ready")
	time.Sleep(time.Hour)
	return nil
}

// A peer SIGKILLed while we wait: Recv returns ErrPeerDied, never hangs.
func TestPipePeerKilledIsAnError(t *testing.T) {
	defer sem.SetPollInterval(sem.SetPollInterval(20 * time.Millisecond))
	a, b := newPipe[int](t, true)
	c := proctest.Start(t, "pipe-hold", b.Name())
	c.WaitLine("ready")
	done := make(chan error, 1)
	go func() { _, err := a.Recv(context.Background()); done <- err }()
	time.Sleep(20 * time.Millisecond)
	pid := c.Pid()
	c.Kill()
	select {
	case err := <-done:
		if !errors.Is(err, pool.ErrPeerDied) || !strings.Contains(err.Error(), strconv.Itoa(pid)) {
			t.Fatalf("Recv from a killed peer = %v, want ErrPeerDied naming pid %d", err, pid)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Recv from a killed peer hung")
	}
	// The creator's handle on the end the child took over refuses use.
	if err := b.Send(context.Background(), 1); !errors.Is(err, pool.ErrEndTaken) {
		t.Fatalf("Send through the end another process took = %v", err)
	}
}

func TestPipePollAndBytes(t *testing.T) {
	a, b := newPipe[int](t, true)
	ctx := context.Background()
	now, cancel := context.WithCancel(ctx)
	cancel()
	if ok, err := a.Poll(now); ok || err != nil {
		t.Fatalf("Poll on an empty pipe = %v, %v", ok, err)
	}
	start := time.Now() // before the deadline is set, so a Poll that ends at it never measures shorter
	short, cancel2 := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel2()
	if ok, _ := a.Poll(short); ok || time.Since(start) < 20*time.Millisecond {
		t.Fatalf("Poll with a deadline: %v after %v", ok, time.Since(start))
	}
	b.Send(ctx, 7)
	if ok, err := a.Poll(ctx); !ok || err != nil {
		t.Fatalf("Poll with a message = %v, %v", ok, err)
	}
	if v, _ := a.Recv(ctx); v != 7 {
		t.Fatalf("Recv = %d", v)
	}
	payload := bytes.Repeat([]byte("ab"), 40000) // larger than a quarter of the ring
	if err := b.SendBytes(ctx, payload); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Recv(ctx); !errors.Is(err, pool.ErrCorrupt) || !strings.Contains(err.Error(), "RecvBytes") {
		t.Fatalf("Recv of a bytes message = %v", err)
	}
	b.SendBytes(ctx, payload)
	got, err := a.RecvBytes(ctx)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("RecvBytes: %d bytes, %v", len(got), err)
	}
}

func TestPipeTravelsAsItsName(t *testing.T) {
	a, b := newPipe[int](t, true)
	type msg struct{ Reply *pool.Conn[int] }
	q := newQueue[msg](t)
	ctx := context.Background()
	if err := q.Put(ctx, msg{Reply: b}); err != nil {
		t.Fatal(err)
	}
	m, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Reply.Close()
	if m.Reply.Name() != b.Name() {
		t.Fatalf("decoded end %s, want %s", m.Reply.Name(), b.Name())
	}
	if err := m.Reply.Send(ctx, 42); err != nil {
		t.Fatal(err)
	}
	if v, err := a.Recv(ctx); v != 42 || err != nil {
		t.Fatalf("Recv = %v, %v", v, err)
	}
}
