/*
 * A service whose workers queue behind a lock held by a sleeping main
 * thread, for thread dumps:
 *
 *   service N GOFILE [lh_dump]
 *
 * main takes queue_lock, starts N workers named worker-1..N
 * (pthread_setname_np), each of which takes queue_lock, counts, and
 * releases it. Once every worker waits (it has announced itself and is
 * asleep in the kernel), main prints "ready"; with "lh_dump" it then calls
 * lh_dump() itself. main then sleeps (holding queue_lock) until GOFILE
 * exists ("-": no wait), releases the lock, and prints how many workers
 * completed. Sleeps are restarted after a dump's signal interrupts them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lockhound.h"

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t own_lock[1000];
static pid_t worker_tid[1000];
static int arrived, served;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

static void
nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000}, rem;

	while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
		ts = rem;
}

__attribute__((noinline)) static void *
worker(void *arg)
{
	int i = (int)(long)arg;
	char name[24]; /* at most "worker-1000" */

	snprintf(name, sizeof(name), "worker-%d", i + 1);
	pthread_setname_np(pthread_self(), name);
	/* A first lock of its own, so that the runtime knows this thread before
	 * it announces itself. */
	pthread_mutex_lock(&own_lock[i]);
	pthread_mutex_unlock(&own_lock[i]);
	worker_tid[i] = (pid_t)syscall(SYS_gettid);
	__atomic_fetch_add(&arrived, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&queue_lock);
	served++;
	pthread_mutex_unlock(&queue_lock);
	return NULL;
}

/* The scheduler state of thread tid ('S' asleep, 'R' running...). */
static char
state_of(pid_t tid)
{
	char path[64], buf[512];
	ssize_t n;
	int fd;
	char *p;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

__attribute__((noinline)) static void
hold_and_sleep(const char *go)
{
	while (strcmp(go, "-") != 0 && access(go, F_OK) != 0)
		nap(20);
}

int
main(int argc, char **argv)
{
	pthread_t *t;
	int n;
	bool all_asleep;

	if (argc < 3 || (n = atoi(argv[1])) < 1 || n > 1000) {
		fprintf(stderr, "usage: service N GOFILE [lh_dump]\n");
		return 2;
	}
	for (int i = 0; i < n; i++)
		pthread_mutex_init(&own_lock[i], NULL);
	t = calloc((size_t)n, sizeof(*t));
	pthread_mutex_lock(&queue_lock);
	for (int i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)(long)i) != 0) {
			fprintf(stderr, "pthread_create failed\n");
			return 1;
		}
	do {
		nap(10);
		all_asleep = __atomic_load_n(&arrived, __ATOMIC_SEQ_CST) == n;
		for (int i = 0; all_asleep && i < n; i++)
			all_asleep = state_of(worker_tid[i]) == 'S';
	} while (!all_asleep);
	printf("ready\n");
	fflush(stdout);
	if (argc > 3 && strcmp(argv[3], "lh_dump") == 0) {
		int rc = lh_dump ? lh_dump() : -1;

		printf("lh_dump=%d\n", rc);
		fflush(stdout);
	}
	hold_and_sleep(argv[2]);
	pthread_mutex_unlock(&queue_lock);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_lock(&count_lock);
	printf("%d workers done\n", served);
	pthread_mutex_unlock(&count_lock);
	free(t);
	return served == n ? 0 : 1;
}
