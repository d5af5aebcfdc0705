package cluster

import (
	"errors"

	"github.com/multiproc/multiproc/pool"
	"github.com/multiproc/multiproc/pool/internal/remote"
)

var (
	// ErrBuildMismatch is wrapped by the *pool.TaskError of a task that a
	// worker refused because its registered functions (or its multiproc
	// version, or its architecture) differ from the caller's: another
	// build of the program. The message names both fingerprints.
	ErrBuildMismatch = remote.ErrBuildMismatch
	// ErrExpired is returned for the calls of a pool whose lease lapsed:
	// it could not reach the server for longer than Expiry, so workers
	// may have dropped its tasks.
	ErrExpired = errors.New("cluster lease expired")
	// ErrInvalidArgument is pool's: an option with an impossible value.
	ErrInvalidArgument = pool.ErrInvalidArgument
)
