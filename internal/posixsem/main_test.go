//go:build linux

package posixsem

import (
	"testing"

	"github.com/multiproc/multiproc/internal/proctest"
)

func TestMain(m *testing.M) { proctest.Main(m) }
