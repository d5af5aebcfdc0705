package segment

import (
	"fmt"
	"io/fs"
	"time"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/proc"
)

// Object is an open typed object: a File whose first layout.HeaderSize bytes
// are a validated header and whose Payload follows it.
type Object struct {
	*File
	Header  layout.Header
	Payload []byte // the bytes after the header, cache-line aligned
}

// ObjectSpec says what to create.
type ObjectSpec struct {
	Kind        layout.Kind
	PayloadSize int
	Elem        *layout.TypeInfo // element type, nil if the kind has none
	ElemCount   uint64
}

// CreateObject creates the typed object that spec describes, named as opts
// say (no Name generates one): the header, then initialise on the zeroed
// payload, all before the name is published. A non-persistent object is
// registered with the tracker, with the lifetime opts.Lifetime gives it.
func CreateObject(spec ObjectSpec, opts Options, initialise func(payload []byte) error) (*Object, error) {
	file, err := opts.FileName(spec.Kind.ShortName(), "")
	if err != nil {
		return nil, err
	}
	me := proc.Self()
	h := layout.Header{
		Kind:         spec.Kind,
		PayloadSize:  uint64(spec.PayloadSize),
		ElemCount:    spec.ElemCount,
		CreatorPID:   uint32(me.PID),
		CreatorStart: me.Start,
		PidNS:        proc.PidNamespace(),
		Created:      time.Now().UnixNano(),
	}
	if opts.Persistent {
		h.Flags |= layout.FlagPersistent
	}
	if spec.Elem != nil {
		h.ElemSize, h.ElemAlign, h.TypeHash = spec.Elem.Size, spec.Elem.Align, spec.Elem.Hash
		h.SetTypeName(spec.Elem.Name)
	}
	f, err := Create(file, layout.HeaderSize+spec.PayloadSize, CreateOptions{Mode: opts.Mode, Kind: spec.Kind, Lifetime: opts.Lifetime(spec.Kind)}, func(b []byte) error {
		if initialise != nil {
			if err := initialise(b[layout.HeaderSize:]); err != nil {
				return err
			}
		}
		h.Encode(b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Object{File: f, Header: h, Payload: f.Bytes()[layout.HeaderSize:]}, nil
}

// OpenObject opens the typed object name, checking that it is of kind k
// and, when elem is not nil, holds elements of that type. A file that is
// not a valid object fails with an error wrapping layout.ErrCorrupt; the
// wrong kind or type with ErrKindMismatch or ErrTypeMismatch.
func OpenObject(name string, k layout.Kind, elem *layout.TypeInfo, opt OpenOptions) (*Object, error) {
	file, err := CleanName(name, "")
	if err != nil {
		return nil, err
	}
	if opt.MinSize < layout.HeaderSize {
		opt.MinSize = layout.HeaderSize
	}
	f, err := Open(file, opt)
	if err != nil {
		return nil, err
	}
	var h layout.Header
	err = f.Validate(func() error {
		var err error
		h, err = layout.Decode(f.Bytes())
		return err
	})
	if err == nil {
		err = h.Expect(file, k)
	}
	if err == nil && elem != nil {
		err = h.ExpectType(file, *elem)
	}
	if err == nil {
		err = samePidNamespace(file, h)
	}
	if err != nil {
		f.discard()
		return nil, &fs.PathError{Op: "open", Path: f.Path(), Err: err}
	}
	obj := &Object{File: f, Header: h, Payload: f.Bytes()[layout.HeaderSize : layout.HeaderSize+int(h.PayloadSize)]}
	if testHookAfterHeader != nil {
		testHookAfterHeader(obj)
	}
	return obj, nil
}

// samePidNamespace refuses an object whose state holds pids when the caller
// is in another pid namespace than the creator (see ErrPidNamespace). A
// header without a namespace (0) or a caller that cannot read its own is
// not refused: the check needs both facts.
func samePidNamespace(file string, h layout.Header) error {
	switch h.Kind {
	case layout.KindEvent, layout.KindRaw:
		return nil
	}
	mine := proc.PidNamespace()
	if h.PidNS == 0 || mine == 0 || h.PidNS == mine {
		return nil
	}
	return fmt.Errorf("%w: %s (%s) was made in pid namespace %d, this process is in %d: the pids in its state mean nothing here",
		ErrPidNamespace, file, h.Kind.WithArticle(), h.PidNS, mine)
}
