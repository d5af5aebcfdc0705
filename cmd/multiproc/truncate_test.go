package main

import (
	"os"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/pool"
	"github.com/multiproc/multiproc/sem"
)

// The CLI on objects whose files another process cut short (issue 13,
// hole 2): it reads them with pread, never a mapping, so a cut is a
// problem it reports — ls lists them, inspect says what is wrong, clean
// --dry-run goes on past them — never a SIGBUS.
func TestTheCLICarriesOnPastTruncatedObjects(t *testing.T) {
	proctest.CheckShm(t)
	l, err := sem.NewLock()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, err := sem.NewSemaphore(1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q, err := pool.NewQueue[int](pool.Capacity(3 * 4096))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	files := map[string]int64{
		l.Name():                                 layout.HeaderSize + 8, // inside the lock record
		"sem." + strings.TrimLeft(s.Name(), "/"): 40,                    // inside the sem_t, the trailer gone
		q.Name():                                 4096,                  // the first page of a queue alone
	}
	sizes := map[string]int64{}
	for f, cut := range files {
		st, err := os.Stat(segment.Path(f))
		if err != nil {
			t.Fatal(err)
		}
		sizes[f] = st.Size()
		if err := os.Truncate(segment.Path(f), cut); err != nil {
			t.Fatal(err)
		}
	}
	defer func() { // whole pages again, for the handles' Close
		for f, size := range sizes {
			os.Truncate(segment.Path(f), size)
		}
	}()
	crashed := func(r result) bool {
		return strings.Contains(r.stderr, "SIGBUS") || strings.Contains(r.stderr, "fatal error")
	}
	ls := mp(t, "ls").must(t, exitOK)
	for f := range files {
		if row := line(ls.stdout, f+" "); row == "" || !strings.Contains(row, "corrupt") {
			t.Errorf("ls: the row of %s, cut short, does not say it is damaged: %q\n%s", f, row, ls.stdout)
		}
		r := mp(t, "inspect", f)
		if crashed(r) || r.code != exitOK && r.code != exitError {
			t.Errorf("inspect %s, cut short: exit %d\n%s%s", f, r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout+r.stderr, "corrupt") {
			t.Errorf("inspect %s, cut short, does not say it is damaged:\n%s%s", f, r.stdout, r.stderr)
		}
	}
	if r := mp(t, "clean", "--dry-run").must(t, exitOK); crashed(r) {
		t.Errorf("clean --dry-run: %s", r.stderr)
	}
}
