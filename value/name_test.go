package value_test

import (
	"errors"
	"testing"

	"github.com/multiproc/multiproc/array"
	"github.com/multiproc/multiproc/barrier"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/value"
)

// Name("") gives no generated name: a Name changes an object's lifetime, so
// an empty one (an unset config field, say) is refused, never silently
// taken for "no name".
func TestNameOfNothingIsRefusedByEveryPackage(t *testing.T) {
	proctest.CheckShm(t)
	for what, create := range map[string]func() error{
		"value.New": func() error { _, err := value.New[int64](0, value.Name("")); return err },
		"array.New": func() error { _, err := array.New[int64](4, array.Name("")); return err },
		"sem.NewLock": func() error {
			_, err := sem.NewLock(sem.Name(""))
			return err
		},
		"sem.NewSemaphore": func() error { _, err := sem.NewSemaphore(1, sem.Name("")); return err },
		"barrier.New":      func() error { _, err := barrier.New(2, barrier.Name("")); return err },
	} {
		if err := create(); !errors.Is(err, value.ErrInvalidName) {
			t.Errorf("%s with Name(\"\") = %v, want ErrInvalidName", what, err)
		}
	}
}
