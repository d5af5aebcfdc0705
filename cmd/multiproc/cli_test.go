package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/multiproc/multiproc/barrier"
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
)

func TestLsShowsOurObjectsAndNoOneElses(t *testing.T) {
	proctest.CheckShm(t)
	seg, err := shm.Create("", 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Unlink()
	defer seg.Close()
	keep, err := shm.Create("", 100, shm.Persistent())
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Unlink()
	defer keep.Close()
	l, err := sem.NewLock()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlink()
	defer l.Close()
	psm := foreign(t, "psm_test_", make([]byte, 64))
	csem := foreign(t, "sem.foreign_", glibcSem())

	out := mp(t, "ls").must(t, exitOK).stdout
	if !strings.HasPrefix(out, "NAME") || !strings.Contains(line(out, "NAME"), "CREATOR") || !strings.Contains(line(out, "NAME"), "LEAKED") {
		t.Fatalf("no table header:\n%s", out)
	}
	me := fmt.Sprintf("%d alive", os.Getpid())
	for name, want := range map[string][]string{
		seg.Name():  {"raw segment", "4.0KiB", me, "yes"},
		keep.Name(): {"raw segment", "100B", me, "persistent"},
		l.Name():    {"Lock", "192B", me},
	} {
		row := line(out, name+" ")
		for _, w := range want {
			if !strings.Contains(row, w) {
				t.Errorf("row for %s lacks %q:\n%s", name, w, out)
			}
		}
		if f := strings.Fields(row); len(f) == 0 || f[len(f)-1] != "no" {
			t.Errorf("row for %s: not leaked expected:\n%s", name, row)
		}
	}
	for _, name := range []string{psm, csem} {
		if strings.Contains(out, name) {
			t.Errorf("ls lists foreign file %s:\n%s", name, out)
		}
	}

	var objs []map[string]any
	if err := json.Unmarshal([]byte(mp(t, "ls", "--json").must(t, exitOK).stdout), &objs); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range objs {
		if o["name"] == l.Name() {
			found = true
			if o["kind"] != "Lock" || o["creator_pid"] != float64(os.Getpid()) || o["creator_alive"] != true || o["held"] != true || o["leaked"] != false {
				t.Errorf("ls --json for the lock: %v", o)
			}
			if _, ok := o["age_seconds"].(float64); !ok {
				t.Errorf("no age_seconds: %v", o)
			}
		}
		if o["name"] == psm || o["name"] == csem {
			t.Errorf("ls --json lists a foreign file: %v", o)
		}
	}
	if !found {
		t.Fatalf("ls --json lacks %s", l.Name())
	}
}

func TestInspectSaysTheLockOwnerIsDead(t *testing.T) {
	proctest.CheckShm(t)
	l, err := sem.NewLock()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlink()
	defer l.Close()
	c := proctest.Start(t, "lock-hold", l.Name())
	c.WaitLine("holding")
	out := mp(t, "inspect", l.Name()).must(t, exitOK).stdout
	if row := line(out, "owner pid:"); !strings.HasSuffix(row, fmt.Sprintf("%d (alive)", c.Pid())) {
		t.Fatalf("owner while the child holds it: %q\n%s", row, out)
	}
	c.Kill()
	out = mp(t, "inspect", "/"+l.Name()).must(t, exitOK).stdout
	if row := line(out, "owner pid:"); !strings.HasSuffix(row, fmt.Sprintf("%d (dead)", c.Pid())) {
		t.Fatalf("owner after SIGKILL: %q\n%s", row, out)
	}
	for _, want := range []string{"kind:", "Lock", "creator:", fmt.Sprintf("pid %d (alive)", os.Getpid()), "held:", "consistency:"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect lacks %q:\n%s", want, out)
		}
	}
	var info struct {
		Kind string
		Lock struct {
			Locked     bool `json:"locked"`
			OwnerPID   int  `json:"owner_pid"`
			OwnerAlive bool `json:"owner_alive"`
		}
	}
	if err := json.Unmarshal([]byte(mp(t, "inspect", "--json", l.Name()).must(t, exitOK).stdout), &info); err != nil {
		t.Fatal(err)
	}
	if info.Kind != "Lock" || !info.Lock.Locked || info.Lock.OwnerPID != c.Pid() || info.Lock.OwnerAlive {
		t.Fatalf("inspect --json: %+v", info)
	}
}

func TestInspectShowsABarriersWaitersAndAnEventsFlag(t *testing.T) {
	proctest.CheckShm(t)
	b, err := barrier.New(2)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Unlink()
	defer b.Close()
	e, err := sem.NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Unlink()
	defer e.Close()
	c := proctest.Start(t, "barrier-wait", b.Name())
	c.WaitLine("waiting")
	want := fmt.Sprintf("waiting: %d (pids %d)", 1, c.Pid())
	var out string
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(strings.Join(strings.Fields(out), " "), want); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("inspect never showed the child waiting (%q):\n%s", want, out)
		}
		out = mp(t, "inspect", b.Name()).must(t, exitOK).stdout
	}
	for _, w := range []string{"kind:", "Barrier", "parties:", "broken:"} {
		if !strings.Contains(out, w) {
			t.Errorf("barrier inspect lacks %q:\n%s", w, out)
		}
	}
	if _, err := b.Wait(proctest.Context(t)); err != nil { // the second party: both go
		t.Fatal(err)
	}
	c.MustSucceed()

	if row := line(mp(t, "inspect", e.Name()).must(t, exitOK).stdout, "flag:"); !strings.HasSuffix(row, "clear") {
		t.Errorf("event before Set: %q", row)
	}
	e.Set()
	if row := line(mp(t, "inspect", e.Name()).must(t, exitOK).stdout, "flag:"); !strings.HasSuffix(row, "set") {
		t.Errorf("event after Set: %q", row)
	}
}

func TestCleanRemovesLeakedObjectsOnly(t *testing.T) {
	proctest.CheckShm(t)
	t.Cleanup(proctest.Exclusive("sweep"))
	leak := leaked(t, "raw", "lock", "raw")
	held, err := shm.Open(leak[2])
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	keep, err := shm.Create("", 64, shm.Persistent())
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Unlink()
	keep.Close()
	psm := foreign(t, "psm_test_", make([]byte, 64))
	csem := foreign(t, "sem.foreign_", glibcSem())

	row := line(mp(t, "ls").must(t, exitOK).stdout, leak[0]+" ")
	if f := strings.Fields(row); len(f) == 0 || f[len(f)-1] != "yes" || !strings.Contains(row, "dead") {
		t.Fatalf("ls row of a leaked segment: %q", row)
	}
	dry := mp(t, "clean", "--dry-run").must(t, exitOK).stdout
	for _, n := range leak[:2] {
		if removal(dry, "would remove", n) == "" {
			t.Errorf("dry run does not name %s:\n%s", n, dry)
		}
	}
	if strings.Contains(dry, leak[2]) || strings.Contains(dry, keep.Name()) {
		t.Errorf("dry run names a held or persistent object:\n%s", dry)
	}
	if old := mp(t, "clean", "--dry-run", "--older-than", "1d").must(t, exitOK).stdout; strings.Contains(old, leak[0]) {
		t.Errorf("--older-than 1d picked a fresh object:\n%s", old)
	}
	for _, n := range leak {
		if !exists(n) {
			t.Fatalf("dry run removed %s", n)
		}
	}
	r := mp(t, "clean").must(t, exitOK)
	for _, n := range leak[:2] {
		if removal(r.stdout, "removed", n) == "" || exists(n) {
			t.Errorf("clean did not remove %s:\n%s", n, r.stdout)
		}
	}
	for _, n := range []string{leak[2], keep.Name(), psm, csem} {
		if !exists(n) {
			t.Errorf("clean removed %s, which it must keep", n)
		}
	}
	// The tracker's words: what it was, its creator, why it was removed.
	if l := removal(r.stdout, "removed", leak[1]); !strings.HasPrefix(l, "removed leaked Lock "+leak[1]+" (created by pid ") ||
		!strings.HasSuffix(l, ", which is gone, and so is its tracker)") {
		t.Errorf("clean says %q", l)
	}
}

func TestCleanDryRunSaysWhenThereIsNothingToRemove(t *testing.T) {
	t.Cleanup(proctest.Exclusive("sweep")) // no test of ours leaks objects meanwhile
	seg, err := shm.Create("", 64)         // ours, alive: not leaked
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Unlink()
	defer seg.Close()
	r := mp(t, "clean", "--dry-run").must(t, exitOK)
	if strings.HasPrefix(r.stdout, "would remove leaked ") {
		t.Skipf("another program's leaks are on this machine:\n%s", r.stdout)
	}
	if r.stdout != "nothing to remove\n" {
		t.Fatalf("clean --dry-run with nothing to remove printed %q", r.stdout)
	}
	if j := mp(t, "clean", "--dry-run", "--json").must(t, exitOK).stdout; strings.TrimSpace(j) != "[]" {
		t.Fatalf("--json with nothing to remove printed %q", j)
	}
}

// removal is the line of out that reports name, with the given verb.
func removal(out, verb, name string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, verb+" leaked ") && strings.Contains(l, " "+name+" (created by pid ") {
			return l
		}
	}
	return ""
}

func TestRmRefusesWhatItMustAndSaysWhy(t *testing.T) {
	proctest.CheckShm(t)
	seg, err := shm.Create("", 64)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Unlink()
	defer seg.Close()
	free, err := shm.Create("", 64, shm.Persistent())
	if err != nil {
		t.Fatal(err)
	}
	free.Close()
	defer os.Remove(segment.Path(free.Name()))
	psm := foreign(t, "psm_test_", make([]byte, 64))
	csem := foreign(t, "sem.foreign_", glibcSem())
	damaged := fmt.Sprintf("mpgo_lock_damaged_%d", os.Getpid())
	b := make([]byte, layout.HeaderSize+64)
	(&layout.Header{Kind: layout.KindLock, PayloadSize: 64, Created: time.Now().UnixNano()}).Encode(b)
	b[30] ^= 0xff
	os.WriteFile(segment.Path(damaged), b, 0o600)
	defer os.Remove(segment.Path(damaged))

	r := mp(t, "rm", seg.Name()).must(t, exitRefused)
	if want := "multiproc rm: " + seg.Name() + ": held open by a running process; use --force to remove it anyway\n"; r.stderr != want || !exists(seg.Name()) {
		t.Fatalf("rm of a held segment: %q (exists %v)", r.stderr, exists(seg.Name()))
	}
	for _, name := range []string{psm, csem} {
		r = mp(t, "rm", "--force", name).must(t, exitError)
		if !strings.Contains(r.stderr, name+": not a multiproc object") {
			t.Errorf("rm --force %s: %q", name, r.stderr)
		}
	}
	r = mp(t, "rm", "mpgo_no_such_thing").must(t, exitError)
	if r.stderr != "multiproc rm: mpgo_no_such_thing: no such object in /dev/shm\n" {
		t.Errorf("rm of a missing name: %q", r.stderr)
	}
	r = mp(t, "rm", damaged).must(t, exitRefused)
	if !strings.Contains(r.stderr, "checksum") || !strings.Contains(r.stderr, "--force") || !exists(damaged) {
		t.Errorf("rm of a damaged object: %q", r.stderr)
	}
	r = mp(t, "inspect", damaged).must(t, exitOK)
	if !strings.Contains(line(r.stdout, "problem:"), "checksum") {
		t.Errorf("inspect of a damaged object:\n%s", r.stdout)
	}
	// One held, one free: the free one goes, the status says "refused".
	r = mp(t, "rm", seg.Name(), free.Name()).must(t, exitRefused)
	if r.stdout != "removed "+free.Name()+" (raw segment)\n" || exists(free.Name()) {
		t.Errorf("rm held+free: stdout %q", r.stdout)
	}
	// An error outranks a refusal.
	mp(t, "rm", seg.Name(), "mpgo_no_such_thing").must(t, exitError)
	r = mp(t, "rm", seg.Name(), "--force", damaged).must(t, exitOK)
	if exists(seg.Name()) || exists(damaged) {
		t.Errorf("rm --force left files: %q", r.stdout)
	}
	if _, err := os.Stat(segment.Path(psm)); err != nil {
		t.Fatal("foreign file removed")
	}
}

func TestUsageErrorsAndHelp(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{nil, exitUsage, "Usage:"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"rm"}, exitUsage, "multiproc rm: missing NAME"},
		{[]string{"inspect"}, exitUsage, "multiproc inspect: missing NAME"},
		{[]string{"inspect", "a", "b"}, exitUsage, `unexpected argument "b"`},
		{[]string{"ls", "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"ls", "--bogus"}, exitUsage, "flag provided but not defined: -bogus"},
		{[]string{"clean", "--older-than", "soon"}, exitUsage, `bad AGE "soon"`},
		{[]string{"clean", "--older-than", "-5m"}, exitUsage, `bad AGE "-5m"`},
		{[]string{"help", "nope"}, exitUsage, `unknown command "nope"`},
		{[]string{"inspect", "a/b"}, exitError, `invalid name "a/b"`},
	} {
		r := mp(t, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) || r.stdout != "" {
			t.Errorf("multiproc %q: status %d, stderr %q, stdout %q; want %d and %q", tc.args, r.code, r.stderr, r.stdout, tc.code, tc.stderr)
		}
	}
	for _, args := range [][]string{{"--help"}, {"help"}, {"-h"}} {
		r := mp(t, args...).must(t, exitOK)
		for _, c := range []string{"ls", "inspect", "clean", "rm", "Exit status"} {
			if !strings.Contains(r.stdout, c) {
				t.Errorf("%q lacks %q:\n%s", args, c, r.stdout)
			}
		}
	}
	for _, c := range []string{"ls", "inspect", "clean", "rm"} {
		for _, args := range [][]string{{c, "--help"}, {"help", c}} {
			r := mp(t, args...).must(t, exitOK)
			if !strings.HasPrefix(r.stdout, "usage: multiproc "+c) || !strings.Contains(r.stdout, "Exit status") {
				t.Errorf("%q:\n%s", args, r.stdout)
			}
		}
	}
	if r := mp(t, "clean", "--help").stdout; !strings.Contains(r, "--older-than AGE") || !strings.Contains(r, "--dry-run") {
		t.Errorf("clean --help lacks its flags:\n%s", r)
	}
}

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{"90s": 90 * time.Second, "1h30m": 90 * time.Minute, "2d": 48 * time.Hour, "0": 0} {
		if got, err := parseAge(in); err != nil || got != want {
			t.Errorf("parseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "1.5d", "-1d", "forever"} {
		if _, err := parseAge(in); err == nil {
			t.Errorf("parseAge(%q) accepted", in)
		}
	}
}
