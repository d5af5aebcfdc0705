//go:build !race

package reexec

// raceEnabled: this binary was built with -race.
const raceEnabled = false
