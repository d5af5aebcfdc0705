/* futex.c: raw futexes and atomics, the floor under every wait: what the
 * kernel's wait/wake costs with nothing around it.
 *
 *   pingpong -  2 workers, N round trips over one shared word: worker 0
 *               sets it to 1 and wakes, then sleeps (FUTEX_WAIT) until it is
 *               0 again; worker 1 sleeps until it is 1, sets it to 0 and
 *               wakes. Every wait sleeps in the kernel when the word is not
 *               yet what it wants: no spinning.
 *   add      -  PROCS workers share N atomic increments of one word
 *               (lock-free fetch-and-add, as value.Add)
 */
#include "common.h"

#include <linux/futex.h>
#include <sys/syscall.h>

static volatile uint32_t *word;
static volatile uint64_t *count;

static void futex_wait(volatile uint32_t *addr, uint32_t val) {
	/* shared futex (no FUTEX_PRIVATE_FLAG): the key is the page, as
	 * between processes */
	if (syscall(SYS_futex, addr, FUTEX_WAIT, val, NULL, NULL, 0) != 0 && errno != EAGAIN && errno != EINTR)
		die_errno("futex wait");
}

static void futex_wake(volatile uint32_t *addr) {
	if (syscall(SYS_futex, addr, FUTEX_WAKE, 1, NULL, NULL, 0) < 0)
		die_errno("futex wake");
}

static void pingpong(int idx, long n, void *arg) {
	(void)arg;
	uint32_t want = idx == 0 ? 0 : 1, give = idx == 0 ? 1 : 0;
	for (long i = 0; i < n; i++) {
		if (idx == 0) {
			__atomic_store_n(word, give, __ATOMIC_SEQ_CST);
			futex_wake(word);
		}
		uint32_t v;
		while ((v = __atomic_load_n(word, __ATOMIC_SEQ_CST)) != want)
			futex_wait(word, v);
		if (idx == 1) {
			__atomic_store_n(word, give, __ATOMIC_SEQ_CST);
			futex_wake(word);
		}
	}
}

static void add(int idx, long n, void *arg) {
	(void)idx, (void)arg;
	for (long i = 0; i < n; i++)
		__atomic_fetch_add(count, 1, __ATOMIC_SEQ_CST);
}

int main(int argc, char **argv) {
	struct args a = parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (is(a.mode, "pingpong")) {
		if (a.procs != 2)
			die("pingpong needs 2 workers");
		word = shared(sizeof *word);
		report(run_workers(&a, 0, pingpong, NULL));
	} else if (is(a.mode, "add")) {
		count = shared(sizeof *count);
		double ns = run_workers(&a, 1, add, NULL);
		check_count(*count, a.n);
		report(ns);
	} else {
		die("unknown mode");
	}
	return 0;
}
