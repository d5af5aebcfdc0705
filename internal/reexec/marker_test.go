package reexec

import (
	"slices"
	"strings"
	"testing"
)

func TestMarkerRoundTrip(t *testing.T) {
	files := []namedFD{{name: "task", fd: 3}, {name: "result", fd: 4}}
	args := []string{"", "a b", `q"uote`, "new\nline", "ünï", "\x00\x1f"}
	v, err := formatMarker("pool.process", files, args)
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseMarker(v)
	if err != nil {
		t.Fatalf("parse %q: %v", v, err)
	}
	if m.role != "pool.process" || m.files["task"] != 3 || m.files["result"] != 4 || len(m.files) != 2 || !slices.Equal(m.args, args) {
		t.Fatalf("round trip of %q gave %+v", v, m)
	}
	m, err = parseMarker("v1 tracker -")
	if err != nil || m.role != "tracker" || len(m.files) != 0 || len(m.args) != 0 {
		t.Fatalf("bare marker: %+v, %v", m, err)
	}
}

func TestMarkerRefusesWhatItCannotCarry(t *testing.T) {
	for _, role := range []string{"", "a b", "a=b", "x/y", strings.Repeat("r", 200)} {
		if _, err := formatMarker(role, nil, nil); err == nil {
			t.Errorf("role %q accepted", role)
		}
	}
	if _, err := formatMarker("r", []namedFD{{name: "a,b", fd: 3}}, nil); err == nil {
		t.Error("file name with a comma accepted")
	}
	if _, err := formatMarker("r", nil, []string{strings.Repeat("x", maxMarker)}); err == nil {
		t.Error("oversized arguments accepted")
	}
}

func TestParseMarkerRefusesForeignBytes(t *testing.T) {
	for _, v := range []string{
		"", "v1", "v1 ", "v2 role -", "v1 role", "v1 ro le -",
		"v1 role x", "v1 role a=", "v1 role a=2", "v1 role a=-1", "v1 role a=3,a=4",
		"v1 role - unquoted", `v1 role - "open`, `v1 role - "a""b"`, `v1 role - "a"  "b"`,
		"v1 role a=99999999999999999999",
	} {
		if m, err := parseMarker(v); err == nil {
			t.Errorf("parseMarker(%q) = %+v, want an error", v, m)
		}
	}
}

func FuzzParseMarker(f *testing.F) {
	f.Add(`v1 pool.process task=3,result=4 "a" "b c"`)
	f.Add("v1 tracker - \"1:2\"")
	f.Fuzz(func(t *testing.T, v string) {
		m, err := parseMarker(v)
		if err != nil {
			return
		}
		// What parses is what some marker says: formatting it again
		// parses to the same thing.
		var files []namedFD
		for n, fd := range m.files {
			files = append(files, namedFD{name: n, fd: fd})
		}
		slices.SortFunc(files, func(a, b namedFD) int { return strings.Compare(a.name, b.name) })
		v2, err := formatMarker(m.role, files, m.args)
		if err != nil {
			return // oversized: parse accepts what format would refuse to make
		}
		m2, err := parseMarker(v2)
		if err != nil || m2.role != m.role || !slices.Equal(m2.args, m.args) || len(m2.files) != len(m.files) {
			t.Fatalf("%q → %+v → %q → %+v, %v", v, m, v2, m2, err)
		}
	})
}

func TestEnvironReplacesMarkers(t *testing.T) {
	base := []string{EnvRole + "=v1 parent -", "HOME=/h", EnvRole + "=v1 other -", "PATH=/p"}
	env := Environ(base, "child", "x")
	var markers []string
	for _, kv := range env {
		if strings.HasPrefix(kv, EnvRole+"=") {
			markers = append(markers, kv)
		}
	}
	if len(markers) != 1 || markers[0] != EnvRole+`=v1 child - "x"` {
		t.Fatalf("markers in %q: %q, want exactly the child's", env, markers)
	}
	if !slices.Contains(env, "HOME=/h") || !slices.Contains(env, "PATH=/p") {
		t.Fatalf("other variables lost: %q", env)
	}
}
