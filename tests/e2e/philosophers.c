/*
 * Five dining philosophers, each taking the left fork then the right one.
 * They eat one after another (joined in between), so this run cannot hang;
 * the five orders form one cycle of five: expected one report.
 * With the argument "waiter", every philosopher asks the waiter (a lock held
 * while picking up both forks) first: the waiter is a gate lock, and no
 * deadlock is possible: expected silence.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define N 5

static pthread_mutex_t forks[N] = {
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
};
static pthread_mutex_t waiter = PTHREAD_MUTEX_INITIALIZER;
static int use_waiter, meals;

static void *
philosopher(void *arg)
{
	int i = (int)(long)arg;

	if (use_waiter)
		pthread_mutex_lock(&waiter);
	pthread_mutex_lock(&forks[i]);
	pthread_mutex_lock(&forks[(i + 1) % N]);
	if (use_waiter)
		pthread_mutex_unlock(&waiter);
	meals++;
	pthread_mutex_unlock(&forks[(i + 1) % N]);
	pthread_mutex_unlock(&forks[i]);
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t t;

	use_waiter = argc > 1 && strcmp(argv[1], "waiter") == 0;
	for (long i = 0; i < N; i++) {
		pthread_create(&t, NULL, philosopher, (void *)i);
		pthread_join(t, NULL);
	}
	printf("meals=%d\n", meals);
	return 0;
}
