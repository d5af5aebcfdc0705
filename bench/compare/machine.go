package main

import (
	"bufio"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multiproc/multiproc/bench/internal/workload"
)

// machine is the table's header: what the figures were measured on.
type machine struct {
	Date       string `json:"date"`
	CPU        string `json:"cpu"`
	CPUs       int    `json:"cpus"`        // usable by this process (its affinity)
	Online     string `json:"cpus_online"` // the kernel's list, e.g. "0-1"
	Kernel     string `json:"kernel"`
	Go         string `json:"go"`
	Python     string `json:"python"`
	GCC        string `json:"gcc"`
	LoadBefore string `json:"load_before"`
	LoadAfter  string `json:"load_after"`
}

func readMachine(env *workload.Env) machine {
	m := machine{
		Date:       time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		CPU:        cpuModel(),
		CPUs:       runtime.NumCPU(),
		Online:     firstLine("/sys/devices/system/cpu/online"),
		Go:         runtime.Version(),
		Python:     "python3 not found",
		GCC:        "gcc not found",
		LoadBefore: loadAverage(),
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = "Linux " + unix.ByteSliceToString(u.Release[:])
	}
	if env.Python != "" {
		if out, err := exec.Command(env.Python, "--version").CombinedOutput(); err == nil {
			m.Python = strings.TrimSpace(string(out))
		}
	}
	if env.GCC != "" {
		if out, err := exec.Command(env.GCC, "-dumpfullversion", "-dumpversion").Output(); err == nil {
			m.GCC = "gcc " + strings.TrimSpace(string(out))
		}
	}
	return m
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// loadAverage is /proc/loadavg's 1, 5 and 15 minute averages.
func loadAverage() string {
	f := strings.Fields(firstLine("/proc/loadavg"))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func firstLine(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(data), "\n")
	return strings.TrimSpace(line)
}
