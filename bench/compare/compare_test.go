package main

import (
	"os"
	"testing"

	"github.com/multiproc/multiproc/bench/internal/workload"
)

func TestMain(m *testing.M) {
	workload.Main()
	os.Exit(m.Run())
}
