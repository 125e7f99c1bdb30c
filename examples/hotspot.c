/*
 * A contention hot spot: four workers update a shared histogram under one
 * lock and do slow work while holding it; a fifth thread takes its own
 * counter lock far more often but never waits. lockhound's contention
 * profile shows which lock costs time, and where.
 *
 *   lockhound run --log_path=hotspot.log -- examples/hotspot
 *   lockhound stats hotspot.log
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>

static pthread_mutex_t histogram_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static long histogram[16], counter;

static void *
worker(void *arg)
{
	struct timespec slow = {0, 100 * 1000};

	for (int i = 0; i < 200; i++) {
		pthread_mutex_lock(&histogram_lock);
		histogram[(i + (long)arg) % 16]++;
		nanosleep(&slow, NULL); /* the hot spot: slow work under the lock */
		pthread_mutex_unlock(&histogram_lock);
	}
	return NULL;
}

static void *
count(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100000; i++) {
		pthread_mutex_lock(&counter_lock);
		counter++;
		pthread_mutex_unlock(&counter_lock);
	}
	return NULL;
}

int
main(void)
{
	pthread_t t[5];

	for (long i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	pthread_create(&t[4], NULL, count, NULL);
	for (int i = 0; i < 5; i++)
		pthread_join(t[i], NULL);
	printf("counter %ld\n", counter);
	return 0;
}
