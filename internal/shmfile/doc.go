// Package shmfile holds the facts about files in /dev/shm that every layer
// needs: how an object's name becomes a file name there, how a file is
// identified (ID: device and inode, so a newer file under an old name is
// never mistaken for it), and, from the kernel's flock table, whether any
// process holds a file open — removing it only when nobody does.
//
// Every process that has a multiproc object open holds a shared flock on
// its file (package segment takes it at Create and Open); the kernel drops
// it when the process exits, even by SIGKILL. So winning a non-blocking
// exclusive flock proves that nobody holds the file at that instant, and
// removing the name while still holding that lock cannot pull an object
// from under a process that has it open: an opener blocked on its shared
// lock meanwhile finds the name gone once it gets the lock, and retries.
//
// It is a leaf: package segment (which opens and maps the files) and the
// resource tracker (internal/track, which segment registers objects with)
// both stand on it, so they decide with one copy of each rule.
package shmfile
