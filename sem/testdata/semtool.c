/* semtool: the C side of the semaphore interop tests and benchmarks.
 * It uses only glibc's named-semaphore API (sem_open, sem_post, sem_wait,
 * sem_getvalue, sem_close), exactly as any C program would.
 *
 *   semtool create  NAME VALUE          sem_open(O_CREAT|O_EXCL, 0600, VALUE)
 *   semtool post    NAME N              N sem_posts
 *   semtool wait    NAME N              N sem_waits
 *   semtool waitone NAME                print "waiting", then one sem_wait
 *   semtool counter NAME FILE N         N times: sem_wait; ++*(uint64*)FILE; sem_post
 *                                       (FILE is a /dev/shm segment, mapped shared)
 *   semtool bench   NAME N              N uncontended sem_wait+sem_post pairs,
 *                                       prints "ns/op <float>"
 *   semtool pingpong PING PONG N SIDE   SIDE 0: N times post PING, wait PONG,
 *                                       prints "ns/op <float>" (one round trip);
 *                                       SIDE 1: N times wait PING, post PONG
 *
 * Every mode prints "ok" on success and exits 1 with a message otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
	fprintf(stderr, "semtool: %s: %s\n", what, strerror(errno));
	exit(1);
}

static sem_t *open_sem(const char *name) {
	sem_t *s = sem_open(name, 0);
	if (s == SEM_FAILED)
		die("sem_open");
	return s;
}

static void wait_sem(sem_t *s) {
	while (sem_wait(s) != 0)
		if (errno != EINTR)
			die("sem_wait");
}

static void post_sem(sem_t *s) {
	if (sem_post(s) != 0)
		die("sem_post");
}

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: semtool MODE NAME ...\n");
		return 2;
	}
	const char *mode = argv[1], *name = argv[2];
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (strcmp(mode, "create") == 0 && argc == 4) {
		sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, (unsigned)atoi(argv[3]));
		if (s == SEM_FAILED)
			die("sem_open O_CREAT");
		sem_close(s);
	} else if (strcmp(mode, "post") == 0 && argc == 4) {
		sem_t *s = open_sem(name);
		for (long i = atol(argv[3]); i > 0; i--)
			post_sem(s);
	} else if (strcmp(mode, "wait") == 0 && argc == 4) {
		sem_t *s = open_sem(name);
		for (long i = atol(argv[3]); i > 0; i--)
			wait_sem(s);
	} else if (strcmp(mode, "waitone") == 0 && argc == 3) {
		sem_t *s = open_sem(name);
		printf("waiting\n");
		wait_sem(s);
	} else if (strcmp(mode, "counter") == 0 && argc == 5) {
		sem_t *s = open_sem(name);
		int fd = open(argv[3], O_RDWR | O_CLOEXEC);
		if (fd < 0)
			die("open counter");
		volatile uint64_t *c = mmap(NULL, 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (c == MAP_FAILED)
			die("mmap counter");
		for (long i = atol(argv[4]); i > 0; i--) {
			wait_sem(s);
			*c = *c + 1; /* a plain read-modify-write: only the semaphore makes it safe */
			post_sem(s);
		}
	} else if (strcmp(mode, "bench") == 0 && argc == 4) {
		sem_t *s = open_sem(name);
		long n = atol(argv[3]);
		double t0 = now_ns();
		for (long i = 0; i < n; i++) {
			wait_sem(s);
			post_sem(s);
		}
		printf("ns/op %.2f\n", (now_ns() - t0) / n);
	} else if (strcmp(mode, "pingpong") == 0 && argc == 6) {
		sem_t *ping = open_sem(name), *pong = open_sem(argv[3]);
		long n = atol(argv[4]);
		int side = atoi(argv[5]);
		double t0 = now_ns();
		for (long i = 0; i < n; i++) {
			if (side == 0) {
				post_sem(ping);
				wait_sem(pong);
			} else {
				wait_sem(ping);
				post_sem(pong);
			}
		}
		if (side == 0)
			printf("ns/op %.2f\n", (now_ns() - t0) / n);
	} else {
		fprintf(stderr, "semtool: bad mode or arguments\n");
		return 2;
	}
	printf("ok\n");
	return 0;
}
