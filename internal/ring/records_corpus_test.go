//go:build linux

package ring

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// readSeed is one seed of FuzzRead: a ring's bytes and the offset of the
// record to read.
type readSeed struct {
	name string
	ring []byte
	off  uint32
}

// readSeeds are rings as producers write them — one item, several, an item
// wrapped to offset 0 behind a pad, a side-segment reference, raw bytes, an
// empty payload, a record that exactly ends the ring — and the damage a
// foreign writer can do to them: a length past the end, an unknown kind, a
// pad that does not end the ring, two pads in a row, a misaligned or
// outside offset.
func readSeeds() []readSeed {
	// put writes a record after tail into a ring whose consumer has taken
	// everything before offset 0 (head 0), or, with a tail count of 0,
	// everything before tail.
	put := func(d *data, tail uint64, payload []byte, kind uint32) uint64 {
		head := mkpos(0, 0)
		if c, _ := pos(tail); c == 0 {
			head = tail
		}
		at, pad, next, ok := d.place(tail, head, uint32(RecordSize(len(payload))))
		if !ok {
			panic("no room")
		}
		if pad {
			_, off := pos(tail)
			d.writePad(off)
		}
		copy(d.writeHeader(at, len(payload), kind), payload)
		return next
	}
	ring := func(capacity uint32) *data { return &data{b: make([]byte, capacity), cap: capacity} }
	var seeds []readSeed
	add := func(name string, d *data, off uint32) {
		seeds = append(seeds, readSeed{name, append([]byte(nil), d.b...), off})
	}

	d := ring(64)
	put(d, 0, []byte("hello"), recItem)
	add("one-item", d, 0)

	d = ring(256)
	t := put(d, 0, []byte("first"), recItem)
	t2 := put(d, t, []byte("second record"), recItem)
	put(d, t2, []byte("third"), recItem|KindBytesFlag)
	_, o := pos(t)
	add("second-of-three", d, o)
	_, o = pos(t2)
	add("raw-bytes", d, o)

	d = ring(128)
	t = mkpos(0, 96) // a tail near the end of an empty ring: the next record wraps
	put(d, t, make([]byte, 40), recItem)
	add("wrapped-behind-a-pad", d, 96)

	d = ring(64)
	put(d, 0, []byte("mpgo_item_0123456789abcdef"), recRef)
	add("side-segment-reference", d, 0)

	d = ring(64)
	put(d, 0, nil, recItem)
	add("empty-payload", d, 0)

	d = ring(64)
	put(d, 0, make([]byte, 64-recHeader), recItem)
	add("record-ends-the-ring", d, 0)

	d = ring(64)
	put(d, 0, []byte("hello"), recItem)
	binary.LittleEndian.PutUint32(d.b[0:], 1000)
	add("length-past-the-end", d, 0)

	d = ring(64)
	put(d, 0, []byte("hello"), recItem)
	binary.LittleEndian.PutUint32(d.b[4:], 9)
	add("unknown-kind", d, 0)

	d = ring(128)
	d.writePad(96)
	binary.LittleEndian.PutUint32(d.b[96:], 8)
	add("pad-short-of-the-end", d, 96)

	d = ring(64)
	d.writePad(0)
	add("two-pads", d, 0)

	d = ring(64)
	put(d, 0, []byte("hello"), recItem)
	add("misaligned-offset", d, 3)
	add("offset-outside", d, 1<<20)
	return seeds
}

// TestReadSeeds checks the seeds say what their names say: the good ones
// read back, the damaged ones are ErrCorrupt.
func TestReadSeeds(t *testing.T) {
	good := map[string]bool{"one-item": true, "second-of-three": true, "raw-bytes": true, "wrapped-behind-a-pad": true,
		"side-segment-reference": true, "empty-payload": true, "record-ends-the-ring": true}
	for _, s := range readSeeds() {
		d := data{b: s.ring, cap: uint32(len(s.ring))}
		_, _, _, err := d.read(mkpos(1, s.off))
		if good[s.name] != (err == nil) {
			t.Errorf("%s: read = %v", s.name, err)
		}
	}
}

// TestWriteReadCorpus writes readSeeds as testdata/fuzz/FuzzRead files
// when RING_WRITE_CORPUS is set; the committed corpus is its output.
func TestWriteReadCorpus(t *testing.T) {
	if os.Getenv("RING_WRITE_CORPUS") == "" {
		t.Skip("set RING_WRITE_CORPUS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzRead")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range readSeeds() {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nuint32(%d)\n", s.ring, s.off)
		if err := os.WriteFile(filepath.Join(dir, s.name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
