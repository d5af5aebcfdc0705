package remote

import (
	"errors"
	"fmt"
)

// ErrMalformed is returned for Results whose parts do not agree (bytes a
// worker sent: never trusted).
var ErrMalformed = errors.New("malformed results")

// Count is the number of outcomes in r.
func (r *Results) Count() int {
	if r.Size > 0 {
		return len(r.Out) / int(r.Size)
	}
	return len(r.Ends)
}

// Slice returns the outcomes [from, to) of r as Results of their own
// (From moved on by from), sharing r's bytes; an error wrapping
// ErrMalformed if r's parts do not agree.
func (r *Results) Slice(from, to int) (*Results, error) {
	n := r.Count()
	if from < 0 || to < from || to > n {
		return nil, fmt.Errorf("%w: outcomes %d to %d of %d", ErrMalformed, from, to, n)
	}
	s := &Results{Seq: r.Seq, From: r.From + from, Size: r.Size, Last: r.Last && to == n}
	if r.Size > 0 {
		size := int(r.Size)
		if len(r.Out)%size != 0 || len(r.Ends) > 0 || len(r.FailAt) != len(r.Errs) {
			return nil, fmt.Errorf("%w: %d bytes of %d-byte results, %d failures with %d errors", ErrMalformed, len(r.Out), size, len(r.FailAt), len(r.Errs))
		}
		s.Out = r.Out[from*size : to*size]
		first := -1
		for k, at := range r.FailAt {
			if int(at) >= n || k > 0 && at <= r.FailAt[k-1] {
				return nil, fmt.Errorf("%w: failure at %d", ErrMalformed, at)
			}
			if int(at) >= from && int(at) < to {
				if first < 0 {
					first = k
				}
				s.FailAt = append(s.FailAt, at-uint32(from))
			}
		}
		if first >= 0 {
			s.Errs = r.Errs[first : first+len(s.FailAt)]
		}
		return s, nil
	}
	if len(r.FailAt) > 0 {
		return nil, fmt.Errorf("%w: FailAt without Size", ErrMalformed)
	}
	fails, skipped := 0, 0
	prev := uint32(0)
	for i, e := range r.Ends {
		v := e &^ FailBit
		if v < prev || v > uint32(len(r.Out)) {
			return nil, fmt.Errorf("%w: result %d ends at %d", ErrMalformed, i, v)
		}
		prev = v
		if e&FailBit != 0 {
			fails++
			if i < from {
				skipped++
			}
		}
	}
	if fails != len(r.Errs) {
		return nil, fmt.Errorf("%w: %d failures with %d errors", ErrMalformed, fails, len(r.Errs))
	}
	end := func(i int) uint32 { // where outcome i-1 ends
		if i == 0 {
			return 0
		}
		return r.Ends[i-1] &^ FailBit
	}
	base, top := end(from), end(to)
	s.Out = r.Out[base:top]
	s.Ends = make([]uint32, 0, to-from)
	inside := 0
	for _, e := range r.Ends[from:to] {
		s.Ends = append(s.Ends, (e&^FailBit-base)|e&FailBit)
		if e&FailBit != 0 {
			inside++
		}
	}
	s.Errs = r.Errs[skipped : skipped+inside]
	return s, nil
}

// EncodedSize is about the bytes r takes encoded: what a transport
// compares with its message limit.
func (r *Results) EncodedSize() int {
	n := 64 + len(r.Out) + 5*len(r.Ends) + 5*len(r.FailAt)
	for _, e := range r.Errs {
		n += 5 + len(e)
	}
	return n
}

// EncodedSize is about the bytes c takes encoded.
func (c *Chunk) EncodedSize() int {
	return 96 + len(c.Func) + len(c.Recv) + len(c.Args) + 5*len(c.Ends)
}
