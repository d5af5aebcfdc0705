/* shm.c: POSIX shared memory (shm_open), the C baseline for creating and
 * opening segments and shared objects. Names are unique to the run.
 *
 *   create  plain|reserve  N times: shm_open(O_CREAT|O_EXCL|O_RDWR, 0600),
 *                          ftruncate to SIZE (reserve: then posix_fallocate,
 *                          so a full /dev/shm fails here and not later with
 *                          SIGBUS, as multiproc does), mmap, munmap, close,
 *                          shm_unlink
 *   open    -              one segment of SIZE made once; N times shm_open,
 *                          fstat, mmap, munmap, close
 *   lock    -              N times a 4 KiB segment holding a process-shared
 *                          robust pthread mutex: create, init, unmap,
 *                          unlink (the C form of creating a shared Lock)
 */
#include "common.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>

static long size;
static int reserve;

static int create(const char *name) {
	int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
	if (fd < 0)
		die_errno("shm_open");
	if (ftruncate(fd, size) != 0)
		die_errno("ftruncate");
	if (reserve) {
		int err = posix_fallocate(fd, 0, size);
		if (err)
			die_err("posix_fallocate", err);
	}
	return fd;
}

static void *map(int fd) {
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die_errno("mmap");
	return p;
}

static void creates(long n, void *arg) {
	(void)arg;
	for (long i = 0; i < n; i++) {
		const char *name = unique_name("shm");
		int fd = create(name);
		munmap(map(fd), size);
		close(fd);
		if (shm_unlink(name) != 0)
			die_errno("shm_unlink");
	}
}

static const char *opened;

static void opens(long n, void *arg) {
	(void)arg;
	for (long i = 0; i < n; i++) {
		int fd = shm_open(opened, O_RDWR, 0);
		if (fd < 0)
			die_errno("shm_open");
		struct stat st;
		if (fstat(fd, &st) != 0)
			die_errno("fstat");
		munmap(map(fd), size);
		close(fd);
	}
}

static void locks(long n, void *arg) {
	(void)arg;
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	for (long i = 0; i < n; i++) {
		const char *name = unique_name("lock");
		int fd = create(name);
		pthread_mutex_t *mu = map(fd);
		int err = pthread_mutex_init(mu, &a);
		if (err)
			die_err("pthread_mutex_init", err);
		munmap(mu, size);
		close(fd);
		if (shm_unlink(name) != 0)
			die_errno("shm_unlink");
	}
}

int main(int argc, char **argv) {
	struct args a = parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	size = a.size > 0 ? a.size : 4096;
	reserve = is(a.variant, "reserve");
	if (is(a.mode, "create")) {
		report(time_loop(a.n, creates, NULL));
	} else if (is(a.mode, "open")) {
		char name[96];
		snprintf(name, sizeof name, "%s", unique_name("open"));
		opened = name;
		close(create(name));
		double ns = time_loop(a.n, opens, NULL);
		shm_unlink(name);
		report(ns);
	} else if (is(a.mode, "lock")) {
		size = 4096;
		report(time_loop(a.n, locks, NULL));
	} else {
		die("unknown mode");
	}
	return 0;
}
