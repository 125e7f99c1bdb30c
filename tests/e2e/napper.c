/*
 * A dump that cuts a sleep short:
 *
 *   napper RTSIG GOFILE [SECONDS]
 *
 * A worker takes nap_lock and sleeps once, for a minute (or SECONDS), and
 * main says after joining it whether the sleep was whole or cut short
 * ("nap: whole", "nap: interrupted"); main waits for it
 * with RTSIG (the runtime's own signal) blocked, so that a dump waits for
 * main's answer a while (it asks /proc twice before giving up on a thread
 * that blocks the signal). The dump's signal cuts the worker's sleep short
 * (EINTR, as for any handler): it lets nap_lock go and ends while the dump
 * waits; main prints "joined" and waits for GOFILE. Expected: the dump
 * shows the worker holding nap_lock, as its stack shows it asleep, not a
 * thread that holds nothing.
 *
 * With SECONDS, main does not block RTSIG, and naps as long itself (one
 * nanosleep) before it joins, and says how that went too ("main nap: ...").
 * A dump with dump_interrupt=0 leaves the worker's sleep alone: it shows
 * the worker holding nap_lock in clock_nanosleep, without a stack, and the
 * sleep is whole; main's is too when the request does not land in main
 * (lockhound dump sends it to the runtime's own thread; kill -USR1's
 * handler runs in main, which gets first go at a process's signal).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t nap_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile pid_t napper_tid;
static time_t nap_seconds = 60;
static int nap_interrupted;

__attribute__((noinline)) static void *
napper(void *arg)
{
	struct timespec nap = {nap_seconds, 0};

	(void)arg;
	pthread_mutex_lock(&nap_lock);
	napper_tid = (pid_t)syscall(SYS_gettid);
	/* once: a signal ends it */
	nap_interrupted = nanosleep(&nap, NULL) != 0 && errno == EINTR;
	pthread_mutex_unlock(&nap_lock);
	return NULL;
}

/* Whether thread tid sleeps in clock_nanosleep or nanosleep right now. */
static int
asleep(pid_t tid)
{
	char path[64], buf[64] = "";
	ssize_t n;
	int fd;
	long nr;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	nr = strtol(buf, NULL, 10);
	return nr == SYS_clock_nanosleep || nr == SYS_nanosleep;
}

int
main(int argc, char **argv)
{
	struct timespec ms = {0, 1000000};
	sigset_t rt;
	pthread_t t;

	if (argc < 3 || argc > 4 || atoi(argv[1]) < SIGRTMIN || atoi(argv[1]) > SIGRTMAX) {
		fprintf(stderr, "usage: napper RTSIG GOFILE [SECONDS]\n");
		return 2;
	}
	if (argc == 4)
		nap_seconds = atoi(argv[3]);
	pthread_create(&t, NULL, napper, NULL);
	sigemptyset(&rt);
	sigaddset(&rt, atoi(argv[1]));
	if (argc == 3)
		pthread_sigmask(SIG_BLOCK, &rt, NULL); /* main only: after the create */
	while (!napper_tid || !asleep(napper_tid))
		nanosleep(&ms, NULL);
	printf("ready\n");
	fflush(stdout);
	if (argc == 4) {
		struct timespec nap = {nap_seconds, 0};
		int cut = nanosleep(&nap, NULL) != 0 && errno == EINTR;

		printf("main nap: %s\n", cut ? "interrupted" : "whole");
	}
	pthread_join(t, NULL);
	printf("nap: %s\njoined\n", nap_interrupted ? "interrupted" : "whole");
	fflush(stdout);
	while (access(argv[2], F_OK) != 0)
		nanosleep(&ms, NULL);
	printf("done\n");
	return 0;
}
