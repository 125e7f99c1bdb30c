/*
 * Deep nesting: one thread holds 300 locks at once (Helgrind's t2t holds 310),
 * in ascending order, twice; a second thread does the same. Nothing to
 * report. Then the last lock is taken before the first: one inversion, so
 * tracking still works past 300 held locks.
 */
#include <pthread.h>
#include <stdio.h>

#define N 300

static pthread_mutex_t locks[N];

static void *
ascend(void *arg)
{
	(void)arg;
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++)
			pthread_mutex_lock(&locks[i]);
		for (int i = N - 1; i >= 0; i--)
			pthread_mutex_unlock(&locks[i]);
	}
	return NULL;
}

static void *
invert(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&locks[N - 1]);
	pthread_mutex_lock(&locks[0]);
	pthread_mutex_unlock(&locks[0]);
	pthread_mutex_unlock(&locks[N - 1]);
	return NULL;
}

int
main(void)
{
	pthread_t t;

	for (int i = 0; i < N; i++)
		pthread_mutex_init(&locks[i], NULL);
	for (int k = 0; k < 2; k++) {
		pthread_create(&t, NULL, ascend, NULL);
		pthread_join(t, NULL);
	}
	puts("ascending done");
	fflush(stdout);
	pthread_create(&t, NULL, invert, NULL);
	pthread_join(t, NULL);
	puts("done");
	return 0;
}
