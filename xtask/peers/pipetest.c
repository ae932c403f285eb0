/*
 * A C peer of evbench's pipetest port, written for `cargo xtask bench pipetest` from
 * the algorithm the eventfd commit quotes (pipetest-4 / eventfd-bench): one thread; N
 * non-blocking pipes in one epoll set (EPOLLIN|EPOLLET); A pipes fired; the loop waits
 * with a zero timeout and, for each ready pipe i, reads one byte and, while the write
 * budget W lasts, writes one byte to pipe (i + A + 1) mod N; a run ends when every
 * fired byte was read; 16 runs; each run's cost is elapsed us / bytes read; printed:
 * the mean and sigma of the middle 6 sorted runs, as "AVG: x us/event" and "SIG: y".
 *
 * Usage: pipetest [-n N] [-a A] [-w W]   (defaults 200, 1, 50000)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define RUNS 16
#define KEEP 6

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void die(const char *what)
{
	fprintf(stderr, "pipetest: %s: %s\n", what, strerror(errno));
	exit(1);
}

int main(int argc, char **argv)
{
	long n = 200, a = 1, w = 50000;
	int c;
	while ((c = getopt(argc, argv, "n:a:w:")) != -1) {
		switch (c) {
		case 'n': n = atol(optarg); break;
		case 'a': a = atol(optarg); break;
		case 'w': w = atol(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-n N] [-a A] [-w W]\n", argv[0]);
			return 2;
		}
	}
	if (n < 2 || a < 1 || a >= n || w < 0) {
		fprintf(stderr, "pipetest: need 1 <= A < N and W >= 0\n");
		return 2;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	int (*p)[2] = calloc(n, sizeof *p);
	struct epoll_event *evs = calloc(n, sizeof *evs);
	if (!p || !evs)
		die("calloc");
	int ep = epoll_create1(0);
	if (ep < 0)
		die("epoll_create1");
	for (long i = 0; i < n; i++) {
		if (pipe2(p[i], O_NONBLOCK) < 0)
			die("pipe2");
		struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.u64 = i };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, p[i][0], &ev) < 0)
			die("epoll_ctl");
	}
	double cost[RUNS];
	for (int r = 0; r < RUNS; r++) {
		long fired = 0, writes = 0, reads = 0;
		char b = 'x';
		double t0 = now_us();
		for (long i = 0; i < a; i++, fired++)
			if (write(p[i][1], &b, 1) != 1)
				die("write");
		while (reads < fired) {
			int k = epoll_wait(ep, evs, n, 0);
			if (k < 0)
				die("epoll_wait");
			if (k == 0) {
				fprintf(stderr, "pipetest: stalled with %ld outstanding\n", fired - reads);
				return 1;
			}
			for (int e = 0; e < k; e++) {
				long i = evs[e].data.u64;
				if (read(p[i][0], &b, 1) != 1)
					continue;
				reads++;
				if (writes < w) {
					if (write(p[(i + a + 1) % n][1], &b, 1) != 1)
						die("write");
					writes++;
					fired++;
				}
			}
		}
		cost[r] = (now_us() - t0) / reads;
	}
	qsort(cost, RUNS, sizeof cost[0], cmp);
	double sum = 0, sq = 0;
	int lo = (RUNS - KEEP) / 2;
	for (int r = lo; r < lo + KEEP; r++)
		sum += cost[r];
	double avg = sum / KEEP;
	for (int r = lo; r < lo + KEEP; r++)
		sq += (cost[r] - avg) * (cost[r] - avg);
	printf("AVG: %f us/event\nSIG: %f\n", avg, sqrt(sq / KEEP));
	return 0;
}
