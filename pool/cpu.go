package pool

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// CPUCount is the number of CPUs this process may use, the size a Pool
// takes by default: the CPUs in its affinity mask (sched_getaffinity, as
// Python's os.process_cpu_count() counts them), lowered to its cgroup's
// CPU quota where one is set (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us
// over cpu.cfs_period_us, of its cgroup and each one above it), rounded
// up: a container given 1.5 CPUs of a 64-CPU machine counts 2. It is at
// least 1. Python's cpu_count() counts every CPU of the machine instead,
// which oversizes a pool under taskset or in a container.
func CPUCount() int {
	n := affinityCPUs()
	if q, ok := cgroupCPULimit(os.ReadFile); ok && q < float64(n) {
		n = int(math.Ceil(q))
	}
	return max(n, 1)
}

func affinityCPUs() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return 1
	}
	return set.Count()
}

// cgroupCPULimit is the smallest CPU quota, in CPUs, of this process's
// cgroup and its ancestors, read through readFile (a test's fake
// filesystem, or os.ReadFile); ok is false when none is set.
func cgroupCPULimit(readFile func(string) ([]byte, error)) (cpus float64, ok bool) {
	groups, err := readFile("/proc/self/cgroup")
	if err != nil {
		return 0, false
	}
	mounts, err := readFile("/proc/self/mountinfo")
	if err != nil {
		return 0, false
	}
	best := math.Inf(1)
	for _, m := range cgroupMounts(mounts) {
		path, found := cgroupPath(groups, m.v2)
		if !found {
			continue
		}
		rel, inside := strings.CutPrefix(path, m.root)
		if !inside {
			continue // our cgroup is not under this mount's root
		}
		dir := filepath.Join(m.point, rel)
		for {
			if q, set := quotaIn(readFile, dir, m.v2); set && q < best {
				best = q
			}
			if dir == m.point || !strings.HasPrefix(dir, m.point) {
				break
			}
			dir = filepath.Dir(dir)
		}
	}
	return best, !math.IsInf(best, 1)
}

type cgroupMount struct {
	root, point string
	v2          bool
}

// cgroupMounts are the cgroup2 mounts and the v1 mounts of the cpu
// controller in mountinfo: "36 25 0:31 / /sys/fs/cgroup/cpu rw,... - cgroup
// cgroup rw,cpu,cpuacct" (proc(5)).
func cgroupMounts(mountinfo []byte) []cgroupMount {
	var ms []cgroupMount
	sc := bufio.NewScanner(bytes.NewReader(mountinfo))
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 {
			continue
		}
		switch {
		case g[0] == "cgroup2":
			ms = append(ms, cgroupMount{root: unescapeMount(f[3]), point: unescapeMount(f[4]), v2: true})
		case g[0] == "cgroup" && hasOption(g[2], "cpu"):
			ms = append(ms, cgroupMount{root: unescapeMount(f[3]), point: unescapeMount(f[4])})
		}
	}
	return ms
}

func hasOption(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// unescapeMount undoes mountinfo's octal escapes ("\040" for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroupPath is this process's cgroup in /proc/self/cgroup: the "0::"
// line for v2, the line whose controllers include cpu for v1.
func cgroupPath(groups []byte, v2 bool) (string, bool) {
	for _, line := range strings.Split(string(groups), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if v2 && parts[0] == "0" && parts[1] == "" {
			return parts[2], true
		}
		if !v2 && hasOption(parts[1], "cpu") {
			return parts[2], true
		}
	}
	return "", false
}

// quotaIn reads the CPU quota set in the cgroup directory dir.
func quotaIn(readFile func(string) ([]byte, error), dir string, v2 bool) (float64, bool) {
	if v2 {
		b, err := readFile(filepath.Join(dir, "cpu.max"))
		if err != nil {
			return 0, false
		}
		f := strings.Fields(string(b))
		if len(f) != 2 || f[0] == "max" {
			return 0, false
		}
		return ratio(f[0], f[1])
	}
	q, err1 := readFile(filepath.Join(dir, "cpu.cfs_quota_us"))
	p, err2 := readFile(filepath.Join(dir, "cpu.cfs_period_us"))
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return ratio(strings.TrimSpace(string(q)), strings.TrimSpace(string(p)))
}

func ratio(quota, period string) (float64, bool) {
	q, err1 := strconv.ParseInt(quota, 10, 64)
	p, err2 := strconv.ParseInt(period, 10, 64)
	if err1 != nil || err2 != nil || q <= 0 || p <= 0 {
		return 0, false // -1: no quota
	}
	return float64(q) / float64(p), true
}
