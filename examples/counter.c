/*
 * The textbook data race: counter += 1 from two threads without a lock.
 * Updates are lost, silently, and no lock checker can see it: no lock is
 * taken. Built with the compiler's -fsanitize=thread instrumentation and
 * linked with lockhound instead of libtsan (lockhound-cc does both), the
 * race is caught in the act.
 *
 *   lockhound-cc -g -o counter examples/counter.c && ./counter
 *   ./counter fixed      each thread counts on its own and adds its count
 *                        under counter_lock: silent, and exact
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define TIMES 1000000

static long counter;
static int fixed;
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start;

static void *
add(void *arg)
{
	long mine = 0;

	(void)arg;
	pthread_barrier_wait(&start);
	if (!fixed) {
		for (int i = 0; i < TIMES; i++)
			counter += 1; /* the race */
		return NULL;
	}
	/* Locking every increment is right too, but then the two threads
	 * mostly wait for each other (lockhound stats shows it). */
	for (int i = 0; i < TIMES; i++)
		mine += 1;
	pthread_mutex_lock(&counter_lock);
	counter += mine;
	pthread_mutex_unlock(&counter_lock);
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
	printf("counter = %ld (expected %d)\n", counter, 2 * TIMES);
	return 0;
}
