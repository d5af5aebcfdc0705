package codec

import "unsafe"

// A struct is compiled to a list of field operations: runs of adjacent
// plain exported fields become one copy, strings are inlined, the rest call
// their field's codec. Unexported fields are skipped (and decode as zero),
// as encoding/gob and encoding/json skip them.
type fieldOp struct {
	op    uint8
	off   uintptr
	size  uintptr    // opRaw
	bools []span     // opRaw, relative to off
	c     *typeCodec // opCall; opString and opRaw: the first field's codec, for messages
}

const (
	opRaw uint8 = iota
	opString
	opCall
)

func (b *builder) structure(c *typeCodec, path string) error {
	t := c.t
	var ops []fieldOp
	c.min = -1 // set by fillMin
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		fc, err := b.build(f.Type, path+"."+f.Name)
		if err != nil {
			return err
		}
		c.fields = append(c.fields, fc)
		switch {
		case fc.kind == kPlain && fc.size == 0:
			// nothing on the wire
		case fc.kind == kPlain:
			if k := len(ops) - 1; k >= 0 && ops[k].op == opRaw && ops[k].off+ops[k].size == f.Offset {
				for _, s := range fc.bools {
					s.off += ops[k].size
					ops[k].bools = append(ops[k].bools, s)
				}
				ops[k].size += fc.size
				continue
			}
			ops = append(ops, fieldOp{op: opRaw, off: f.Offset, size: fc.size, bools: fc.bools, c: fc})
		case fc.kind == kString:
			ops = append(ops, fieldOp{op: opString, off: f.Offset, c: fc})
		default:
			ops = append(ops, fieldOp{op: opCall, off: f.Offset, c: fc})
		}
	}
	c.kind = kStruct
	c.enc = func(b []byte, p unsafe.Pointer, depth int) ([]byte, error) {
		var err error
		for k := range ops {
			op := &ops[k]
			q := unsafe.Add(p, op.off)
			switch op.op {
			case opRaw:
				b = append(b, unsafe.Slice((*byte)(q), op.size)...)
			case opString:
				b = appendString(b, *(*string)(q))
			default:
				if b, err = op.c.enc(b, q, depth); err != nil {
					return b, err
				}
			}
		}
		return b, nil
	}
	c.dec = func(s src, i int, p unsafe.Pointer, depth int) (int, error) {
		b := s.b
		var err error
		for k := range ops {
			op := &ops[k]
			q := unsafe.Add(p, op.off)
			switch op.op {
			case opRaw:
				if i, err = c.readImage(b, i, q, int(op.size), op.bools); err != nil {
					return i, err
				}
			case opString:
				if *(*string)(q), i, err = op.c.readString(s, i); err != nil {
					return i, err
				}
			default:
				if i, err = op.c.dec(s, i, q, depth); err != nil {
					return i, err
				}
			}
		}
		return i, nil
	}
	return nil
}
