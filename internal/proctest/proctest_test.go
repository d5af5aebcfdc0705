package proctest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

func init() {
	Register("proctest-deadline", func([]string) error {
		fmt.Println("deadline", Deadline().UnixNano())
		return nil
	})
	Register("proctest-block", func([]string) error {
		fmt.Println("blocking")
		ctx, cancel := ChildContext()
		defer cancel()
		<-ctx.Done() // a hang, bounded by the test's deadline
		return ctx.Err()
	})
}

func TestMain(m *testing.M) { Main(m) }

// A child's Deadline is its test's, less the margins: after now, before
// the parent's own bound for the child.
func TestChildrenTakeTheirDeadlineFromTheTest(t *testing.T) {
	c := Start(t, "proctest-deadline")
	line := c.WaitLine("deadline ")
	c.MustSucceed()
	ns, err := strconv.ParseInt(strings.TrimPrefix(line, "deadline "), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	got := time.Unix(0, ns)
	if !got.After(time.Now()) || !got.Before(time.Now().Add(timeoutFor(t))) {
		t.Fatalf("child deadline %v: want after now and before %v", got, time.Now().Add(timeoutFor(t)))
	}
}

// A hung child, dumped, prints its goroutines and is gone.
func TestADumpedChildShowsItsGoroutines(t *testing.T) {
	c := Start(t, "proctest-block")
	c.WaitLine("blocking")
	out := c.dump("is dumped by the test")
	select {
	case <-c.Done():
	default:
		t.Fatal("the dumped child still runs")
	}
	// (Which frames show depends on where the signal finds goroutine 1: it
	// may still be running, between its print and its wait.)
	if !strings.Contains(out, "SIGQUIT") || !strings.Contains(out, "goroutine 1 ") {
		t.Fatalf("the dump does not show the child's goroutines:\n%s", out)
	}
}
