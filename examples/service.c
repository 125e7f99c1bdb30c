/*
 * A hung service: the main thread takes the cache lock and then waits for a
 * reply that does not come (a stuck call); eight named workers queue behind
 * it. kill -USR1 or
 * lockhound dump shows who holds what and who waits, and the service goes on
 * afterwards: once main lets go, every worker finishes.
 *
 *   lockhound run -- examples/service & sleep 1
 *   kill -USR1 $!        (or: lockhound dump $!)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t reply_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reply = PTHREAD_COND_INITIALIZER;
static int served;

/* A call that never gets its reply: it gives up after `seconds`. */
static void
call_backend(int seconds)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += seconds;
	pthread_mutex_lock(&reply_lock);
	while (pthread_cond_timedwait(&reply, &reply_lock, &deadline) == 0)
		;
	pthread_mutex_unlock(&reply_lock);
}

static void *
worker(void *arg)
{
	char name[16];

	snprintf(name, sizeof(name), "worker-%ld", (long)arg);
	pthread_setname_np(pthread_self(), name);
	pthread_mutex_lock(&cache_lock);
	served++;
	pthread_mutex_unlock(&cache_lock);
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t t[8];
	int seconds = argc > 1 ? atoi(argv[1]) : 3;

	pthread_mutex_lock(&cache_lock);
	for (long i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	call_backend(seconds); /* stuck, holding cache_lock */
	pthread_mutex_unlock(&cache_lock);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	printf("%d requests served\n", served);
	return 0;
}
