package pool

import (
	"context"
	"fmt"
	"reflect"

	"github.com/multiproc/multiproc/internal/codec"
)

// A Method is a registered method expression, m(recv, ctx, In) (Out,
// error): a callable with state, as seed 001's Worker object. Bind gives
// it a receiver and returns a Func to call.
type Method[R, In, Out any] struct {
	name    string
	e       *entry
	refused error
	recvC   codec.Codec[R]
	inC     codec.Codec[In]
	outC    codec.Codec[Out]
}

// RegisterMethod registers a method expression under its own name
// ("main.Worker.Call"); call it in a package-level var:
//
//	type Worker struct{ Const int }
//
//	func (w Worker) Call(ctx context.Context, p pool.Pair[int, int]) (int, error) {
//		return (p.First + p.Second) * w.Const, nil
//	}
//
//	var call = pool.RegisterMethod(Worker.Call)
//
// and at run time: call.Bind(Worker{Const: 100}).
func RegisterMethod[R, In, Out any](m func(R, context.Context, In) (Out, error)) *Method[R, In, Out] {
	return registerMethod("pool.RegisterMethod", "", m)
}

// RegisterMethodName is RegisterMethod under an explicit name.
func RegisterMethodName[R, In, Out any](name string, m func(R, context.Context, In) (Out, error)) *Method[R, In, Out] {
	return registerMethod("pool.RegisterMethodName", explicitName("pool.RegisterMethodName", name), m)
}

func registerMethod[R, In, Out any](op, name string, m func(R, context.Context, In) (Out, error)) *Method[R, In, Out] {
	if m == nil {
		panic(op + ": nil method")
	}
	name = pickName(op, name, m, reflect.TypeFor[R](), reflect.TypeFor[In](), reflect.TypeFor[Out]())
	h := &Method[R, In, Out]{
		name:  name,
		recvC: mustCodec[R](op, name, "receiver"),
		inC:   mustCodec[In](op, name, "argument"),
		outC:  mustCodec[Out](op, name, "result"),
	}
	h.e, h.refused = enroll(op, name, m, &entry{
		name: name, in: reflect.TypeFor[In](), out: reflect.TypeFor[Out](), recv: reflect.TypeFor[R](),
		bind: bindMethod(name, m, h.recvC, h.inC, h.outC),
	})
	return h
}

// Name is the name h is registered under.
func (h *Method[R, In, Out]) Name() string { return h.name }

// Bind returns the Func that calls the method on r. The receiver is
// encoded at each call (Start, Apply, Map: once for all the call's tasks),
// so a pointer receiver's fields are taken as they are then, and a value
// receiver's as they were at Bind; each worker decodes its own copy once
// per batch of tasks. What the method changes in that copy stays in the
// worker: return what the caller must see.
func (h *Method[R, In, Out]) Bind(r R) *Func[In, Out] {
	return &Func[In, Out]{
		name: h.name, e: h.e, refused: h.refused, inC: h.inC, outC: h.outC,
		recv: func(dst []byte) ([]byte, error) { return codec.Append(h.recvC, dst, &r) },
	}
}

// bindMethod is the bind of a method: it decodes the receiver once.
func bindMethod[R, In, Out any](name string, m func(R, context.Context, In) (Out, error), recvC codec.Codec[R], inC codec.Codec[In], outC codec.Codec[Out]) func([]byte) (runFunc, *TaskError) {
	return func(recv []byte) (runFunc, *TaskError) {
		r, err := codec.Decode(recvC, recv)
		if err != nil {
			return nil, taskCorrupt(name, "receiver", fmt.Errorf("pool: %w", err))
		}
		return runner(name, func(ctx context.Context, x In) (Out, error) { return m(r, ctx, x) }, inC, outC), nil
	}
}
