//go:build linux && !race

package robust

// Without the race detector there is nothing to tell it (race.go).

const raceEnabled = false

func raceAcquire(*Mutex) {}

func raceRelease(*Mutex) {}
