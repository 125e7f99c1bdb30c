/*
 * dumpwait: a process for thread-dump benchmarks (bench/run). It starts
 * THREADS threads (default 100); each takes a mutex of its own and then
 * blocks on one gate mutex that the main thread holds, so that a dump shows
 * every thread with one lock held and one awaited. Once every thread sleeps
 * in the kernel it prints "ready PID THREADS" and waits for its standard input
 * to close; then it opens the gate, joins the threads and exits 0. An
 * alarm ends it after 10 minutes should the caller vanish without closing
 * the pipe.
 *
 *   usage: dumpwait [THREADS]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct blocked {
	pthread_t thread;
	pthread_mutex_t own;
	pid_t tid;
};

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int started;

static void
die(const char *what, int err)
{
	fprintf(stderr, "dumpwait: %s: %s\n", what, strerror(err));
	exit(2);
}

static void *
blocked_main(void *arg)
{
	struct blocked *b = arg;

	b->tid = gettid();
	pthread_mutex_lock(&b->own);
	atomic_fetch_add(&started, 1);
	pthread_mutex_lock(&gate); /* sleeps until the main thread opens it */
	pthread_mutex_unlock(&gate);
	pthread_mutex_unlock(&b->own);
	return NULL;
}

/* True when thread tid of this process is asleep in the kernel. */
static int
sleeping(pid_t tid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the name may hold anything but not after ')' */
	return p && p[1] == ' ' && p[2] == 'S';
}

int
main(int argc, char **argv)
{
	long n = 100;
	struct blocked *b;
	char c;

	if (argc > 2 || (argc == 2 && ((n = strtol(argv[1], NULL, 10)) < 1 || n > 10000))) {
		fprintf(stderr, "usage: dumpwait [THREADS]  (1 to 10000, default 100)\n");
		return 2;
	}
	alarm(600);
	b = calloc((size_t)n, sizeof(*b));
	if (!b)
		die("calloc", ENOMEM);
	pthread_mutex_lock(&gate);
	for (long i = 0; i < n; i++) {
		int rc;

		pthread_mutex_init(&b[i].own, NULL);
		rc = pthread_create(&b[i].thread, NULL, blocked_main, &b[i]);
		if (rc)
			die("pthread_create", rc);
	}
	for (long i = 0; i < n; i++) {
		struct timespec ms = {0, 1000000};

		while (atomic_load(&started) < n || !b[i].tid || !sleeping(b[i].tid))
			nanosleep(&ms, NULL);
	}
	printf("ready %d %ld\n", (int)getpid(), n);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	pthread_mutex_unlock(&gate);
	for (long i = 0; i < n; i++)
		pthread_join(b[i].thread, NULL);
	return 0;
}
