/*
 * Contention profiling: hot_lock is fought over by four threads that each
 * hold it for a while (a short sleep: the others must wait, even on one
 * core); busy_lock is taken 200,000 times by one thread and never waited
 * for. Expected: hot_lock first by wait, busy_lock first by acquisitions.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <time.h>

static pthread_mutex_t hot_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t busy_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start;
static long hot_count, busy_count;

__attribute__((noinline)) static void *
fight(void *arg)
{
	struct timespec nap = {0, 200 * 1000};

	(void)arg;
	pthread_barrier_wait(&start);
	for (int i = 0; i < 100; i++) {
		pthread_mutex_lock(&hot_lock);
		hot_count++;
		nanosleep(&nap, NULL); /* hold it a while */
		pthread_mutex_unlock(&hot_lock);
	}
	return NULL;
}

__attribute__((noinline)) static void *
churn(void *arg)
{
	(void)arg;
	for (int i = 0; i < 200000; i++) {
		pthread_mutex_lock(&busy_lock);
		busy_count++;
		pthread_mutex_unlock(&busy_lock);
	}
	return NULL;
}

int
main(void)
{
	pthread_t t[5];

	pthread_barrier_init(&start, NULL, 4);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, fight, NULL);
	pthread_create(&t[4], NULL, churn, NULL);
	for (int i = 0; i < 5; i++)
		pthread_join(t[i], NULL);
	printf("hot=%ld busy=%ld\n", hot_count, busy_count);
	return 0;
}
