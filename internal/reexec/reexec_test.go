package reexec_test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/reexec"
)

func TestMain(m *testing.M) {
	reexec.Register("rt.echo", roleEcho)
	reexec.Register("rt.child", roleChild)
	reexec.Register("rt.exit", func(args []string) int { n, _ := strconv.Atoi(args[0]); return n })
	reexec.Register("rt.sleep", roleSleep)
	reexec.Register("rt.ignore-term", roleIgnoreTerm)
	reexec.Register("rt.until-eof", roleUntilEOF)
	reexec.Register("rt.watch", roleWatch)
	proctest.Register("parent", roleParent)
	proctest.Register("orphan-parent", roleOrphanParent)
	proctest.Main(m)
}

// roleEcho prints its arguments (quoted, one a line), whether the marker
// is still in its environment, and what its inherited file "data" holds.
func roleEcho(args []string) int {
	for _, a := range args {
		fmt.Println("arg", strconv.Quote(a))
	}
	_, marked := os.LookupEnv(reexec.EnvRole)
	fmt.Println("marker in environment:", marked)
	if f := reexec.File("data"); f != nil {
		b, err := io.ReadAll(f)
		fmt.Printf("data %q %v\n", b, err)
	}
	fd := reexec.FD("data")
	flags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	fmt.Println("data close-on-exec:", flags&unix.FD_CLOEXEC != 0)
	return 0
}

func roleChild([]string) int {
	name, _ := reexec.Role()
	fmt.Println("I am", name)
	return 0
}

func roleSleep([]string) int {
	fmt.Println("ready")
	for {
		time.Sleep(time.Hour)
	}
}

func roleIgnoreTerm([]string) int {
	signal.Ignore(syscall.SIGTERM)
	fmt.Println("ready")
	for {
		time.Sleep(time.Hour)
	}
}

func roleUntilEOF([]string) int {
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// output runs c with its stdout captured and returns it with Wait's error.
func output(t *testing.T, c *reexec.Cmd) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c.Cmd.Stdout = w
	var stderr strings.Builder
	c.Cmd.Stderr = &stderr
	err = c.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	err = c.Wait()
	if stderr.Len() > 0 {
		t.Logf("stderr of %v: %s", c.Cmd.Args, stderr.String())
	}
	return string(b), err
}

func TestRoleGetsItsArgumentsAndFiles(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c := reexec.Command("rt.echo", "a b", `q"uote`, "")
	c.AddFile("data", r)
	go func() { io.WriteString(w, "payload\x00bytes"); w.Close() }()
	out, err := output(t, c)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := `arg "a b"
arg "q\"uote"
arg ""
marker in environment: false
data "payload\x00bytes" <nil>
data close-on-exec: true
`
	if out != want {
		t.Fatalf("child printed\n%s\nwant\n%s", out, want)
	}
}

// roleParent starts rt.child three ways, each given an environment that
// still names this very role first — the fork bomb of the last session —
// and prints what each child printed. A parent role that finds itself
// running in its own child says so and stops, so a regression fails the
// test instead of filling the machine.
func roleParent([]string) error {
	if os.Getenv("RT_PARENT_DEPTH") != "" {
		fmt.Println("REPEATED: the parent's role ran again in its child")
		os.Exit(9)
	}
	stale := reexec.EnvRole + `=v1 test.parent - "0"`
	poisoned := append([]string{stale, "RT_PARENT_DEPTH=1"}, os.Environ()...)

	// 1. Command, with an Env that names the parent's role first.
	c := reexec.Command("rt.child")
	c.Cmd.Env = append(poisoned, c.Cmd.Env...)
	out, err := c.Cmd.Output()
	fmt.Printf("command: %q %v\n", out, err)

	// 2. syscall.ForkExec, which takes the first of two settings.
	r, w, _ := os.Pipe()
	exe, _ := os.Executable()
	pid, err := syscall.ForkExec(exe, []string{exe, "-test.run=^$"}, &syscall.ProcAttr{
		Env:   reexec.Environ(poisoned, "rt.child"),
		Files: []uintptr{0, w.Fd(), 2},
	})
	w.Close()
	if err != nil {
		return err
	}
	out, _ = io.ReadAll(r)
	var ws syscall.WaitStatus
	syscall.Wait4(pid, &ws, 0, nil)
	fmt.Printf("forkexec: %q %v\n", out, ws.ExitStatus())

	// 3. A plain exec.Command of our own binary: our marker was removed
	// from our environment at start-up, so this child plays no role at
	// all: a test binary told to run no test, it prints PASS.
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "RT_PARENT_DEPTH=1")
	out, err = cmd.Output()
	fmt.Printf("plain: %q %v\n", out, err)
	return nil
}

func TestChildCannotRerunParentRole(t *testing.T) {
	c := proctest.Start(t, "parent")
	c.MustSucceed()
	got := strings.Join(c.Output(), "\n")
	want := `command: "I am rt.child\n" <nil>
forkexec: "I am rt.child\n" 0
plain: "PASS\n" <nil>`
	if got != want {
		t.Fatalf("parent printed\n%s\nwant\n%s", got, want)
	}
}

func TestUnknownRoleExitsWithoutRunningMain(t *testing.T) {
	c := reexec.Command("rt.nosuch")
	var stderr strings.Builder
	c.Cmd.Stderr = &stderr
	out, err := c.Cmd.Output()
	code, _ := reexec.ExitCode(c.Cmd.ProcessState)
	if code != reexec.ExitNoRole || !strings.Contains(stderr.String(), `"rt.nosuch"`) {
		t.Fatalf("unknown role: %v, exit code %d, stdout %q, stderr %q", err, code, out, stderr.String())
	}
}

func TestForeignMarkerExits(t *testing.T) {
	for _, v := range []string{"garbage", "v9 rt.echo -", "v1 rt.echo data=77"} {
		exe, _ := os.Executable()
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), reexec.EnvRole+"="+v)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		cmd.Run()
		if code, _ := reexec.ExitCode(cmd.ProcessState); code != reexec.ExitNoRole || !strings.Contains(stderr.String(), reexec.EnvRole) {
			t.Errorf("marker %q: exit code %d, stderr %q", v, code, stderr.String())
		}
	}
}
