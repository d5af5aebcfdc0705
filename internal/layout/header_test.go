package layout

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
)

func sample() ([]byte, Header) {
	ti, _ := TypeOf[int64]()
	h := Header{Kind: KindValue, PayloadSize: 64, ElemSize: ti.Size, ElemAlign: ti.Align,
		ElemCount: 1, TypeHash: ti.Hash, CreatorPID: 7, CreatorStart: 99, Created: 12345}
	h.SetTypeName(ti.Name)
	b := make([]byte, HeaderSize+64)
	h.Encode(b)
	return b, h
}

func TestHeaderRoundTrip(t *testing.T) {
	b, h := sample()
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got != h {
		t.Fatalf("Decode = %+v\nwant %+v", got, h)
	}
	ti, _ := TypeOf[int64]()
	if err := got.Expect("v", KindValue); err != nil {
		t.Fatal(err)
	}
	if err := got.ExpectType("v", ti); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeRefusesDamage(t *testing.T) {
	b, _ := sample()
	cases := map[string]func([]byte) []byte{
		"short":     func(b []byte) []byte { return b[:HeaderSize-1] },
		"magic":     func(b []byte) []byte { b[0] = 'X'; return b },
		"checksum":  func(b []byte) []byte { b[30] ^= 1; return b },
		"truncated": func(b []byte) []byte { return b[:HeaderSize+10] },
	}
	for name, damage := range cases {
		c := append([]byte(nil), b...)
		if _, err := Decode(damage(c)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

func TestMismatchNamesBothSides(t *testing.T) {
	b, _ := sample()
	h, _ := Decode(b)
	err := h.Expect("counter", KindLock)
	if !errors.Is(err, ErrKindMismatch) || err.Error() != "object kind mismatch: counter is a Value, not a Lock" {
		t.Fatalf("kind: %v", err)
	}
	ti, _ := TypeOf[int32]()
	err = h.ExpectType("counter", ti)
	if !errors.Is(err, ErrTypeMismatch) || err.Error() != "element type mismatch: counter holds int64 (8 bytes), not int32 (4 bytes)" {
		t.Fatalf("type: %v", err)
	}
}

func TestTypeOfRefusesPointers(t *testing.T) {
	type bad struct {
		A int
		S string
	}
	for _, f := range []func() error{
		func() error { _, err := TypeOf[string](); return err },
		func() error { _, err := TypeOf[[]int](); return err },
		func() error { _, err := TypeOf[*int](); return err },
		func() error { _, err := TypeOf[map[int]int](); return err },
		func() error { _, err := TypeOf[any](); return err },
		func() error { _, err := TypeOf[chan int](); return err },
		func() error { _, err := TypeOf[func()](); return err },
		func() error { _, err := TypeOf[bad](); return err },
	} {
		if err := f(); !errors.Is(err, ErrUnsupportedType) {
			t.Errorf("accepted: %v", err)
		}
	}
	_, err := TypeOf[bad]()
	if want := "type cannot be stored in shared memory: layout.bad contains string (a string); use numbers, bool, fixed arrays or structs of those"; err.Error() != want {
		t.Errorf("message %q", err)
	}
	type pt struct{ X, Y float64 }
	a, _ := TypeOf[pt]()
	b, _ := TypeOf[[2]float64]()
	c, _ := TypeOf[struct{ A, B int64 }]()
	if a.Hash == b.Hash || a.Hash == c.Hash {
		t.Error("different shapes share a fingerprint")
	}
}

// FuzzDecodeWithValidChecksum fixes the checksum of every input, so the
// fuzzer explores the field checks behind it instead of stopping there.
func FuzzDecodeWithValidChecksum(f *testing.F) {
	b, _ := sample()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) >= HeaderSize {
			copy(data[0:8], Magic[:])
			binary.LittleEndian.PutUint32(data[124:], crc32.Checksum(data[:124], castagnoli))
		}
		h, err := Decode(data)
		if err != nil {
			return
		}
		if uint64(len(data)) < HeaderSize+h.PayloadSize || !h.Kind.Valid() {
			t.Fatalf("accepted %+v in %d bytes", h, len(data))
		}
		if h.ElemSize > 0 && h.ElemCount*uint64(h.ElemSize) > h.PayloadSize && h.ElemCount <= h.PayloadSize {
			t.Fatalf("accepted elements past the payload: %+v", h)
		}
	})
}

func FuzzDecode(f *testing.F) {
	b, _ := sample()
	f.Add(b)
	f.Add([]byte{})
	f.Add(b[:HeaderSize])
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := Decode(data)
		if err != nil {
			return
		}
		// Whatever passed must describe a payload inside data.
		if uint64(len(data)) < HeaderSize+h.PayloadSize {
			t.Fatalf("accepted payload %d in %d bytes", h.PayloadSize, len(data))
		}
		_ = h.Expect("x", KindLock)
		_ = h.TypeNameString()
	})
}

func TestDecodeHeadReadsHeaderWithoutPayload(t *testing.T) {
	b, h := sample()
	got, err := DecodeHead(b[:HeaderSize], int64(len(b)))
	if err != nil || got != h {
		t.Fatalf("DecodeHead = %+v, %v\nwant %+v", got, err, h)
	}
	// The file must still be long enough for the payload the header claims.
	if _, err := DecodeHead(b[:HeaderSize], HeaderSize+10); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short file: err = %v, want ErrCorrupt", err)
	}
	if _, err := DecodeHead(b[:HeaderSize], -1); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("negative size: err = %v, want ErrCorrupt", err)
	}
}
