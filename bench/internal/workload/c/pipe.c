/* pipe.c: the kernel's message channels between processes, the C baseline
 * for multiproc's Pipe and Queue: a pipe(2) pair, and a socketpair of
 * SOCK_SEQPACKET (which keeps message boundaries, as a queue does).
 *
 *   pingpong pipe|seqpacket  2 workers, N round trips of an 8-byte message
 *   stream   pipe|seqpacket  2 workers, worker 0 sends N messages of SIZE
 *                            bytes (one write or send each: no batching),
 *                            worker 1 receives them; ns/op is per message
 */
#include "common.h"

#include <sys/socket.h>

static int fwd[2], back[2]; /* worker 0 -> 1, worker 1 -> 0 */
static int seqpacket;

static void channel(int fds[2]) {
	if (seqpacket) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) != 0)
			die_errno("socketpair");
	} else if (pipe(fds) != 0) {
		die_errno("pipe");
	}
}

/* The read end is fds[0] for both: for a socketpair either end works both
 * ways, and this program only sends on fds[1]. */
static void send_all(int fd, const char *buf, long size) {
	long done = 0;
	while (done < size) {
		ssize_t k = write(fd, buf + done, size - done);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			die_errno("write");
		}
		done += k;
	}
}

static void recv_all(int fd, char *buf, long size) {
	long done = 0;
	while (done < size) {
		ssize_t k = read(fd, buf + done, size - done);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			die_errno("read");
		}
		if (k == 0)
			die("unexpected EOF");
		done += k;
	}
}

static long msg;

static void pingpong(int idx, long n, void *arg) {
	(void)arg;
	char buf[8] = {0};
	for (long i = 0; i < n; i++) {
		if (idx == 0) {
			send_all(fwd[1], buf, sizeof buf);
			recv_all(back[0], buf, sizeof buf);
		} else {
			recv_all(fwd[0], buf, sizeof buf);
			send_all(back[1], buf, sizeof buf);
		}
	}
}

static void stream(int idx, long n, void *arg) {
	(void)arg;
	char *buf = calloc(1, msg);
	if (!buf)
		die("out of memory");
	for (long i = 0; i < n; i++) {
		if (idx == 0) {
			memcpy(buf, &i, sizeof i < (size_t)msg ? sizeof i : (size_t)msg);
			send_all(fwd[1], buf, msg);
		} else {
			recv_all(fwd[0], buf, msg);
		}
	}
	free(buf);
}

int main(int argc, char **argv) {
	struct args a = parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!is(a.variant, "pipe") && !is(a.variant, "seqpacket"))
		die("variant must be pipe or seqpacket");
	seqpacket = is(a.variant, "seqpacket");
	if (a.procs != 2)
		die("pipe modes need 2 workers");
	channel(fwd);
	channel(back);
	if (is(a.mode, "pingpong")) {
		report(run_workers(&a, 0, pingpong, NULL));
	} else if (is(a.mode, "stream")) {
		msg = a.size > 0 ? a.size : 8;
		if (seqpacket && msg > 64 * 1024)
			die("SIZE too large for one SOCK_SEQPACKET message here");
		report(run_workers(&a, 0, stream, NULL));
	} else {
		die("unknown mode");
	}
	return 0;
}
