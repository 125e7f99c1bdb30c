/*
 * A data race: a worker counts the requests it served in a plain long, and
 * the main thread polls that count to show progress. No lock is taken, so
 * a lock checker sees nothing; built with the compiler's -fsanitize=thread
 * instrumentation and linked with lockhound (lockhound-cc does both), the
 * race is caught in the act.
 *
 *   lockhound-cc -g -o counter examples/counter.c && ./counter
 *   ./counter fixed      atomic accesses on both sides: silent
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#define REQUESTS 2000000

static long served;
static int fixed;

static void *
worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < REQUESTS; i++) {
		if (fixed)
			__atomic_fetch_add(&served, 1, __ATOMIC_RELAXED);
		else
			served++; /* the race: the main thread reads it meanwhile */
	}
	return NULL;
}

static long
progress(void)
{
	return fixed ? __atomic_load_n(&served, __ATOMIC_RELAXED) : served;
}

int
main(int argc, char **argv)
{
	pthread_t t;

	fixed = argc > 1 && strcmp(argv[1], "fixed") == 0;
	pthread_create(&t, NULL, worker, NULL);
	while (progress() < REQUESTS)
		sched_yield(); /* a progress bar would go here */
	pthread_join(t, NULL);
	printf("served %ld requests\n", served);
	return 0;
}
