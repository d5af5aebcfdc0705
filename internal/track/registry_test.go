package track

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/proc"
	"github.com/multiproc/multiproc/internal/shmfile"
)

func TestRegistryReplaysRecordsAndSkipsGarbage(t *testing.T) {
	for _, version := range []string{"v1 ", "v2 "} {
		text := registryMagic + version + "tracker=10:20 program=30:40\n" +
			`R 1 2 3 4 "mpgo_a"` + "\n" +
			`R 1 5 3 4 "name with spaces\n"` + "\n" +
			`R 1 6 3 4 2 creator "mpgo_b"` + "\n" +
			`U "mpgo_a"` + "\n" +
			`R 1 7 3 4 "../etc/passwd"` + "\n" + // not a file name in /dev/shm
			`R 1 8 0 4 "mpgo_nopid"` + "\n" +
			`R 1 9 3 "mpgo_short"` + "\n" +
			`R 1 11 3 4 99 creator "mpgo_badkind"` + "\n" +
			`R 1 12 3 4 2 forever "mpgo_badlife"` + "\n" +
			`R 1 13 3 4 1 unlink "mpgo_raw"` + "\n" +
			`R 1 14 3 4 0 unlink "mpgo_nokind"` + "\n" +
			`R 1 1` + "\n" + // cut short by a crash mid-rewrite
			`U "mpgo_never"` + "\n" +
			`R 1 10 3 4 "` + RegistryPrefix + `x"` + "\n" +
			"garbage\n" +
			"E\n"
		r, err := parseRegistry([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		if r.Tracker != (proc.ID{PID: 10, Start: 20}) || r.Program != (proc.ID{PID: 30, Start: 40}) || !r.ClientsGone {
			t.Fatalf("header: %+v", r)
		}
		var got []string
		for _, e := range r.Entries {
			got = append(got, fmt.Sprintf("%s@%d:%s:%s", e.File, e.Ino, kindWord(e.Kind), e.Lifetime))
		}
		// A record of either version is read whatever the header says: a
		// v1 record is an object of unknown kind that lives until Unlink.
		want := "mpgo_b@6:Lock:creator,mpgo_nokind@14:object:unlink,mpgo_raw@13:raw segment:unlink,name with spaces\n@5:object:unlink"
		if strings.Join(got, ",") != want {
			t.Fatalf("%sentries %q, want %q", version, got, want)
		}
	}
}

func TestRegistryOfAnUnknownVersionSaysSo(t *testing.T) {
	_, err := parseRegistry([]byte(registryMagic + "v9 tracker=1:2 program=3:4\n"))
	if err == nil || !strings.Contains(err.Error(), "unknown version") {
		t.Fatalf("v9 registry: err = %v", err)
	}
}

func TestRegistryRefusesForeignText(t *testing.T) {
	for _, text := range []string{"", "hello\n", registryHeader + "tracker=x program=1:2\n", registryHeader + "tracker=1:2\n"} {
		if _, err := parseRegistry([]byte(text)); err == nil || !strings.Contains(err.Error(), "not a tracker registry") {
			t.Errorf("%q: err = %v", text, err)
		}
	}
}

func TestRegistryCompactsToTheLiveSet(t *testing.T) {
	reg, err := createRegistry(proc.Self(), proc.Self())
	if err != nil {
		t.Fatal(err)
	}
	defer reg.remove()
	live := map[string]Entry{}
	for i := range 2000 {
		name := "mpgo_c" + strconv.Itoa(i)
		line := Entry{File: name, Dev: 1, Ino: uint64(i), PID: 1, Start32: 1, Kind: layout.KindLock, Lifetime: WhileCreatorHolds}.line()
		apply(live, line[:len(line)-1])
		reg.record([]byte(line), live)
		if i%10 != 0 {
			apply(live, "U "+strconv.Quote(name))
			reg.record([]byte("U "+strconv.Quote(name)+"\n"), live)
		}
	}
	fi, _ := os.Stat(shmfile.Path(reg.name))
	r, err := ReadRegistry(reg.name)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Entries) != 200 || len(r.Entries) != len(live) {
		t.Fatalf("%d entries after replay, want 200", len(r.Entries))
	}
	if fi.Size() > 200*64*3 {
		t.Fatalf("registry of 200 live entries is %d bytes: never compacted", fi.Size())
	}
}

func TestAdoptIgnoresAStaleVariable(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "notapipe")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var c client
	for _, v := range []string{
		strconv.Itoa(int(f.Fd())) + ":1:2:3", // a regular file, not the pipe
		"999:1:2:3",                          // no such fd
		"1:1:2:3",                            // stdout is never ours
		"junk",
	} {
		t.Setenv(envConn, v)
		c.adopt()
		if c.conn != nil {
			t.Fatalf("adopted %q", v)
		}
		if _, still := os.LookupEnv(envConn); still {
			t.Fatalf("%s left in the environment", envConn)
		}
	}
}
