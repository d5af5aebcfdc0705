// Package proc identifies processes robustly, so that a reused pid never
// passes for the process that used it before, and decides from what the
// kernel keeps whether such a process still runs.
//
// # Identity
//
// An identity is a pid together with a 32-bit tag, the part that lock words
// and barrier slots store beside the pid (ID, Self, Lookup). The tag's top
// bit says which fact about the process it holds:
//
//	bit 31 = 1  pidfs tag: bits 30..0 are the low 31 bits of the inode number
//	            of the process's pidfd (Linux 6.9 and later: pidfds live on
//	            the pidfs pseudo file system, and every process gets its own
//	            inode number from one counter for the whole boot)
//	bit 31 = 0  start-time tag: bits 30..0 are the low 31 bits of its start
//	            time (field 22 of /proc/PID/stat, clock ticks since boot)
//
// A process makes a pidfs tag for itself when it can open a pidfd on itself
// and that pidfd lives on pidfs, else a start-time tag; it does so once.
// Checkers read the kind from the tag, so processes of both kinds share
// objects safely (one whose seccomp filter denies pidfd_open, say).
//
// What each kind guarantees, for the check "is the process that wrote this
// tag beside this pid still running":
//
//   - pidfs (Linux 6.9+): a reused pid is never taken for the old process
//     unless 2^31 processes and threads were created on the machine between
//     the old one's start and the check: pidfs hands out inode numbers from
//     one counter (some releases allocate the low 32 bits cyclically among
//     the numbers not in use, which also come round only after about 2^31
//     others). Kernels built without pidfs (6.9's CONFIG_FS_PID=n, gVisor)
//     give pidfds an anonymous inode, are detected, and use start time.
//   - start time (Linux 5.3 to 6.8, and processes that cannot open a pidfd):
//     a reused pid is taken for the old process if the new process started
//     in the same clock tick (10 ms at the usual USER_HZ of 100) as the old
//     one, or a multiple of 2^31 ticks (about 248 days) later. A short-lived
//     process whose pid is reused at once (pid_max reached, or
//     ns_last_pid written) can therefore be impersonated.
//   - Either kind needs the process to be visible: a checker that can
//     neither open a pidfd on it nor read its /proc entry (hidepid) learns
//     nothing and calls it alive while a process with that pid exists.
//
// # Liveness
//
// Alive answers on evidence only: a pidfd that says the process has
// terminated, /proc/PID/stat showing a zombie, a pid that names no process,
// or a tag that does not match. A zombie counts as dead. kill(pid, 0) is
// never used: it reports an unreaped zombie as alive.
//
// # Caveats
//
//   - A process that calls exec keeps its pid, its pidfs inode and its start
//     time: to every check here it is the same process, and it keeps what it
//     owned (a lock, a barrier slot) until it exits. The kernel releases a
//     pthread robust mutex at exec only because the exec'ing thread's robust
//     list names it (futex_exec_release); nothing a checker can read without
//     privileges changes at exec in every case (the comm and /proc/PID/exe
//     stay when a program re-executes itself, as Go programs do; the memory
//     layout fields of /proc/PID/stat change only with address space
//     randomisation and need ptrace read access).
//   - Pids, and so identities, mean something only inside one pid namespace
//     (PidNamespace).
package proc
