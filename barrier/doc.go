// Package barrier gives processes Python's threading.Barrier (which
// multiprocessing.Barrier shares): a fixed number of parties call Wait, and
// none returns until all have arrived.
//
//	b, err := barrier.New(4, barrier.Action(merge), barrier.Timeout(time.Minute))
//	...
//	// in each of the four worker processes:
//	b, err := barrier.Open(name, barrier.Action(merge))
//	for step := range steps {
//		compute(step)
//		if _, err := b.Wait(ctx); err != nil { // errors.Is(err, barrier.ErrBroken)
//			return err
//		}
//	}
//
// The semantics are Python's, cycle for cycle: Wait returns the arrival
// index (0 to parties-1); the last party to arrive runs the Action before
// anyone is released; a timeout, a cancelled context, Abort, a failed
// Action or Reset breaks the barrier, and every waiter in every process gets
// ErrBroken; a broken barrier stays broken until Reset; the barrier can be
// reused for any number of cycles, and a fast party never laps a slow one.
//
// Beyond Python: a party whose process dies inside Wait, even by SIGKILL,
// breaks the barrier (ErrBroken wrapping ErrPartyDied) within about a tenth
// of a second, where Python's waiters would wait for ever; so does a process
// that dies holding the barrier's internal lock. Every blocking call takes a
// context. Status and the accessors let another process, or the multiproc
// CLI, see the parties, who is waiting, the cycles completed, and why a
// barrier broke.
//
// What it does not do: it cannot know a process was going to arrive. A
// party that dies between two Waits (outside the barrier) looks exactly like
// a slow one; give the barrier a Timeout, as you would in Python.
//
// # Lifetime
//
// As in Python: a barrier made without a Name lives while its creator holds
// it. The creator's Close, or its exit, removes the name, silently;
// processes that opened it keep using it, later opens fail with
// fs.ErrNotExist. One given a Name stays until someone calls Unlink, like
// Python's SharedMemory: the resource tracker removes one forgotten at the
// program's end, with one line on stderr saying so. A Persistent one is
// never touched; only Unlink or `multiproc rm` removes it.
//
// # Caveats
//
//   - Functions do not cross processes: each process gives its own Action
//     to New or Open, and it runs in the process of the party that completes
//     the cycle. A cycle completed in a process without an Action, while some
//     process gave one, breaks the barrier with ErrNoAction instead of
//     silently skipping the action.
//   - The Action runs with the barrier's internal lock held: it must not
//     call the barrier's methods, and a long Action delays Abort, Reset and
//     the waiters' timeouts until it returns.
//   - A goroutine blocked in Wait holds an OS thread while it sleeps in the
//     kernel; per Barrier handle, only one goroutine sleeps there and the
//     others park in the Go scheduler.
//   - Timeout is stored in the barrier: processes that Open it share the
//     creator's default unless they give their own.
package barrier
