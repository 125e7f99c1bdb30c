/*
 * A cycle of 30 locks made by 30 threads, each taking lock i then lock
 * i+1 (mod 30), one after another. Expected: one report whose cycle has 30
 * edges, found when the last order closes it.
 */
#include <pthread.h>
#include <stdio.h>

#define N 30

static pthread_mutex_t locks[N];

static void *
step(void *arg)
{
	int i = (int)(long)arg;

	pthread_mutex_lock(&locks[i]);
	pthread_mutex_lock(&locks[(i + 1) % N]);
	pthread_mutex_unlock(&locks[(i + 1) % N]);
	pthread_mutex_unlock(&locks[i]);
	return NULL;
}

int
main(void)
{
	pthread_t t;

	for (int i = 0; i < N; i++)
		pthread_mutex_init(&locks[i], NULL);
	for (long i = 0; i < N; i++) {
		pthread_create(&t, NULL, step, (void *)i);
		pthread_join(t, NULL);
	}
	puts("done");
	return 0;
}
