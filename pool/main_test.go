package pool_test

import (
	"testing"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/pool"
)

// Child roles are registered by each test file in its own init function.
// pool.Init comes first, as in every program's main; proctest.Main then
// runs the tests (or, in a child, the test role it was started in).
func TestMain(m *testing.M) {
	pool.Init()
	proctest.Main(m)
}
