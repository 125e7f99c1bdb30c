/*
 * A cycle of three locks over three threads: A->B, B->C, C->A. No two
 * threads invert a pair; only the three orders together deadlock.
 * Expected: one report with three edges.
 */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_c = PTHREAD_MUTEX_INITIALIZER;

struct pair {
	pthread_mutex_t *first, *second;
};

static void *
take(void *arg)
{
	struct pair *p = arg;

	pthread_mutex_lock(p->first);
	pthread_mutex_lock(p->second);
	pthread_mutex_unlock(p->second);
	pthread_mutex_unlock(p->first);
	return NULL;
}

int
main(void)
{
	struct pair pairs[3] = {{&lock_a, &lock_b}, {&lock_b, &lock_c}, {&lock_c, &lock_a}};
	pthread_t t;

	for (int i = 0; i < 3; i++) {
		pthread_create(&t, NULL, take, &pairs[i]);
		pthread_join(t, NULL);
	}
	puts("done");
	return 0;
}
