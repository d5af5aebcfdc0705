//go:build linux

package proc

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestSelfIsAlive(t *testing.T) {
	me := Self()
	if me.PID != os.Getpid() || me.Start == 0 {
		t.Fatalf("Self = %+v", me)
	}
	if !AliveID(me) {
		t.Fatal("Self not alive")
	}
	if Alive(me.PID, me.Start32()+1) {
		t.Fatal("our pid with another start time counts as alive: pid reuse would fool us")
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

func TestExitedAndZombieAreDead(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep binary:", err)
	}
	pid := cmd.Process.Pid
	st, _, err := Stat(pid)
	if err != nil {
		t.Fatal(err)
	}
	if !Alive(pid, uint32(st)) {
		t.Fatal("running child reported dead")
	}
	cmd.Process.Kill()
	// Not yet reaped: a zombie. kill(pid, 0) would still succeed here.
	for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(time.Millisecond) {
		if _, state, _ := Stat(pid); state == 'Z' {
			break
		}
	}
	if Alive(pid, uint32(st)) {
		t.Fatal("zombie child reported alive")
	}
	cmd.Wait()
	if Alive(pid, uint32(st)) {
		t.Fatal("reaped child reported alive")
	}
	if Alive(0, 0) || Alive(-1, 0) {
		t.Fatal("non-positive pid reported alive")
	}
}
