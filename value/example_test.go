package value_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/multiproc/multiproc/value"
)

func Example() {
	// The parent creates the value; "" names are generated.
	v, err := value.New[int64](40)
	if err != nil {
		panic(err)
	}
	defer v.Unlink()
	defer v.Close()

	// Another process opens it by name (here we do it ourselves).
	w, err := value.Open[int64](v.Name())
	if err != nil {
		panic(err)
	}
	defer w.Close()

	value.Add(w, 1) // lock-free
	w.Update(func(n *int64) { *n++ })
	fmt.Println(v.Load())
	// Output: 42
}

func ExampleAdd() {
	hits, err := value.NewRaw[uint32](0) // Add needs no lock
	if err != nil {
		panic(err)
	}
	defer hits.Unlink()
	defer hits.Close()

	value.Add(hits, 10)
	fmt.Println(value.Add(hits, ^uint32(0))) // subtract 1
	// Output: 9
}

func ExampleNewRaw() {
	// Python's RawValue('d', 0.5): no lock; fine for a value written by
	// one process and read by others.
	progress, err := value.NewRaw(0.5)
	if err != nil {
		panic(err)
	}
	defer progress.Unlink()
	defer progress.Close()

	progress.Store(0.75)
	fmt.Println(progress.Load(), progress.Lock() == nil)
	fmt.Println(progress.Update(func(*float64) {}) != nil)
	// Output:
	// 0.75 true
	// true
}

func ExampleOpen() {
	v, err := value.New[int64](1)
	if err != nil {
		panic(err)
	}
	defer v.Unlink()
	defer v.Close()

	// The header remembers the creator's type.
	_, err = value.Open[int32](v.Name())
	fmt.Println(errors.Is(err, value.ErrTypeMismatch))
	// Output: true
}

func ExampleNew_struct() {
	type stats struct {
		Count int64
		Sum   float64
	}
	s, err := value.New(stats{})
	if err != nil {
		panic(err)
	}
	defer s.Unlink()
	defer s.Close()

	for _, x := range []float64{1.5, 2.5, 5} {
		s.Update(func(p *stats) { // both fields change together
			p.Count++
			p.Sum += x
		})
	}
	fmt.Printf("%+v\n", s.Load())
	// Output: {Count:3 Sum:9}
}

func ExampleNew_refusesPointers() {
	_, err := value.New("a string holds a pointer")
	fmt.Println(err)
	// Output: value: New: type cannot be stored in shared memory: string is a string; use numbers, bool, fixed arrays or structs of those
}

func ExampleValue_UpdateContext() {
	type account struct{ Balance, Ops int64 }
	acct, err := value.New(account{Balance: 100})
	if err != nil {
		panic(err)
	}
	defer acct.Unlink()
	defer acct.Close()

	deposit := func(ctx context.Context, amount int64) error {
		for {
			err := acct.UpdateContext(ctx, func(a *account) {
				a.Balance += amount
				a.Ops++
			})
			if errors.Is(err, value.ErrOwnerDead) {
				// A process died inside its own update; that update is
				// lost. If it died writing, repair the value, then retry.
				if _, err := acct.Repair(ctx, func(a *account) { a.Ops = -1 }); err != nil {
					return err
				}
				continue
			}
			return err
		}
	}
	if err := deposit(context.Background(), 50); err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", acct.Load())
	// Output: {Balance:150 Ops:1}
}

func ExampleValue_Repair() {
	v, err := value.New([2]int64{1, 1})
	if err != nil {
		panic(err)
	}
	defer v.Unlink()
	defer v.Close()

	// Only a value a dying process left half-written needs repair; on an
	// intact value Repair does nothing.
	fixed, err := v.Repair(context.Background(), func(p *[2]int64) { p[1] = p[0] })
	fmt.Println(fixed, err)
	// Output: false <nil>
}

func ExampleValue_Store() {
	v, err := value.New([3]float32{})
	if err != nil {
		panic(err)
	}
	defer v.Unlink()
	defer v.Close()

	v.Store([3]float32{1, 2, 3})
	x, err := v.LoadContext(context.Background())
	fmt.Println(x, err)
	// Output: [1 2 3] <nil>
}

func ExampleName() {
	v, err := value.New[int32](7, value.Name("mpgo_example_counter"))
	if err != nil {
		panic(err)
	}
	defer v.Unlink()
	defer v.Close()
	fmt.Println(v.Name())
	// Output: mpgo_example_counter
}

func ExampleValue_Lock() {
	// Python's
	//     with counter.get_lock():
	//         counter.value += 1
	counter, err := value.New[int32](0)
	if err != nil {
		panic(err)
	}
	defer counter.Unlink()
	defer counter.Close()

	l := counter.Lock()
	l.Lock()
	counter.Store(counter.Load() + 1) // 4 bytes: Load and Store never take the lock
	l.Unlock()
	fmt.Println(counter.Load())
	// Output: 1
}

func ExampleValue_Pointer() {
	type window struct{ Lo, Hi int64 }
	w, err := value.New(window{0, 10})
	if err != nil {
		panic(err)
	}
	defer w.Unlink()
	defer w.Close()

	// Under the lock, work on the shared value itself (Load would wait for
	// the lock this goroutine holds).
	l, p := w.Lock(), w.Pointer()
	l.Lock()
	p.Lo += 5
	p.Hi += 5
	l.Unlock()
	fmt.Printf("%+v\n", w.Load())
	// Output: {Lo:5 Hi:15}
}

func ExampleValue_MarshalText() {
	type job struct {
		Step  int
		Total *value.Value[int64] // travels as its name
	}
	total, err := value.New[int64](0)
	if err != nil {
		panic(err)
	}
	defer total.Unlink()
	defer total.Close()

	msg, _ := json.Marshal(job{Step: 5, Total: total})

	// In a worker process: decoding opens the same shared value.
	var j job
	if err := json.Unmarshal(msg, &j); err != nil {
		panic(err)
	}
	defer j.Total.Close()
	value.Add(j.Total, int64(j.Step))
	fmt.Println(total.Load())
	// Output: 5
}

func ExamplePersistent() {
	// Untracked: it outlives this program until someone unlinks it.
	v, err := value.New(1.5, value.Name("mpgo_example_setting"), value.Persistent(), value.Mode(0o600))
	if err != nil {
		panic(err)
	}
	v.Close()

	w, err := value.Open[float64]("mpgo_example_setting")
	if err != nil {
		panic(err)
	}
	fmt.Println(w.Load())
	w.Close()
	fmt.Println(w.Unlink())
	// Output:
	// 1.5
	// <nil>
}

// A tool reads a Value's lock from the head of its file, without knowing T.
func ExampleInspectLock() {
	v, err := value.New[float64](2.5)
	if err != nil {
		panic(err)
	}
	defer v.Unlink()
	defer v.Close()

	f, err := os.Open("/dev/shm/" + v.Name())
	if err != nil {
		panic(err)
	}
	defer f.Close()
	head := make([]byte, value.InspectHeadSize)
	if _, err := f.ReadAt(head, 0); err != nil {
		panic(err)
	}
	st, hasLock, err := value.InspectLock(head)
	fmt.Println(hasLock, st.Locked, err)
	// Output: true false <nil>
}
