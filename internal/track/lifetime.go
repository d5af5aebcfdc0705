package track

import (
	"fmt"

	"github.com/multiproc/multiproc/internal/layout"
)

// A Lifetime says when a registered object's name ends, and so what the
// tracker does with it (the rule, for users, is in the README's section on
// lifetimes and in each package's documentation):
//
//	Persistent         never registered: only Unlink or `multiproc rm` removes it
//	UntilUnlink        stays until someone unlinks it; a forgotten one is removed
//	                   at the program's end with one line saying so (Python's
//	                   SharedMemory: objects given a Name, and every raw segment)
//	WhileCreatorHolds  ends when its creator closes it or exits; removed silently
//	                   then, unless the creator was killed by a signal (Python's
//	                   Lock, Value, ...: objects made without a Name)
//
// Processes that have an object open keep using it after its name is gone.
type Lifetime uint8

const (
	Persistent Lifetime = iota
	UntilUnlink
	WhileCreatorHolds
)

// word is the lifetime's word in R messages and registries.
func (l Lifetime) word() string {
	switch l {
	case UntilUnlink:
		return "unlink"
	case WhileCreatorHolds:
		return "creator"
	}
	return "persistent"
}

func (l Lifetime) String() string { return l.word() }

func parseLifetime(w string) (Lifetime, bool) {
	switch w {
	case "unlink":
		return UntilUnlink, true
	case "creator":
		return WhileCreatorHolds, true
	}
	return 0, false
}

// Why a tracker or `multiproc clean` removed an object, in its line.
const (
	WhyNeverUnlinked = "never unlinked"
	// WhyTrackerGone is `multiproc clean`'s reason: the creator is dead (how
	// it ended is not known any more), and no tracker is left to remove it.
	WhyTrackerGone = "which is gone, and so is its tracker"
)

// whyKilled is the reason for an object whose creator a signal killed.
func whyKilled(sig string) string { return "which was killed by " + sig }

// RemovedLine words one removal for people, the same way wherever it is
// printed (the tracker's stderr, `multiproc clean`):
//
//	removed leaked Lock jobs (created by pid 4242, never unlinked)
//	removed leaked Value mpgo_value_… (created by pid 4242, which was killed by SIGKILL)
//
// verb is "removed" or, for a dry run, "would remove"; kind is the kind's
// name ("Lock", "raw segment").
func RemovedLine(verb, kind, file string, creator int, why string) string {
	return fmt.Sprintf("%s leaked %s %s (created by pid %d, %s)", verb, kind, file, creator, why)
}

func kindWord(k layout.Kind) string {
	if k.Valid() {
		return k.String()
	}
	return "object" // a registry record from before kinds were recorded
}
