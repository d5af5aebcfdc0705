/* common.h: the harness every C baseline of bench/internal/workload shares.
 *
 * Every program is run as
 *
 *	PROG MODE VARIANT N PROCS CPUS [SIZE]
 *
 * and prints a line "go" when the timed part starts and one line
 * "ns/op <float>" at the end, or a message on stderr and exit status 1. CPUS is "-" (no pinning) or a comma list giving the
 * CPU of each worker (-1: not pinned).
 *
 * A multi-process mode is one coordinator (this process) and PROCS workers
 * forked from it, exactly as the Go and Python sides run theirs:
 *
 *   1. the coordinator makes the shared objects, in memory mapped
 *      MAP_SHARED before the fork (or named objects it unlinks at once);
 *   2. each worker pins itself to its CPU, writes one byte on the ready
 *      pipe and blocks reading the gate pipe;
 *   3. once every worker is ready the coordinator prints "go" and closes
 *      the gate, so all read EOF together;
 *   4. each worker stamps CLOCK_MONOTONIC before its first operation and
 *      after its last, into a shared table, and exits 0;
 *   5. the coordinator reaps them all and prints
 *      (latest end - earliest start) / N.
 *
 * A worker that dies (by any signal, or a non-zero exit) fails the run,
 * and the others are killed.
 * Workers ask for SIGKILL when the coordinator dies (PR_SET_PDEATHSIG).
 */
#ifndef MPBENCH_COMMON_H
#define MPBENCH_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCS 64

/* Each program uses only some of these helpers. */
#pragma GCC diagnostic ignored "-Wunused-function"

struct args {
	const char *prog, *mode, *variant;
	long n;
	int procs;
	int cpus[MAX_PROCS];
	long size;
};

static void die(const char *what) {
	fprintf(stderr, "%s\n", what);
	exit(1);
}

static void die_errno(const char *what) {
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
	exit(1);
}

/* die_err is die_errno for the pthread calls, which return the error. */
static void die_err(const char *what, int err) {
	fprintf(stderr, "%s: %s\n", what, strerror(err));
	exit(1);
}

static int64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* shared returns size zeroed bytes that forked workers share. */
static void *shared(size_t size) {
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die_errno("mmap");
	return p;
}

static long parse_long(const char *s, const char *what) {
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s) {
		fprintf(stderr, "bad %s \"%s\"\n", what, s);
		exit(2);
	}
	return v;
}

static struct args parse_args(int argc, char **argv) {
	struct args a = {0};
	if (argc < 6 || argc > 7) {
		fprintf(stderr, "usage: %s MODE VARIANT N PROCS CPUS [SIZE]\n", argv[0]);
		exit(2);
	}
	a.prog = argv[0];
	a.mode = argv[1];
	a.variant = argv[2];
	a.n = parse_long(argv[3], "N");
	a.procs = (int)parse_long(argv[4], "PROCS");
	if (a.n < 1 || a.procs < 0 || a.procs > MAX_PROCS) {
		fprintf(stderr, "N %ld or PROCS %d out of range\n", a.n, a.procs);
		exit(2);
	}
	for (int i = 0; i < MAX_PROCS; i++)
		a.cpus[i] = -1;
	if (strcmp(argv[5], "-") != 0) {
		char *list = strdup(argv[5]), *save = NULL;
		int i = 0;
		for (char *tok = strtok_r(list, ",", &save); tok && i < MAX_PROCS; tok = strtok_r(NULL, ",", &save))
			a.cpus[i++] = (int)parse_long(tok, "CPU");
		free(list);
	}
	if (argc == 7)
		a.size = parse_long(argv[6], "SIZE");
	return a;
}

static int is(const char *s, const char *t) { return strcmp(s, t) == 0; }

/* check_count fails the run unless the workers counted exactly want. */
static void check_count(uint64_t got, long want) {
	if (got != (uint64_t)want) {
		fprintf(stderr, "counted %llu of %ld ops\n", (unsigned long long)got, want);
		exit(1);
	}
}

static void report(double ns_per_op) { printf("ns/op %.3f\n", ns_per_op); }

typedef void (*work_fn)(int idx, long n, void *arg);

static void pin(int cpu) {
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0)
		die_errno("sched_setaffinity");
}

/* run_workers runs fn in a->procs forked workers, each on its CPU, started
 * together; with split each does its share of a->n operations, otherwise
 * each does all a->n. It returns the ns per operation over all workers. */
static double run_workers(const struct args *a, int split, work_fn fn, void *arg) {
	int ready[2], gate[2];
	int64_t *spans = shared(sizeof(int64_t) * 2 * MAX_PROCS);
	pid_t pids[MAX_PROCS];
	if (pipe(ready) || pipe(gate))
		die_errno("pipe");
	fflush(stdout);
	for (int i = 0; i < a->procs; i++) {
		pid_t pid = fork();
		if (pid < 0)
			die_errno("fork");
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(ready[0]);
			close(gate[1]);
			pin(a->cpus[i]);
			char c = 1, g;
			if (write(ready[1], &c, 1) != 1)
				die_errno("write ready");
			/* Ready said: holding the pipe open would hide from the
			 * coordinator a worker that dies before saying it. */
			close(ready[1]);
			while (read(gate[0], &g, 1) < 0 && errno == EINTR)
				;
			long n = a->n;
			if (split)
				n = a->n / a->procs + (i < a->n % a->procs);
			spans[2 * i] = now_ns();
			fn(i, n, arg);
			spans[2 * i + 1] = now_ns();
			_exit(0);
		}
		pids[i] = pid;
	}
	close(ready[1]);
	close(gate[0]);
	for (int i = 0; i < a->procs; i++) {
		char c;
		if (read(ready[0], &c, 1) != 1)
			die("a worker died before it was ready");
	}
	printf("go\n");
	fflush(stdout);
	close(gate[1]);
	/* Reap in any order; the first worker to fail takes the others down,
	 * since its peer may wait for it for good. */
	int failed = 0;
	for (int left = a->procs; left > 0;) {
		int st;
		pid_t pid = waitpid(-1, &st, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			die_errno("waitpid");
		}
		left--;
		for (int i = 0; i < a->procs; i++)
			if (pids[i] == pid)
				pids[i] = 0; /* reaped: its pid may be reused */
		if ((!WIFEXITED(st) || WEXITSTATUS(st) != 0) && !failed) {
			failed = 1;
			for (int i = 0; i < a->procs; i++)
				if (pids[i] > 0)
					kill(pids[i], SIGKILL);
		}
	}
	if (failed)
		die("a worker failed");
	int64_t first = spans[0], last = spans[1];
	for (int i = 1; i < a->procs; i++) {
		if (spans[2 * i] < first)
			first = spans[2 * i];
		if (spans[2 * i + 1] > last)
			last = spans[2 * i + 1];
	}
	return (double)(last - first) / a->n;
}

/* time_loop returns the ns per operation of fn's n operations run here. */
static double time_loop(long n, void (*fn)(long n, void *arg), void *arg) {
	printf("go\n");
	fflush(stdout);
	int64_t t0 = now_ns();
	fn(n, arg);
	return (double)(now_ns() - t0) / n;
}

/* spin_until waits, yielding the CPU between looks, until *p == v: the
 * lock handoff's announcements, outside the lock. */
static void spin_until(volatile uint64_t *p, uint64_t v) {
	while (__atomic_load_n(p, __ATOMIC_ACQUIRE) != v)
		sched_yield();
}

static void announce(volatile uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

/* unique_name returns a name for a named object of this run. */
static const char *unique_name(const char *kind) {
	static char buf[96];
	static int seq;
	snprintf(buf, sizeof buf, "/mpbench-%s-%d-%d", kind, (int)getpid(), seq++);
	return buf;
}

#endif
