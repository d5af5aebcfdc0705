package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/pool"
)

const callerExpiry = 2 * time.Second

func init() {
	// A caller of its own process, mapping tasks that block: args are the
	// server's URL, the prefix and the tasks' directory.
	proctest.Register("caller", func(args []string) error {
		p, err := pool.New(Connect(args[0], Prefix(args[1]), Expiry(callerExpiry)))
		if err != nil {
			return err
		}
		xs := make([]blockArg, 40)
		for i := range xs {
			xs[i] = blockArg{X: i, Dir: args[2], Block: true}
		}
		_, err = block.Map(context.Background(), p, xs, pool.Chunksize(1))
		return fmt.Errorf("the map ended: %v", err)
	})
}

func TestCallerKilledMidMapItsTasksExpire(t *testing.T) {
	c := newCluster(t, 3, nil, nil)
	dir := t.TempDir()
	caller := proctest.Start(t, "caller", srv.URL(), c.prefix, dir)
	eventually(t, "the caller's tasks never ran", func() bool { return len(running(t, dir)) == 3 })
	if msgs, _ := c.queued(); msgs == 0 {
		t.Fatal("nothing queued before the kill")
	}
	caller.Kill()
	// The lease lapses within the Expiry; workers look again within a
	// quarter of it, and a running chunk's heartbeat every AckWait/3. The
	// tasks block until their ctx ends: were they not dropped, this would
	// wait until the test's deadline and fail.
	bound := callerExpiry + callerExpiry/4 + testAckWait/3
	took := eventually(t, "the dead caller's tasks still run or are queued", func() bool {
		msgs, pending := c.queued()
		return len(running(t, dir)) == 0 && msgs == 0 && pending == 0
	})
	t.Logf("caller SIGKILLed: no task of it running or queued %v later (Expiry %v; %v expected on an idle machine)",
		took.Round(time.Millisecond), callerExpiry, bound)
}
