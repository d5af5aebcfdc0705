//go:build linux

package ring

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// The ring of records against a model: random puts and takes of random
// sizes, single-threaded, checking every record comes out whole, in order,
// and that room is refused only when the model says it is short.
func TestRecordsAgainstAModel(t *testing.T) {
	for _, capacity := range []uint32{64, 72, 256, 1000, 4096} {
		d := data{b: make([]byte, capacity), cap: capacity}
		var tail, head uint64
		var model [][]byte
		rng := rand.New(rand.NewPCG(uint64(capacity), 7))
		seq := byte(0)
		for step := 0; step < 200000; step++ {
			if rng.IntN(2) == 0 {
				n := rng.IntN(int(capacity) / 3)
				size := uint32(RecordSize(n))
				at, pad, next, ok := d.place(tail, head, size)
				if !ok {
					if d.used(tail, head)+size <= capacity/2 && len(model) == 0 {
						t.Fatalf("cap %d: refused %d bytes into an empty ring", capacity, size)
					}
					continue
				}
				seq++
				p := d.writeHeader(at, n, recItem)
				for i := range p {
					p[i] = seq + byte(i)
				}
				if pad {
					_, off := pos(tail)
					d.writePad(off)
				}
				tail = next
				model = append(model, bytes.Clone(p))
				if u := d.used(tail, head); u > capacity {
					t.Fatalf("used %d > capacity %d", u, capacity)
				}
			} else if len(model) > 0 {
				kind, p, next, err := d.read(head)
				if err != nil {
					t.Fatalf("cap %d step %d: %v", capacity, step, err)
				}
				if kind != recItem || !bytes.Equal(p, model[0]) {
					t.Fatalf("cap %d step %d: got %v (kind %d), want %v", capacity, step, p, kind, model[0])
				}
				model = model[1:]
				head = next
			}
			if c := pos32(tail) - pos32(head); int(c) != len(model) {
				t.Fatalf("count %d, model %d", c, len(model))
			}
			if len(model) == 0 && d.used(tail, head) != 0 {
				t.Fatalf("empty ring uses %d bytes", d.used(tail, head))
			}
		}
	}
}

// Whatever bytes a foreign writer leaves in the ring, reading never panics
// or reads outside it: it returns ErrCorrupt.
func TestReadRefusesForeignBytes(t *testing.T) {
	d := data{b: make([]byte, 256), cap: 256}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		for i := range d.b {
			d.b[i] = byte(rng.Uint32())
		}
		off := uint32(rng.IntN(40)) * 8
		_, p, next, err := d.read(mkpos(0, off))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			continue
		}
		if _, o := pos(next); o >= d.cap || len(p) > int(d.cap) {
			t.Fatalf("read a %d-byte record ending at %d", len(p), o)
		}
	}
	if _, _, _, err := d.read(mkpos(0, 3)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("misaligned head: %v", err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte{8, 0, 0, 0, 1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, uint32(0))
	f.Add([]byte{0, 0, 0, 0, 2, 0, 0, 0}, uint32(0))
	f.Fuzz(func(t *testing.T, b []byte, off uint32) {
		capacity := uint32(len(b)) &^ 7
		if capacity < 8 {
			return
		}
		d := data{b: b[:capacity], cap: capacity}
		_, p, next, err := d.read(mkpos(1, off))
		if err == nil {
			if _, o := pos(next); o >= capacity || len(p) > int(capacity) {
				t.Fatalf("record of %d bytes, next at %d, in a %d-byte ring", len(p), o, capacity)
			}
		}
	})
}
