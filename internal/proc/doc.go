// Package proc identifies processes robustly: a pid together with its start
// time (field 22 of /proc/PID/stat, clock ticks since boot), so that a reused
// pid never passes for the process that used it before.
//
// Liveness is decided from what the kernel keeps (pidfd, /proc), never from
// kill(pid, 0) alone, which reports an unreaped zombie as alive.
package proc
