/*
 * The textbook data race: counter += 1 from two threads without a lock.
 * Updates are lost, silently. Built with -fsanitize=thread and linked with
 * lockhound instead of libtsan, the race is caught in the act.
 *
 *   lockhound-cc -o counter examples/counter.c && ./counter
 *   ./counter fixed      the same with a mutex: silent
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static long counter;
static int fixed;
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start;

static void *
add(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&start);
	for (int i = 0; i < 200000; i++) {
		if (fixed)
			pthread_mutex_lock(&counter_lock);
		counter += 1;
		if (fixed)
			pthread_mutex_unlock(&counter_lock);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t a, b;

	fixed = argc > 1 && strcmp(argv[1], "fixed") == 0;
	pthread_barrier_init(&start, NULL, 2);
	pthread_create(&a, NULL, add, NULL);
	pthread_create(&b, NULL, add, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	printf("counter = %ld (expected 400000)\n", counter);
	return 0;
}
