package main

import (
	"strings"
	"testing"

	"github.com/multiproc/multiproc/examples/internal/seedtest"
)

// TestTourRuns builds the tour and runs it as a user would, checking each
// step's result and that it leaves /dev/shm as it found it.
func TestTourRuns(t *testing.T) {
	// Program fails the test on anything written to stderr: the trackers
	// of the tour and of its children print nothing behind its back
	// (issue 15: a correct program prints nothing; the crash step shows
	// its tracker's line itself), and no child complains.
	out := seedtest.Program(t).Out
	if n := strings.Count(out, "multiproc tracker:"); n != 1 {
		t.Errorf("tour output has %d tracker lines, want 1 (the crash step's):\n%s", n, out)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, "multiproc tracker:") {
			t.Errorf("a tracker line interleaved with the tour's output: %q", l)
		}
	}
	for _, want := range []string{
		"parent reads: \"hello from child",
		"Final counter: 4000",
		"previous lock owner died holding the lock",
		"parent took the lock over ", // a duration, then "after the kill": never "after 0s"
		"after the kill, the owner being dead when it asked",
		"semaphore released too many times",
		"all 3 children saw the event and exited",
		"the parent got all 3000 items, each exactly once and each child's in the order it put them",
		"the squares sum to 333383335000, as 10000*10001*20001/6 = 333383335000",
		"is running task 17; killing it with SIGKILL",
		"the Map returned: pool: task 17 lost: worker pid ",
		"died (killed by SIGKILL)",
		"and the other 39 results are right",
		"the next call, 9*9 = 81 (workers restarted: 1)",
		"its tracker says: multiproc tracker: removed leaked Value mpgo_value_",
		"done: every object this tour made is gone",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("tour output lacks %q:\n%s", want, out)
		}
	}
}
