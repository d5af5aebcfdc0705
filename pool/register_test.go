package pool_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/pool"
)

func double(ctx context.Context, x int) (int, error) { return 2 * x, nil }

func identity[T any](ctx context.Context, x T) (T, error) { return x, nil }

// Counter is a stateful callable: its method prints and bumps its state.
type Counter struct {
	Label string
	N     int
}

func (c *Counter) Bump(ctx context.Context, by int) (int, error) {
	c.N += by
	fmt.Printf("%s: %d\n", c.Label, c.N)
	return c.N, nil
}

func power(ctx context.Context, base, exp int) (int, error) {
	r := 1
	for range exp {
		r *= base
	}
	fmt.Println(r)
	return r, nil
}

var (
	doubleFn    = pool.Register(double)
	literalFn   = pool.Register(func(ctx context.Context, s string) (string, error) { return strings.ToUpper(s), nil })
	identityInt = pool.Register(identity[int])
	identityStr = pool.Register(identity[string])
	namedFn     = pool.RegisterName("pool-test/shout", func(ctx context.Context, s string) (string, error) { return s + "!", nil })
	bump        = pool.RegisterMethod((*Counter).Bump)
	powerFn     = pool.Register2(power)
)

func TestNamesComeFromTheFunction(t *testing.T) {
	const pkg = "github.com/multiproc/multiproc/pool_test."
	for _, c := range []struct{ got, want string }{
		{doubleFn.Name(), pkg + "double"},
		{identityInt.Name(), pkg + "identity[int,int]"},
		{identityStr.Name(), pkg + "identity[string,string]"},
		{namedFn.Name(), "pool-test/shout"},
		{bump.Name(), pkg + "(*Counter).Bump"},
		{powerFn.Name(), pkg + "power"},
	} {
		if c.got != c.want {
			t.Errorf("name %q, want %q", c.got, c.want)
		}
	}
	if n := literalFn.Name(); !strings.HasPrefix(n, pkg+"init.") {
		t.Errorf("a package-level literal is named %q", n)
	}
}

func TestRegisterAfterInitIsRefusedAtTheCall(t *testing.T) {
	offset := 3
	closure := pool.Register(func(ctx context.Context, x int) (int, error) { return x + offset, nil })
	p, err := pool.Start(closure, 1)
	if p != nil || !errors.Is(err, pool.ErrNotRegistered) {
		t.Fatalf("Start of a closure: %v, %v", p, err)
	}
	for _, want := range []string{closure.Name(), "after pool.Init", "package-level var"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	if len(pool.ActiveChildren()) != 0 {
		t.Fatal("a child was started")
	}
}

func TestMethodValueIsRefusedAtTheCall(t *testing.T) {
	c := &Counter{Label: "x"}
	mv := pool.Register(c.Bump)
	_, err := pool.Start(mv, 1)
	if !errors.Is(err, pool.ErrNotRegistered) || !strings.Contains(err.Error(), "method value") || !strings.Contains(err.Error(), "RegisterMethod") {
		t.Fatalf("Start of a method value: %v", err)
	}
}

func TestRegisterPanicsOnProgrammingErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		f    func()
		want string
	}{
		{"nil function", func() { pool.Register[int, int](nil) }, "pool.Register: nil function"},
		{"nil two-argument function", func() { pool.Register2[int, int, int](nil) }, "pool.Register2: nil function"},
		{"nil method", func() { pool.RegisterMethod[Counter, int, int](nil) }, "pool.RegisterMethod: nil method"},
		{"a chan argument", func() {
			pool.Register(func(ctx context.Context, ch chan int) (int, error) { return 0, nil })
		}, "argument type chan int cannot be sent to another process"},
		{"a func result", func() {
			pool.Register(func(ctx context.Context, x int) (func(), error) { return nil, nil })
		}, "result type func() cannot be sent"},
		{"an empty name", func() { pool.RegisterName("", double) }, "bad name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), c.want) {
					t.Fatalf("panic %v, want one saying %q", r, c.want)
				}
			}()
			c.f()
		})
	}
}

func TestNilFuncIsAnError(t *testing.T) {
	var f *pool.Func[int, int]
	if _, err := pool.Start(f, 1); !errors.Is(err, pool.ErrInvalidArgument) {
		t.Fatalf("Start(nil): %v", err)
	}
}

// TestMethodStateTravelsAndStaysInTheWorker: the receiver's fields reach
// the child; what the method changes there does not come back.
func TestMethodStateTravelsAndStaysInTheWorker(t *testing.T) {
	c := &Counter{Label: "apples", N: 10}
	fn := bump.Bind(c)
	out := captureStdout(t, func() {
		if err := wait(t, start(t, fn, 5)); err != nil {
			t.Fatal(err)
		}
		c.N = 100 // a pointer receiver is encoded at each call
		if err := wait(t, start(t, fn, 1)); err != nil {
			t.Fatal(err)
		}
	})
	if out != "apples: 15\napples: 101\n" {
		t.Fatalf("children printed %q", out)
	}
	if c.N != 100 {
		t.Fatalf("the parent's receiver changed to %d", c.N)
	}
}

func TestTwoArgumentFunction(t *testing.T) {
	out := captureStdout(t, func() {
		for _, ab := range []pool.Pair[int, int]{pool.PairOf(2, 3), pool.PairOf(3, 3), pool.PairOf(4, 3)} {
			wait(t, start(t, powerFn, ab))
		}
	})
	if out != "8\n27\n64\n" {
		t.Fatalf("children printed %q", out)
	}
}

func TestZip(t *testing.T) {
	got := pool.Zip([]int{1, 2, 3}, []string{"a", "b"})
	if len(got) != 2 || got[0] != pool.PairOf(1, "a") || got[1] != pool.PairOf(2, "b") {
		t.Fatalf("Zip: %v", got)
	}
}
