package shm_test

import (
	"fmt"

	"github.com/multiproc/multiproc/shm"
)

func Example() {
	seg, err := shm.Create("", 64) // "" generates a unique name
	if err != nil {
		panic(err)
	}
	defer seg.Unlink()
	defer seg.Close()
	copy(seg.Bytes(), "hello from the creator")

	// Any process can now open it by name; here we do it ourselves.
	other, err := shm.Open(seg.Name())
	if err != nil {
		panic(err)
	}
	defer other.Close()
	fmt.Println(string(other.Bytes()[:22]), other.Size())
	// Output: hello from the creator 64
}

func ExamplePersistent() {
	seg, err := shm.Create("mpgo_example_persistent", 16, shm.Persistent())
	if err != nil {
		panic(err)
	}
	seg.Close()
	// Nothing tracks it: it stays until someone unlinks it by name.
	fmt.Println(shm.Unlink("mpgo_example_persistent"))
	// Output: <nil>
}
