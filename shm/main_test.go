package shm_test

import (
	"testing"

	"github.com/multiproc/multiproc/internal/proctest"
)

func TestMain(m *testing.M) {
	proctest.Register("write-pattern", writePattern)
	proctest.Register("check-pattern", checkPattern)
	proctest.Main(m)
}
