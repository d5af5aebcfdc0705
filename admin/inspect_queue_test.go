package admin_test

import (
	"context"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/admin"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/pool"
)

func TestInspectQueueAndPipe(t *testing.T) {
	proctest.CheckShm(t)
	q, err := pool.NewJoinableQueue[int64](pool.MaxSize(10), pool.Capacity(4096))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ctx := context.Background()
	for i := range 3 {
		q.Put(ctx, int64(i))
	}
	info, err := admin.Inspect(q.Name())
	if err != nil {
		t.Fatal(err)
	}
	st := info.Queue
	if st == nil || st.Items != 3 || st.Capacity != 4096 || st.MaxSize != 10 || !st.Joinable || st.Unfinished != 3 || st.ShutDown || st.ItemType != "int64" {
		t.Fatalf("Inspect(queue) = %+v (problem %q)", st, info.Problem)
	}
	q.Shutdown(ctx)
	info, _ = admin.Inspect(q.Name())
	if !info.Queue.ShutDown {
		t.Fatal("a shut down queue inspects as open")
	}
	var text strings.Builder
	for _, f := range info.Fields() {
		text.WriteString(f.Label + ": " + f.Value + "\n")
	}
	for _, want := range []string{"items: 3 (of int64)", "bytes used: 48 of 4096", "shut down: yes", "producers lock: free"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("inspect text lacks %q:\n%s", want, text.String())
		}
	}

	a, b, err := pool.Pipe[string](true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	b.Send(ctx, "hi")
	b.Send(ctx, "there")
	name := a.Name()[:len(a.Name())-2]
	info, err = admin.Inspect(name)
	if err != nil {
		t.Fatal(err)
	}
	p := info.Pipe
	if p == nil || !p.Duplex || p.Ends[0].Pending != 2 || p.Ends[1].Pending != 0 || !p.Ends[0].Alive || p.ItemType != "string" {
		t.Fatalf("Inspect(pipe) = %+v (problem %q)", p, info.Problem)
	}
}
