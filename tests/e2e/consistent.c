/*
 * Many threads, 1000 heap objects whose mutexes all come from one init line
 * (one class), always locked in ascending order, two and three deep, plus
 * recursive re-entry. No cycle exists: expected silence.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define NOBJ 1000
#define NTHREADS 8

struct obj {
	pthread_mutex_t mu;
	long value;
};

static struct obj *objs[NOBJ];
static pthread_mutex_t outer;

static void *
worker(void *arg)
{
	unsigned seed = (unsigned)(long)arg;

	for (int n = 0; n < 20000; n++) {
		int i = rand_r(&seed) % NOBJ, j = rand_r(&seed) % NOBJ, k;

		if (i == j)
			continue;
		if (i > j) {
			k = i;
			i = j;
			j = k;
		}
		pthread_mutex_lock(&outer);
		pthread_mutex_lock(&outer); /* recursive re-entry */
		pthread_mutex_lock(&objs[i]->mu);
		pthread_mutex_lock(&objs[j]->mu);
		objs[i]->value--;
		objs[j]->value++;
		pthread_mutex_unlock(&objs[j]->mu);
		pthread_mutex_unlock(&objs[i]->mu);
		pthread_mutex_unlock(&outer);
		pthread_mutex_unlock(&outer);
	}
	return NULL;
}

int
main(void)
{
	pthread_t t[NTHREADS];
	pthread_mutexattr_t attr;
	long sum = 0;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&outer, &attr);
	for (int i = 0; i < NOBJ; i++) {
		objs[i] = calloc(1, sizeof(*objs[i]));
		pthread_mutex_init(&objs[i]->mu, NULL); /* one init site for all */
	}
	for (long i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)(i + 1));
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < NOBJ; i++)
		sum += objs[i]->value;
	printf("sum=%ld\n", sum);
	return sum != 0;
}
