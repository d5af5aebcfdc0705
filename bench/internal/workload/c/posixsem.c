/* posixsem.c: glibc's named POSIX semaphores (sem_open, sem_wait,
 * sem_post), the C baseline for multiproc's Semaphore, which keeps the same
 * bytes in the same file. A semaphore is opened by the coordinator and
 * unlinked at once; the forked workers share its mapping.
 *
 *   pair     -  in-process sem_wait+sem_post pairs on a semaphore of 1
 *   counter  -  PROCS workers share N increments of one counter, each under
 *               sem_wait/sem_post on a semaphore of 1
 *   pingpong -  2 workers, N round trips: worker 0 posts ping and waits
 *               pong, worker 1 waits ping and posts pong
 *   create   -  N times sem_open(O_CREAT|O_EXCL, 0600, 1), sem_close,
 *               sem_unlink: what creating a named semaphore costs
 */
#include "common.h"

#include <fcntl.h>
#include <semaphore.h>

static sem_t *open_new(unsigned value) {
	const char *name = unique_name("sem");
	sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, value);
	if (s == SEM_FAILED)
		die_errno("sem_open");
	if (sem_unlink(name) != 0)
		die_errno("sem_unlink");
	return s;
}

static void wait_sem(sem_t *s) {
	while (sem_wait(s) != 0)
		if (errno != EINTR)
			die_errno("sem_wait");
}

static void post_sem(sem_t *s) {
	if (sem_post(s) != 0)
		die_errno("sem_post");
}

static sem_t *mu, *ping, *pong;
static volatile uint64_t *count;

static void pairs(long n, void *arg) {
	(void)arg;
	for (long i = 0; i < n; i++) {
		wait_sem(mu);
		post_sem(mu);
	}
}

static void counter(int idx, long n, void *arg) {
	(void)idx, (void)arg;
	for (long i = 0; i < n; i++) {
		wait_sem(mu);
		*count = *count + 1;
		post_sem(mu);
	}
}

static void pingpong(int idx, long n, void *arg) {
	(void)arg;
	for (long i = 0; i < n; i++) {
		if (idx == 0) {
			post_sem(ping);
			wait_sem(pong);
		} else {
			wait_sem(ping);
			post_sem(pong);
		}
	}
}

static void creates(long n, void *arg) {
	(void)arg;
	for (long i = 0; i < n; i++) {
		const char *name = unique_name("create");
		sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, 1);
		if (s == SEM_FAILED)
			die_errno("sem_open");
		sem_close(s);
		if (sem_unlink(name) != 0)
			die_errno("sem_unlink");
	}
}

int main(int argc, char **argv) {
	struct args a = parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (is(a.mode, "pair")) {
		mu = open_new(1);
		report(time_loop(a.n, pairs, NULL));
	} else if (is(a.mode, "counter")) {
		mu = open_new(1);
		count = shared(sizeof *count);
		double ns = run_workers(&a, 1, counter, NULL);
		check_count(*count, a.n);
		report(ns);
	} else if (is(a.mode, "pingpong")) {
		if (a.procs != 2)
			die("pingpong needs 2 workers");
		ping = open_new(0);
		pong = open_new(0);
		report(run_workers(&a, 0, pingpong, NULL));
	} else if (is(a.mode, "create")) {
		report(time_loop(a.n, creates, NULL));
	} else {
		die("unknown mode");
	}
	return 0;
}
