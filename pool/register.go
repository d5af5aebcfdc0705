package pool

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"unicode/utf8"

	"github.com/multiproc/multiproc/internal/codec"
)

// Registration is the Go form of Python's "must be picklable".
//
// A worker is this program started again, so a function cannot travel to
// it; its name can. Register records a function under a name during
// package initialization, when every process of the program — the parent
// and each worker, which all run the same initialization — builds the same
// registry; a call then sends the name and the encoded argument
// (internal/codec), and the worker looks the name up and runs its own copy.
//
// What can be registered, in seed 000's terms:
//
//   - a top-level function, or a package-level function literal:
//     var square = pool.Register(func(ctx context.Context, x int) (int, error) { ... })
//   - a function of two arguments, for Python's starmap: Register2, whose
//     handle takes a Pair;
//   - a method with state (seed 001's callable Worker object, seed 000's
//     object method): register the method expression at package level,
//     pool.RegisterMethod(Worker.Call), and Bind a receiver at run time,
//     Bind(Worker{Const: 100}). The receiver's exported fields (all its
//     fields, for a struct of plain numbers) are encoded with each call
//     and decoded in the worker, once per batch of tasks. Changes the
//     worker makes to its copy do not come back, as seed 000 warns of
//     Python's: return what the caller must see.
//
// What cannot: a closure made at run time (seed 000's nested function and
// lambda), a method value (w.Call), anything registered after Init. Such a
// Register returns a handle whose every use fails with ErrNotRegistered
// and a message that names the function and says how to fix it; nothing
// is ever sent to a worker that lacks the function.
//
// Register panics, as codec.Register and gob.Register do, on what is a
// programming error whatever the run: a nil function, a name registered
// twice, an argument or result type that can never be encoded (a func, a
// chan). Registrations run during package initialization, so such a panic
// happens on the program's first start (and in every test binary that
// links it), never later in a worker.

// A Func is a registered function, fn(ctx, In) (Out, error), that the
// processes of this program can run by name: with Start in a Process of
// its own, or on a Pool's workers.
type Func[In, Out any] struct {
	name    string
	e       *entry // the registry's entry; nil when refused
	refused error  // why the handle cannot be used, wrapping ErrNotRegistered
	inC     codec.Codec[In]
	outC    codec.Codec[Out]
	// recv appends a bound receiver's encoding (Method.Bind); nil for a
	// plain function.
	recv func(dst []byte) ([]byte, error)
}

// Name is the name f is registered under: the function's own
// (runtime.FuncForPC: "main.square", "main.init.func1", "main.Worker.Call"),
// stable within one build, or the one given to RegisterName.
func (f *Func[In, Out]) Name() string { return f.name }

// Register registers fn under its own name and returns its handle. Call
// it in a package-level var declaration (see Registration above).
func Register[In, Out any](fn func(context.Context, In) (Out, error)) *Func[In, Out] {
	return registerFunc("pool.Register", "", fn, fn)
}

// RegisterName is Register under an explicit name, which stays the same
// across builds (as workers on other machines, running another build, will
// need); names are refused if empty, over 256 bytes or not UTF-8.
func RegisterName[In, Out any](name string, fn func(context.Context, In) (Out, error)) *Func[In, Out] {
	return registerFunc("pool.RegisterName", explicitName("pool.RegisterName", name), fn, fn)
}

// A Pair is the argument of a two-argument function (Register2): Python's
// starmap tuple.
type Pair[A, B any] struct {
	First  A
	Second B
}

// PairOf is Pair{a, b}.
func PairOf[A, B any](a A, b B) Pair[A, B] { return Pair[A, B]{a, b} }

// Zip pairs as[i] with bs[i], stopping at the shorter, as Python's zip.
func Zip[A, B any](as []A, bs []B) []Pair[A, B] {
	n := min(len(as), len(bs))
	ps := make([]Pair[A, B], n)
	for i := range n {
		ps[i] = Pair[A, B]{as[i], bs[i]}
	}
	return ps
}

// Register2 registers a function of two arguments under its own name; its
// handle takes a Pair, so a Pool can starmap it over pairs.
func Register2[A, B, Out any](fn func(context.Context, A, B) (Out, error)) *Func[Pair[A, B], Out] {
	return registerFunc("pool.Register2", "", wrap2(fn), fn)
}

// RegisterName2 is Register2 under an explicit name.
func RegisterName2[A, B, Out any](name string, fn func(context.Context, A, B) (Out, error)) *Func[Pair[A, B], Out] {
	return registerFunc("pool.RegisterName2", explicitName("pool.RegisterName2", name), wrap2(fn), fn)
}

func wrap2[A, B, Out any](fn func(context.Context, A, B) (Out, error)) func(context.Context, Pair[A, B]) (Out, error) {
	if fn == nil {
		return nil
	}
	return func(ctx context.Context, p Pair[A, B]) (Out, error) { return fn(ctx, p.First, p.Second) }
}

// registerFunc registers fn, named after orig (the function the caller
// gave, before any wrapping) unless name is given.
func registerFunc[In, Out any](op, name string, fn func(context.Context, In) (Out, error), orig any) *Func[In, Out] {
	if fn == nil {
		panic(op + ": nil function")
	}
	name = pickName(op, name, orig, reflect.TypeFor[In](), reflect.TypeFor[Out]())
	f := &Func[In, Out]{name: name, inC: mustCodec[In](op, name, "argument"), outC: mustCodec[Out](op, name, "result")}
	f.e, f.refused = enroll(op, name, orig, &entry{
		name: name, in: reflect.TypeFor[In](), out: reflect.TypeFor[Out](),
		bind: bindFunc(name, fn, f.inC, f.outC),
	})
	return f
}

// explicitName checks a name given to a RegisterName form.
func explicitName(op, name string) string {
	if name == "" || len(name) > 256 || !utf8.ValidString(name) {
		panic(fmt.Sprintf("%s: bad name %q: want 1 to 256 bytes of UTF-8", op, name))
	}
	return name
}

// pickName returns name if given, else fn's own name; types are the
// function's, to tell a generic function's instances apart.
func pickName(op, name string, fn any, types ...reflect.Type) string {
	if name != "" {
		return name
	}
	// A method value's symbol ends in -fm; enroll refuses it by that, and
	// its message names the method.
	name, _ = strings.CutSuffix(funcName(fn), "-fm")
	if name == "" {
		panic(op + ": the function has no symbol to name it by: use the RegisterName form")
	}
	// A generic function's instances share one symbol, "pkg.f[...]": tell
	// them apart by their types.
	if strings.Contains(name, "[...]") {
		var ts []string
		for _, t := range types {
			ts = append(ts, t.String())
		}
		name = strings.Replace(name, "[...]", "["+strings.Join(ts, ",")+"]", 1)
	}
	return name
}

// funcName is fn's symbol, "" if it has none.
func funcName(fn any) string {
	if f := runtime.FuncForPC(reflect.ValueOf(fn).Pointer()); f != nil {
		return f.Name()
	}
	return ""
}

// mustCodec is the codec for T, the argument or result (what) of the
// function name; a T that can never be encoded is a programming error.
func mustCodec[T any](op, name, what string) codec.Codec[T] {
	c, _, err := codec.For[T]()
	if err != nil {
		panic(fmt.Sprintf("%s(%s): its %s type %s cannot be sent to another process: %v", op, name, what, reflect.TypeFor[T](), err))
	}
	return c
}

// check is nil if f may be used, else why not; op names the call.
func (f *Func[In, Out]) check(op string) error {
	if f == nil {
		return fmt.Errorf("%w: %s of a nil *pool.Func", ErrInvalidArgument, op)
	}
	if f.refused != nil {
		return fmt.Errorf("%s: %w", op, f.refused)
	}
	return nil
}

// appendArg appends the encoding of *x, the argument of one task.
func (f *Func[In, Out]) appendArg(dst []byte, x *In) ([]byte, error) {
	b, err := codec.Append(f.inC, dst, x)
	if err != nil {
		return dst, fmt.Errorf("pool: %s: argument: %w", f.name, err)
	}
	return b, nil
}

// appendRecv appends the bound receiver's encoding, for every task of one
// call (a plain function appends nothing).
func (f *Func[In, Out]) appendRecv(dst []byte) ([]byte, error) {
	if f.recv == nil {
		return dst, nil
	}
	b, err := f.recv(dst)
	if err != nil {
		return dst, fmt.Errorf("pool: %s: receiver: %w", f.name, err)
	}
	return b, nil
}

// decodeOut decodes one task's result.
func (f *Func[In, Out]) decodeOut(b []byte) (Out, error) {
	out, err := codec.Decode(f.outC, b)
	if err != nil {
		return out, fmt.Errorf("pool: %s: result: %w", f.name, err)
	}
	return out, nil
}
