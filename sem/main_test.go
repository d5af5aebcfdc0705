package sem_test

import (
	"testing"

	"github.com/multiproc/multiproc/internal/proctest"
)

// Child roles are registered by each test file in its own init function
// (proctest.Register), so files can be added without touching this one.
func TestMain(m *testing.M) { proctest.Main(m) }
