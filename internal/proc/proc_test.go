//go:build linux

package proc

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// havePidfs reports whether this kernel puts pidfds on pidfs, found
// independently of the code under test (by the file system magic).
func havePidfs(t *testing.T) bool {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var sfs unix.Statfs_t
	return unix.Fstatfs(fd, &sfs) == nil && sfs.Type == unix.PID_FS_MAGIC
}

func TestSelfIsAlive(t *testing.T) {
	me := Self()
	if me.PID != os.Getpid() || me.Start == 0 {
		t.Fatalf("Self = %+v", me)
	}
	if got, want := IsPidfsTag(me.Tag), havePidfs(t); got != want {
		t.Fatalf("Self tag %#x: pidfs kind %v, but the kernel's pidfds on pidfs: %v", me.Tag, got, want)
	}
	if !AliveID(me) || !Alive(me.PID, me.Tag) {
		t.Fatal("Self not alive")
	}
	if Alive(me.PID, me.Tag^1) {
		t.Fatal("our pid with another tag counts as alive: pid reuse would fool us")
	}
	if !AliveID(ID{PID: me.PID, Start: me.Start}) || AliveID(ID{PID: me.PID, Start: me.Start + 1}) {
		t.Fatal("our pid checked by full start time: wrong answer")
	}
}

func TestLookupSelfIsSelf(t *testing.T) {
	id, err := Lookup(os.Getpid())
	if err != nil || id != Self() {
		t.Fatalf("Lookup(self) = %+v, %v; Self = %+v", id, err, Self())
	}
	if _, err := Lookup(0); err == nil {
		t.Fatal("Lookup(0) succeeded")
	}
}

func TestTagKinds(t *testing.T) {
	if StartTag(1<<31|5) != 5 || IsPidfsTag(StartTag(^uint64(0))) {
		t.Fatal("a start-time tag must keep 31 bits and a clear top bit")
	}
	if tag := pidfsTag(1<<31 | 7); !IsPidfsTag(tag) || tag&tagBits != 7 {
		t.Fatalf("pidfsTag = %#x", tag)
	}
}

func TestParseStatWithParensInComm(t *testing.T) {
	line := []byte("42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10 18446744073709551615")
	st, state, err := parseStat(line)
	if err != nil || st != 98765 || state != 'S' {
		t.Fatalf("parseStat = %d %c %v", st, state, err)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 2", "1 (x) SS " + "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"} {
		if _, _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
}

// TestBothTagKindsCheckAChild checks a running, a zombie and a reaped
// child with the tag of each kind: both are verifiable on any kernel that
// has pidfs, whichever kind its writer made.
func TestBothTagKindsCheckAChild(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep binary:", err)
	}
	pid := cmd.Process.Pid
	id, err := Lookup(pid)
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]uint32{"start time": StartTag(id.Start)}
	if havePidfs(t) {
		if !IsPidfsTag(id.Tag) {
			t.Fatalf("Lookup gave %#x, not a pidfs tag", id.Tag)
		}
		tags["pidfs"] = id.Tag
	}
	for kind, tag := range tags {
		if !Alive(pid, tag) {
			t.Fatalf("%s tag: running child reported dead", kind)
		}
		if Alive(pid, tag^1) {
			t.Fatalf("%s tag: running child with a wrong tag reported alive", kind)
		}
		p, ok := Watch(pid, tag)
		if !ok || p == nil || p.Exited() {
			t.Fatalf("%s tag: Watch = %v, %v", kind, p, ok)
		}
		p.Close()
	}
	if !AliveID(ID{PID: pid, Start: id.Start}) {
		t.Fatal("running child reported dead by full start time")
	}
	cmd.Process.Kill()
	// Not yet reaped: a zombie. kill(pid, 0) would still succeed here.
	for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(time.Millisecond) {
		if _, state, _ := Stat(pid); state == 'Z' {
			break
		}
	}
	for kind, tag := range tags {
		if Alive(pid, tag) {
			t.Fatalf("%s tag: zombie child reported alive", kind)
		}
	}
	cmd.Wait()
	for kind, tag := range tags {
		if Alive(pid, tag) {
			t.Fatalf("%s tag: reaped child reported alive", kind)
		}
	}
	if Alive(0, 0) || Alive(-1, 0) {
		t.Fatal("non-positive pid reported alive")
	}
}

// TestExecKeepsIdentity: a process that calls exec keeps its pid, its
// start time and its pidfs inode, so to every check here it is the same
// process, and a lock it held stays held (the package doc's caveat; the
// kernel releases pthread robust mutexes at exec from the thread's robust
// list, which Go programs cannot keep).
func TestExecKeepsIdentity(t *testing.T) {
	cmd := exec.Command("sh", "-c", "read x; exec sleep 30")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skip("no sh:", err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	pid := cmd.Process.Pid
	before, err := Lookup(pid)
	if err != nil {
		t.Fatal(err)
	}
	comm := func() string { b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); return string(b) }
	was := comm()
	stdin.Write([]byte("\n"))
	for deadline := time.Now().Add(10 * time.Second); comm() != "sleep\n"; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the child did not exec sleep (comm %q)", comm())
		}
	}
	after, err := Lookup(pid)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("exec changed the identity %+v → %+v (comm %q → sleep): the caveat is wrong, and exec can be detected", before, after, was)
	}
	if !Alive(pid, before.Tag) {
		t.Fatal("the exec'd process is dead to Alive")
	}
}
