/* pthread.c: process-shared pthread objects, the C baseline for the locks,
 * the condition variable and the barrier. Every object lives in memory
 * mapped MAP_SHARED before the fork and is initialized PTHREAD_PROCESS_SHARED,
 * as a C program sharing them between processes would make them.
 *
 *   pair    plain|robust|recursive|nested  -  in-process Lock+Unlock pairs
 *           (nested: a recursive mutex already held once)
 *   counter plain|robust  PROCS workers share N increments of one counter
 *   handoff plain|robust  2 workers hand the mutex to each other N times
 *   cond    -             2 workers, N round trips through one condvar
 *   barrier -             PROCS workers, N barrier cycles
 */
#include "common.h"

#include <pthread.h>

struct state {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	pthread_barrier_t bar;
	/* the counter, the condition's turn and the handoff announcements,
	 * each on its own cache line */
	volatile uint64_t counter __attribute__((aligned(64)));
	volatile uint64_t turn __attribute__((aligned(64)));
	volatile uint64_t words[5] __attribute__((aligned(64)));
};

static struct state *st;

static void init_mutex(const char *variant) {
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (is(variant, "robust"))
		pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (is(variant, "recursive") || is(variant, "nested"))
		pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	int err = pthread_mutex_init(&st->mu, &a);
	if (err)
		die_err("pthread_mutex_init", err);
}

static void lock(void) {
	int err = pthread_mutex_lock(&st->mu);
	if (err == EOWNERDEAD)
		err = pthread_mutex_consistent(&st->mu);
	if (err)
		die_err("pthread_mutex_lock", err);
}

static void unlock(void) {
	int err = pthread_mutex_unlock(&st->mu);
	if (err)
		die_err("pthread_mutex_unlock", err);
}

static void pairs(long n, void *arg) {
	(void)arg;
	for (long i = 0; i < n; i++) {
		lock();
		unlock();
	}
}

static void counter(int idx, long n, void *arg) {
	(void)idx, (void)arg;
	for (long i = 0; i < n; i++) {
		lock();
		st->counter = st->counter + 1; /* a plain read-modify-write: only the mutex makes it safe */
		unlock();
	}
}

/* handoff: worker 0 takes the mutex first (and says so in word 4). Each
 * side announces (outside the mutex) that it is about to lock, and waits
 * for the other to hold the mutex before it locks again, so that neither
 * takes it back before the handoff. One op is two handoffs. words: 0 w0
 * waiting, 1 w1 waiting, 2 w0 has, 3 w1 has, 4 w0 holds it at the start. */
static void handoff(int idx, long n, void *arg) {
	(void)arg;
	volatile uint64_t *w = st->words;
	if (idx == 0) {
		lock();
		announce(&w[4], 1);
		for (uint64_t i = 1; i <= (uint64_t)n; i++) {
			spin_until(&w[1], i);
			unlock(); /* to worker 1 */
			spin_until(&w[3], i);
			announce(&w[0], i);
			lock(); /* back from worker 1 */
			announce(&w[2], i);
		}
		unlock();
	} else {
		spin_until(&w[4], 1);
		for (uint64_t i = 1; i <= (uint64_t)n; i++) {
			announce(&w[1], i);
			lock();
			announce(&w[3], i);
			spin_until(&w[0], i);
			unlock();
			spin_until(&w[2], i);
		}
	}
}

static void cond(int idx, long n, void *arg) {
	(void)arg;
	lock();
	for (long i = 0; i < n; i++) {
		uint64_t mine = 2 * (uint64_t)i + (idx == 0 ? 1 : 2);
		if (idx == 0) {
			st->turn = mine;
			pthread_cond_signal(&st->cond);
			while (st->turn != mine + 1)
				pthread_cond_wait(&st->cond, &st->mu);
		} else {
			while (st->turn != mine - 1)
				pthread_cond_wait(&st->cond, &st->mu);
			st->turn = mine;
			pthread_cond_signal(&st->cond);
		}
	}
	unlock();
}

static void barrier(int idx, long n, void *arg) {
	(void)idx, (void)arg;
	for (long i = 0; i < n; i++) {
		int err = pthread_barrier_wait(&st->bar);
		if (err && err != PTHREAD_BARRIER_SERIAL_THREAD)
			die_err("pthread_barrier_wait", err);
	}
}

int main(int argc, char **argv) {
	struct args a = parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	st = shared(sizeof *st);
	init_mutex(a.variant);
	if (is(a.mode, "pair")) {
		if (is(a.variant, "nested"))
			lock();
		report(time_loop(a.n, pairs, NULL));
	} else if (is(a.mode, "counter")) {
		double ns = run_workers(&a, 1, counter, NULL);
		check_count(st->counter, a.n);
		report(ns);
	} else if (is(a.mode, "handoff")) {
		if (a.procs != 2)
			die("handoff needs 2 workers");
		report(run_workers(&a, 0, handoff, NULL));
	} else if (is(a.mode, "cond")) {
		if (a.procs != 2)
			die("cond needs 2 workers");
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
		int err = pthread_cond_init(&st->cond, &ca);
		if (err)
			die_err("pthread_cond_init", err);
		report(run_workers(&a, 0, cond, NULL));
	} else if (is(a.mode, "barrier")) {
		pthread_barrierattr_t ba;
		pthread_barrierattr_init(&ba);
		pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
		int err = pthread_barrier_init(&st->bar, &ba, (unsigned)a.procs);
		if (err)
			die_err("pthread_barrier_init", err);
		report(run_workers(&a, 0, barrier, NULL));
	} else {
		die("unknown mode");
	}
	return 0;
}
