package layout

import "fmt"

// Kind says what a multiproc object is. Values are stored in files: never
// renumber them.
type Kind uint32

const (
	KindRaw       Kind = 1 // raw segment: no header, metadata in an xattr
	KindLock      Kind = 2
	KindRLock     Kind = 3
	KindCondition Kind = 4
	KindEvent     Kind = 5
	KindSemaphore Kind = 6 // glibc sem_t file, metadata in its trailer
	KindBounded   Kind = 7 // bounded semaphore
	KindBarrier   Kind = 8
	KindValue     Kind = 9
	KindArray     Kind = 10
	KindQueue     Kind = 11
	KindPipe      Kind = 12
	maxKind       Kind = 12
)

var kindNames = [...]string{
	KindRaw:       "raw segment",
	KindLock:      "Lock",
	KindRLock:     "RLock",
	KindCondition: "Condition",
	KindEvent:     "Event",
	KindSemaphore: "Semaphore",
	KindBounded:   "BoundedSemaphore",
	KindBarrier:   "Barrier",
	KindValue:     "Value",
	KindArray:     "Array",
	KindQueue:     "Queue",
	KindPipe:      "Pipe",
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k >= KindRaw && k <= maxKind }

func (k Kind) String() string {
	if k.Valid() {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint32(k))
}

// ShortName is the lower-case word used in generated names and the CLI.
func (k Kind) ShortName() string {
	switch k {
	case KindRaw:
		return "raw"
	case KindLock:
		return "lock"
	case KindRLock:
		return "rlock"
	case KindCondition:
		return "cond"
	case KindEvent:
		return "event"
	case KindSemaphore:
		return "sem"
	case KindBounded:
		return "bsem"
	case KindBarrier:
		return "barrier"
	case KindValue:
		return "value"
	case KindArray:
		return "array"
	case KindQueue:
		return "queue"
	case KindPipe:
		return "pipe"
	}
	return "unknown"
}

// WithArticle returns the kind's name after "a" or "an": "an Event",
// "a Lock", "an RLock", "a raw segment".
func (k Kind) WithArticle() string {
	name := k.String()
	switch name[0] {
	case 'A', 'E', 'I', 'O', 'U', 'R': // "an RLock" is read "an ar-lock"
		if k != KindRaw {
			return "an " + name
		}
	}
	return "a " + name
}
