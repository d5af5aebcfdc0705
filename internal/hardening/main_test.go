package hardening

import (
	"testing"

	"github.com/multiproc/multiproc/internal/proctest"
)

// Child roles are registered by each test file in its own init function.
func TestMain(m *testing.M) { proctest.Main(m) }
