package pool

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

// POOL_WORKER_PROFILE=dir makes each worker of a test binary write its CPU
// profile to dir/worker-PID.pprof: the benchmarks' workers are where the
// time goes.
func init() {
	dir := os.Getenv("POOL_WORKER_PROFILE")
	if dir == "" {
		return
	}
	workerHook = func() func() {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("worker-%d.pprof", os.Getpid())))
		if err != nil {
			return func() {}
		}
		pprof.StartCPUProfile(f)
		return func() {
			pprof.StopCPUProfile()
			f.Close()
		}
	}
}
