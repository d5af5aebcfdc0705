//go:build linux

package posixsem

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/internal/layout"
)

func image(value uint32, kind layout.Kind, bound uint32) []byte {
	b := make([]byte, FileSize)
	Init(b, value, &Trailer{Kind: kind, Bound: bound, Initial: value, CreatorPID: 42, CreatorStart: 7, Created: 1e18})
	return b
}

// glibc's sem_open("/x", O_CREAT, 0600, 3) writes exactly these 32 bytes
// (technical notes §1.3, checked against glibc by the interop tests in sem).
func TestInitWritesGlibcSemT(t *testing.T) {
	want := make([]byte, Size)
	want[0] = 3
	want[8] = 0x80
	if got := image(3, layout.KindSemaphore, ValueMax)[:Size]; !bytes.Equal(got, want) {
		t.Fatalf("sem_t = % x\nwant    % x", got, want)
	}
}

func TestParseRoundTrip(t *testing.T) {
	info, err := Parse(image(2, layout.KindBounded, 5))
	if err != nil {
		t.Fatal(err)
	}
	if info.Value != 2 || info.Waiters != 0 || info.Kind != layout.KindBounded || !info.Bounded() || info.Bound != 5 || info.Foreign {
		t.Fatalf("Parse = %+v", info)
	}
	if info.Trailer.CreatorPID != 42 || info.Trailer.CreatorStart != 7 || info.Trailer.Initial != 2 || info.CreatedTime().UnixNano() != 1e18 {
		t.Fatalf("trailer = %+v", info.Trailer)
	}
	foreign, err := Parse(image(9, layout.KindSemaphore, ValueMax)[:Size])
	if err != nil {
		t.Fatal(err)
	}
	if !foreign.Foreign || foreign.Kind != layout.KindSemaphore || foreign.Bound != ValueMax || foreign.Value != 9 || !foreign.CreatedTime().IsZero() {
		t.Fatalf("foreign = %+v", foreign)
	}
}

func TestParseRefusesBadFiles(t *testing.T) {
	le := binary.LittleEndian
	cases := []struct {
		name string
		b    func() []byte
		want string
	}{
		{"empty", func() []byte { return nil }, "0 bytes"},
		{"short", func() []byte { return make([]byte, 16) }, "16 bytes"},
		{"between", func() []byte { return make([]byte, 64) }, "64 bytes"},
		{"long", func() []byte { return make([]byte, 4096) }, "4096 bytes"},
		{"old layout", func() []byte {
			b := make([]byte, Size) // glibc < 2.21: value@0, private@4
			le.PutUint32(b[0:], 1)
			le.PutUint32(b[4:], sharedFlag)
			return b
		}, "glibc < 2.21"},
		{"private futex", func() []byte { return make([]byte, Size) }, "futex flag is 0"},
		{"padding", func() []byte { b := image(0, layout.KindSemaphore, ValueMax); b[20] = 1; return b }, "padding"},
		{"value too big", func() []byte { b := image(0, layout.KindSemaphore, ValueMax); le.PutUint32(b, 1<<31); return b }, "exceeds SEM_VALUE_MAX"},
		{"no trailer", func() []byte { b := image(0, layout.KindSemaphore, ValueMax); clear(b[Size:]); return b }, "without the multiproc semaphore trailer"},
		{"trailer bit flip", func() []byte { b := image(0, layout.KindBounded, 3); b[Size+16] ^= 4; return b }, "checksum"},
		{"kind", func() []byte { return image(0, layout.KindLock, ValueMax) }, "kind 2"},
		{"unbounded bound", func() []byte { return image(0, layout.KindSemaphore, 10) }, "unbounded semaphore with bound 10"},
		{"bound too big", func() []byte { return image(0, layout.KindBounded, 1<<31) }, "bound 2147483648"},
		{"initial above bound", func() []byte {
			b := make([]byte, FileSize)
			Init(b, 0, &Trailer{Kind: layout.KindBounded, Bound: 2, Initial: 3})
			return b
		}, "initial value 3 above bound 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.b())
			if !errors.Is(err, layout.ErrCorrupt) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Parse = %v, want ErrCorrupt mentioning %q", err, c.want)
			}
		})
	}
}

// Every single-byte change in the trailer is caught.
func TestParseCatchesEveryTrailerByte(t *testing.T) {
	for i := Size; i < FileSize; i++ {
		b := image(1, layout.KindBounded, 4)
		b[i] ^= 0x10
		if _, err := Parse(b); !errors.Is(err, layout.ErrCorrupt) {
			t.Fatalf("byte %d changed: Parse = %v", i, err)
		}
	}
}

// A bounded semaphore pushed past its bound by a C sem_post is not
// corrupt: C knows nothing of bounds. Waiters counts are whatever they are.
func TestParseAcceptsValueAboveBoundAndWaiters(t *testing.T) {
	b := image(1, layout.KindBounded, 1)
	binary.LittleEndian.PutUint64(b, 5|3<<32)
	info, err := Parse(b)
	if err != nil || info.Value != 5 || info.Waiters != 3 {
		t.Fatalf("Parse = %+v, %v", info, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(image(1, layout.KindBounded, 4))
	f.Add(image(0, layout.KindSemaphore, ValueMax)[:Size])
	f.Add(make([]byte, FileSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := Parse(b)
		if err == nil && (info.Value > ValueMax || info.Bound > ValueMax) {
			t.Fatalf("accepted impossible %+v", info)
		}
	})
}
