package segment

import "errors"

// ErrInvalidName is returned for a name that cannot name an object in
// /dev/shm. The message quotes the name and says what is wrong with it.
var ErrInvalidName = errors.New("invalid name")

// ErrForeignOwner is returned when opening a file owned by another user
// without opting in.
var ErrForeignOwner = errors.New("owned by another user")

// ErrNoSpace is returned when /dev/shm cannot hold a new object; the
// message says how much room is left.
var ErrNoSpace = errors.New("not enough space in /dev/shm")
