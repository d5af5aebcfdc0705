package admin

import "errors"

// ErrNotOurs is returned for a file in /dev/shm that is not a multiproc
// object (a Python segment, a C program's semaphore, anything else). Such a
// file is never removed.
var ErrNotOurs = errors.New("not a multiproc object")

// ErrHeld is returned by Remove without Force when a running process still
// holds the object open.
var ErrHeld = errors.New("held open by a running process")

// ErrDamaged is returned by Remove without Force for a file named like
// ours whose header or metadata does not validate.
var ErrDamaged = errors.New("damaged multiproc object")
