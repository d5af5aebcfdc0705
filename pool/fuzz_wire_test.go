package pool

// The Pool's wire messages as a worker's parent sees them: whatever bytes
// arrive on a worker's pipe, the parent decodes them (the pipe's codec),
// checks a results message against the chunk it answers (wellFormed), and
// the caller decodes the outcomes of what was accepted (eachOutcome,
// copyResults, taskFailure). None of that may panic, and a message
// wellFormed accepts must be well formed by the wire's own rules
// (pool_wire.go), checked here by a separate reading of them (wireRules),
// and must yield exactly the outcomes it claims, for the tasks it claims.
//
// The seed corpus is testdata/fuzz/FuzzResultsMessage: well-formed
// messages of both result layouts and a few broken ones
// (WIRE_WRITE_CORPUS=1 rewrites it from wireSeeds).

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/multiproc/multiproc/internal/codec"
)

var (
	// fuzzFixed's results are memory images (8 bytes, codec.Layout);
	// fuzzVar's are encoded strings of any length.
	fuzzFixed = Register(func(ctx context.Context, x int64) (int64, error) { return x, nil })
	fuzzVar   = Register(func(ctx context.Context, s string) (string, error) { return s, nil })
)

func FuzzResultsMessage(f *testing.F) {
	for _, s := range wireSeeds() {
		f.Add(s.msg, s.tasks, s.got, s.fixed, s.first)
	}
	wc, _, err := codec.For[wireMsg]()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte, tasks, got uint16, fixed bool, first uint16) {
		m, err := codec.Decode(wc, b)
		if err != nil {
			return // Recv fails: the parent counts the worker gone
		}
		if m.Kind == msgReady && len(m.Errs) > 0 {
			decodeTaskError(m.Errs[0]) // must not panic
		}
		if m.Kind != msgResults {
			return // the parent reads no more of other kinds
		}
		n := int(tasks%512) + 1
		c := &chunk{call: &callState{}, seq: m.Chunk, first: int(first), got: int(got) % (n + 1), ends: make([]uint32, n)}
		if fixed {
			c.call.outSize = 8
		}
		k, ok := wellFormed(&m, c)
		if !ok {
			return
		}
		if err := wireRules(&m, c, k); err != nil {
			t.Fatalf("wellFormed accepted a results message that breaks the wire's rules: %v\n%+v", err, m)
		}
		d := delivery{first: c.first + m.From, out: m.Out, ends: m.Ends, size: int(m.Size), failAt: m.FailAt, blobs: m.Errs}
		next := d.first
		seen := func(i int) {
			if i != next {
				t.Fatalf("outcome for task %d, want task %d (a message of %d outcomes from task %d)", i, next, k, d.first)
			}
			next++
		}
		var got2 int
		if fixed {
			got2 = eachOutcome(fuzzFixed, d, func(i int, v int64, err error) { seen(i) })
			out := make([]int64, c.first+c.n())
			if nc, ok := copyResults(out, d); !ok || nc != k {
				t.Fatalf("copyResults took %d results (%v) of a message of %d", nc, ok, k)
			}
			eachFailure(fuzzFixed, d, func(i int, err error) {
				if i < d.first || i >= d.first+k || err == nil {
					t.Fatalf("failure of task %d (%v), in a message of tasks %d..%d", i, err, d.first, d.first+k-1)
				}
			})
		} else {
			got2 = eachOutcome(fuzzVar, d, func(i int, v string, err error) { seen(i) })
		}
		if got2 != k || next != d.first+k {
			t.Fatalf("the caller decoded %d outcomes (up to task %d) of a message wellFormed counted %d", got2, next, k)
		}
	})
}

// wireRules is pool_wire.go's msgResults, read afresh: results of tasks
// From.. of the chunk, From the outcomes delivered so far, no more than
// the chunk holds; with OutSize, Size = OutSize, no Ends, Out one result
// of Size bytes per task, FailAt strictly increasing below the count, a
// failed task's result all zero; without, no FailAt, Ends not decreasing,
// the last at the end of Out, a failed task's end (failBit) leaving its
// slot empty; one error in Errs per failure.
func wireRules(m *wireMsg, c *chunk, k int) error {
	if m.From != c.got || m.From+k > c.n() {
		return fmt.Errorf("tasks %d..%d of a chunk of %d, %d delivered", m.From, m.From+k-1, c.n(), c.got)
	}
	fails := 0
	if c.call.outSize > 0 {
		if int(m.Size) != c.call.outSize || len(m.Ends) > 0 || len(m.Out) != k*int(m.Size) {
			return fmt.Errorf("fixed results: Size %d (want %d), %d ends, %d bytes for %d results", m.Size, c.call.outSize, len(m.Ends), len(m.Out), k)
		}
		for i, at := range m.FailAt {
			if int(at) >= k || i > 0 && at <= m.FailAt[i-1] {
				return fmt.Errorf("FailAt %v of %d results", m.FailAt, k)
			}
			if slot := m.Out[int(at)*int(m.Size) : (int(at)+1)*int(m.Size)]; !bytes.Equal(slot, make([]byte, len(slot))) {
				return fmt.Errorf("failed task %d's result is %x, not zero", at, slot)
			}
		}
		fails = len(m.FailAt)
	} else {
		if m.Size != 0 || len(m.FailAt) > 0 || len(m.Ends) != k {
			return fmt.Errorf("encoded results: Size %d, FailAt %v, %d ends for %d", m.Size, m.FailAt, len(m.Ends), k)
		}
		prev := uint32(0)
		for _, e := range m.Ends {
			end := e &^ failBit
			if end < prev || end > uint32(len(m.Out)) {
				return fmt.Errorf("ends %v in %d bytes", m.Ends, len(m.Out))
			}
			if e&failBit != 0 {
				fails++
				if end != prev {
					// eachOutcome would read the failed task's bytes as
					// part of the next result.
					return fmt.Errorf("a failed task's end %d leaves %d bytes in its slot (ends %v)", end, end-prev, m.Ends)
				}
			}
			prev = end
		}
		if prev != uint32(len(m.Out)) {
			return fmt.Errorf("ends %v leave %d of %d bytes after the last", m.Ends, uint32(len(m.Out))-prev, len(m.Out))
		}
	}
	if fails != len(m.Errs) {
		return fmt.Errorf("%d failures, %d errors", fails, len(m.Errs))
	}
	return nil
}

// TestWellFormedRefusesAFailedTaskWithBytes: a failed task's end must
// leave its slot empty (pool_wire.go). wellFormed once accepted one that
// did not, and eachOutcome, which does not move past a failed slot, then
// decoded the next task's result from the failed task's bytes too.
func TestWellFormedRefusesAFailedTaskWithBytes(t *testing.T) {
	vc, _, _ := codec.For[string]()
	good, _ := vc.Append(nil, ptr("good"))
	out := append([]byte("junk!"), good...)
	m := wireMsg{Kind: msgResults, Ends: []uint32{5 | failBit, uint32(len(out))}, Out: out,
		Errs: [][]byte{appendTaskError(nil, &TaskError{Message: "failed"})}}
	c := &chunk{call: &callState{}, ends: make([]uint32, 2)}
	if _, ok := wellFormed(&m, c); ok {
		var got []string
		eachOutcome(fuzzVar, delivery{out: m.Out, ends: m.Ends, blobs: m.Errs}, func(i int, v string, err error) {
			got = append(got, fmt.Sprintf("%d: %q %v", i, v, err))
		})
		t.Fatalf("wellFormed accepted ends %v over %q; the caller decoded %q", m.Ends, m.Out, got)
	}
}

// TestWellFormedHoldsToTheWire: each rule of msgResults that wellFormed
// once let pass, beside the same message kept to it, which it accepts.
func TestWellFormedHoldsToTheWire(t *testing.T) {
	vc, _, _ := codec.For[string]()
	a, _ := vc.Append(nil, ptr("a"))
	ab, _ := vc.Append(slices.Clone(a), ptr("b"))
	terr := [][]byte{appendTaskError(nil, &TaskError{Message: "failed"})}
	fixed := make([]byte, 16)
	fixed[0] = 7
	junk := slices.Clone(fixed)
	junk[8] = 1
	la, lab := uint32(len(a)), uint32(len(ab))
	for _, tc := range []struct {
		name   string
		m      wireMsg
		fixed  bool
		accept bool
	}{
		{"failed-slot-empty", wireMsg{Out: ab, Ends: []uint32{la, la | failBit, lab}, Errs: terr}, false, true},
		{"failed-slot-with-bytes", wireMsg{Out: ab, Ends: []uint32{la | failBit, lab}, Errs: terr}, false, false},
		{"failed-last-with-bytes", wireMsg{Out: ab, Ends: []uint32{la, lab | failBit}, Errs: terr}, false, false},
		{"bytes-after-the-last-end", wireMsg{Out: ab, Ends: []uint32{la}}, false, false},
		{"fixed-failed-slot-zero", wireMsg{Size: 8, Out: fixed, FailAt: []uint32{1}, Errs: terr}, true, true},
		{"fixed-failed-slot-not-zero", wireMsg{Size: 8, Out: junk, FailAt: []uint32{1}, Errs: terr}, true, false},
	} {
		c := &chunk{call: &callState{}, ends: make([]uint32, 3)}
		if tc.fixed {
			c.call.outSize = 8
		}
		tc.m.Kind = msgResults
		_, ok := wellFormed(&tc.m, c)
		if ok != tc.accept {
			t.Errorf("%s: wellFormed(%+v) = %v, want %v", tc.name, tc.m, ok, tc.accept)
		}
	}
}

func ptr[T any](v T) *T { return &v }

type wireSeed struct {
	msg         []byte
	tasks, got  uint16
	fixed       bool
	first       uint16
	description string
}

// wireSeeds are the seed corpus: a worker's real messages and a few
// broken ones.
func wireSeeds() []wireSeed {
	wc, _, err := codec.For[wireMsg]()
	if err != nil {
		panic(err)
	}
	enc := func(m wireMsg) []byte {
		b, err := wc.Append(nil, &m)
		if err != nil {
			panic(err)
		}
		return b
	}
	vc, _, _ := codec.For[string]()
	var out []byte
	var ends []uint32
	for _, s := range []string{"a", "", "hello"} {
		out, _ = vc.Append(out, ptr(s))
		ends = append(ends, uint32(len(out)))
	}
	terr := appendTaskError(nil, &TaskError{PID: 42, Func: "f", Message: "boom", Panic: true, Stack: "stack", Err: ErrTimeout})
	ends = append(ends, uint32(len(out))|failBit)
	fixedOut := make([]byte, 24) // results 1, 0 (task 1 failed) and 3
	fixedOut[0], fixedOut[16] = 1, 3
	return []wireSeed{
		{enc(wireMsg{Kind: msgResults, Chunk: 7, From: 0, Out: out, Ends: ends, Errs: [][]byte{terr}, Last: true}), 4, 0, false, 0, "encoded-results"},
		{enc(wireMsg{Kind: msgResults, Chunk: 7, From: 2, Out: out[:2], Ends: ends[:1]}), 4, 2, false, 10, "encoded-results-from-2"},
		{enc(wireMsg{Kind: msgResults, Chunk: 9, Size: 8, Out: fixedOut, FailAt: []uint32{1}, Errs: [][]byte{terr}}), 3, 0, true, 5, "fixed-results"},
		{enc(wireMsg{Kind: msgResults, Chunk: 9, Size: 8, Out: fixedOut[:16], FailAt: []uint32{1, 1}, Errs: [][]byte{terr, terr}}), 3, 0, true, 0, "fixed-results-failat-twice"},
		{enc(wireMsg{Kind: msgResults, Chunk: 7, Out: out[:1], Ends: []uint32{9}}), 1, 0, false, 0, "end-past-out"},
		{enc(wireMsg{Kind: msgResults, Chunk: 7, Out: out, Ends: ends, Errs: nil}), 4, 0, false, 0, "error-missing"},
		{enc(wireMsg{Kind: msgReady, PID: 42, Errs: [][]byte{terr}}), 1, 0, false, 0, "ready-with-initializer-error"},
		{enc(wireMsg{Kind: msgRetire, Reason: "MaxTasksPerChild"}), 1, 0, false, 0, "retire"},
	}
}

// TestWriteWireFuzzCorpus writes wireSeeds as the committed corpus when
// WIRE_WRITE_CORPUS is set.
func TestWriteWireFuzzCorpus(t *testing.T) {
	if os.Getenv("WIRE_WRITE_CORPUS") == "" {
		t.Skip("set WIRE_WRITE_CORPUS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzResultsMessage")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range wireSeeds() {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nuint16(%d)\nuint16(%d)\nbool(%v)\nuint16(%d)\n", s.msg, s.tasks, s.got, s.fixed, s.first)
		if err := os.WriteFile(filepath.Join(dir, s.description), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
