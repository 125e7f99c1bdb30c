/*
 * Dining philosophers: each takes the fork on the left, then the one on the
 * right. They eat one after another here, so this run cannot hang, but the
 * five orders form a cycle and lockhound reports it.
 *
 *   lockhound run -- examples/philosophers          a cycle of five forks
 *   lockhound run -- examples/philosophers waiter   silent
 *
 * With "waiter", a philosopher asks the waiter (a lock held while picking up
 * both forks) first: the waiter is a gate lock, so no deadlock is possible.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define N 5

static pthread_mutex_t forks[N];
static pthread_mutex_t waiter = PTHREAD_MUTEX_INITIALIZER;
static int with_waiter, meals;

static void *
dine(void *arg)
{
	int left = (int)(long)arg, right = (left + 1) % N;

	if (with_waiter)
		pthread_mutex_lock(&waiter);
	pthread_mutex_lock(&forks[left]);
	pthread_mutex_lock(&forks[right]);
	if (with_waiter)
		pthread_mutex_unlock(&waiter);
	meals++;
	pthread_mutex_unlock(&forks[right]);
	pthread_mutex_unlock(&forks[left]);
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t t;

	with_waiter = argc > 1 && strcmp(argv[1], "waiter") == 0;
	for (int i = 0; i < N; i++)
		pthread_mutex_init(&forks[i], NULL);
	for (long i = 0; i < N; i++) {
		pthread_create(&t, NULL, dine, (void *)i);
		pthread_join(t, NULL);
	}
	printf("%d meals\n", meals);
	return 0;
}
