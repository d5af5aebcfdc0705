package main

import (
	"os"
	"testing"

	"github.com/multiproc/multiproc/internal/proctest"
)

// The workers re-execute the test binary: send them to main.
func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) != "" {
		main()
		return
	}
	os.Exit(m.Run())
}

func TestCounterLeavesShmClean(t *testing.T) {
	proctest.CheckShm(t)
	if err := parent(); err != nil {
		t.Fatal(err)
	}
}

func Example() {
	main()
	// Output: Final counter: 4000
}
