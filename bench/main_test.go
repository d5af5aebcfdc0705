package bench

import (
	"fmt"
	"os"
	"testing"

	"github.com/multiproc/multiproc/bench/internal/workload"
)

// env builds the C baselines and finds python3 for every benchmark of the
// run.
var env *workload.Env

// TestMain first lets a workload worker (this test binary re-executed)
// run its role.
func TestMain(m *testing.M) {
	workload.Main()
	var err error
	if env, err = workload.NewEnv(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	env.Close()
	os.Exit(code)
}
