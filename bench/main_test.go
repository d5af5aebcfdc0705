package bench

import (
	"testing"

	"github.com/multiproc/multiproc/internal/proctest"
)

// Child roles are registered by each benchmark file in its own init
// function (proctest.Register).
func TestMain(m *testing.M) { proctest.Main(m) }
