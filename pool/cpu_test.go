package pool

import (
	"io/fs"
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCPUCountIsTheAffinityMaskHere(t *testing.T) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Skip(err)
	}
	n := CPUCount()
	if n < 1 || n > set.Count() {
		t.Fatalf("CPUCount() = %d with %d CPUs in the affinity mask", n, set.Count())
	}
	if q, ok := cgroupCPULimit(readHostFile); !ok && n != set.Count() {
		t.Fatalf("no quota, yet CPUCount() = %d of %d", n, set.Count())
	} else if ok {
		t.Logf("cgroup quota here: %.2f CPUs", q)
	}
	if n > runtime.NumCPU() {
		t.Fatalf("CPUCount() = %d > NumCPU %d", n, runtime.NumCPU())
	}
}

var readHostFile = os.ReadFile

// fakeFS is a read-only file system of a few files.
type fakeFS map[string]string

func (f fakeFS) read(name string) ([]byte, error) {
	if s, ok := f[name]; ok {
		return []byte(s), nil
	}
	return nil, fs.ErrNotExist
}

func TestCgroupQuota(t *testing.T) {
	const v2mount = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n"
	const v1mount = "33 25 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n" +
		"34 25 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
	for _, c := range []struct {
		name string
		fs   fakeFS
		want float64 // 0: no quota
	}{
		{"v2 quota", fakeFS{
			"/proc/self/cgroup":          "0::/app\n",
			"/proc/self/mountinfo":       v2mount,
			"/sys/fs/cgroup/app/cpu.max": "150000 100000\n",
			"/sys/fs/cgroup/cpu.max":     "max 100000\n",
		}, 1.5},
		{"v2 parent's quota is lower", fakeFS{
			"/proc/self/cgroup":          "0::/a/b\n",
			"/proc/self/mountinfo":       v2mount,
			"/sys/fs/cgroup/a/b/cpu.max": "400000 100000\n",
			"/sys/fs/cgroup/a/cpu.max":   "50000 100000\n",
		}, 0.5},
		{"v2 no quota", fakeFS{
			"/proc/self/cgroup":          "0::/app\n",
			"/proc/self/mountinfo":       v2mount,
			"/sys/fs/cgroup/app/cpu.max": "max 100000\n",
		}, 0},
		{"v1 quota", fakeFS{
			"/proc/self/cgroup":    "4:memory:/x\n3:cpu,cpuacct:/docker/abc\n0::/\n",
			"/proc/self/mountinfo": v1mount,
			"/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us":  "200000\n",
			"/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
			"/sys/fs/cgroup/cpu,cpuacct/docker/cpu.cfs_quota_us":      "-1\n",
			"/sys/fs/cgroup/cpu,cpuacct/docker/cpu.cfs_period_us":     "100000\n",
		}, 2},
		{"v1 no quota", fakeFS{
			"/proc/self/cgroup":                            "3:cpu,cpuacct:/\n",
			"/proc/self/mountinfo":                         v1mount,
			"/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us":  "-1\n",
			"/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
		}, 0},
		{"v1 namespaced: the mount's root is our cgroup", fakeFS{
			"/proc/self/cgroup":                    "3:cpu,cpuacct:/docker/abc\n",
			"/proc/self/mountinfo":                 "33 25 0:29 /docker/abc /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n",
			"/sys/fs/cgroup/cpu/cpu.cfs_quota_us":  "300000\n",
			"/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
		}, 3},
		{"a mount with a space in its path", fakeFS{
			"/proc/self/cgroup":             "0::/app\n",
			"/proc/self/mountinfo":          "30 23 0:26 / /sys/fs/my\\040cgroup rw - cgroup2 cgroup2 rw\n",
			"/sys/fs/my cgroup/app/cpu.max": "100000 100000\n",
		}, 1},
		{"garbage", fakeFS{
			"/proc/self/cgroup":          "nonsense\n0::/app\n",
			"/proc/self/mountinfo":       "short line\n" + v2mount,
			"/sys/fs/cgroup/app/cpu.max": "lots 0\n",
		}, 0},
		{"no /proc", fakeFS{}, 0},
	} {
		got, ok := cgroupCPULimit(c.fs.read)
		if !ok {
			got = 0
		}
		if got != c.want {
			t.Errorf("%s: quota %v (%v), want %v", c.name, got, ok, c.want)
		}
	}
}
