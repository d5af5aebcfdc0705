package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/pool"
)

// scaler is a callable with state: a bound method.
type scaler struct{ By int }

func (s scaler) Scale(_ context.Context, x int) (int, error) {
	if x < 0 {
		return 0, fmt.Errorf("cannot scale %d: %w", x, pool.ErrInvalidArgument)
	}
	return s.By * x, nil
}

var (
	add   = pool.RegisterName2("cluster_test.add", func(_ context.Context, a, b int) (int, error) { return a + b, nil })
	scale = pool.RegisterMethodName("cluster_test.scale", scaler.Scale)
)

// exercise is code written for a local Pool: every kind of call, with
// progress, failures and an Imap left early. It returns what it saw, in
// words that do not depend on which worker ran what.
func exercise(ctx context.Context, p *pool.Pool) string {
	var b strings.Builder
	xs := make([]int, 1000)
	for i := range xs {
		xs[i] = i
	}
	var last pool.Progress
	out, err := square.Map(ctx, p, xs, pool.WithProgress(func(pr pool.Progress) { last = pr }))
	fmt.Fprintf(&b, "Map: %d results, sum %d, %v; last progress %d/%d, %d failed\n", len(out), sum(out), err, last.Done, last.Total, last.Failed)

	out, err = square.MapAsync(ctx, p, xs[:8]).Get(ctx)
	fmt.Fprintf(&b, "MapAsync: %v %v\n", out, err)

	var got []int
	for v, err := range square.Imap(ctx, p, slices.Values(xs[:8]), pool.Chunksize(3)) {
		if err != nil {
			fmt.Fprintf(&b, "Imap: %v\n", err)
		}
		got = append(got, v)
	}
	fmt.Fprintf(&b, "Imap: %v\n", got)

	got = got[:0]
	for v, err := range square.ImapUnordered(ctx, p, slices.Values(xs[:8])) {
		if err != nil {
			fmt.Fprintf(&b, "ImapUnordered: %v\n", err)
		}
		got = append(got, v)
	}
	slices.Sort(got)
	fmt.Fprintf(&b, "ImapUnordered, sorted: %v\n", got)

	got = got[:0]
	for v, err := range square.Imap(ctx, p, slices.Values(xs), pool.Chunksize(10)) {
		if err != nil {
			fmt.Fprintf(&b, "Imap left early: %v\n", err)
		}
		if got = append(got, v); len(got) == 3 {
			break
		}
	}
	fmt.Fprintf(&b, "Imap left early: %v\n", got)

	v, err := square.Apply(ctx, p, 12)
	fmt.Fprintf(&b, "Apply: %d %v\n", v, err)
	v, err = square.ApplyAsync(ctx, p, 13).Get(ctx)
	fmt.Fprintf(&b, "ApplyAsync: %d %v\n", v, err)

	out, err = add.Map(ctx, p, pool.Zip([]int{1, 2, 3}, []int{10, 20, 30}))
	fmt.Fprintf(&b, "starmap: %v %v\n", out, err)

	out, err = scale.Bind(scaler{By: 3}).Map(ctx, p, []int{1, -2, 3})
	var me *pool.MapError
	var te *pool.TaskError
	if errors.As(err, &me) && len(me.Failed) == 1 && errors.As(me.Failed[0], &te) {
		fmt.Fprintf(&b, "bound method: %v; task %d failed: %q, ErrInvalidArgument %v\n", out, te.Index, te.Message, errors.Is(err, pool.ErrInvalidArgument))
	} else {
		fmt.Fprintf(&b, "bound method: %v %v\n", out, err)
	}
	return b.String()
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

func TestCodeForTheLocalPoolRunsUnchanged(t *testing.T) {
	ctx := proctest.Context(t)
	local, err := pool.New(pool.Workers(2))
	if err != nil {
		t.Fatal(err)
	}
	want := exercise(ctx, local)
	local.Close()
	c := newCluster(t, 2, nil, nil)
	if got := exercise(ctx, c.pool); got != want {
		t.Fatalf("on the cluster:\n%s\non a local Pool:\n%s", got, want)
	}
	t.Logf("on both:\n%s", want)
}
