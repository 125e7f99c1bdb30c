/*
 * Per-object read-write locks, more than a thread's statistics slots, read
 * by four threads at once, with writers now and then, while each thread
 * also makes objects, takes their locks and destroys them (their memory
 * comes back for the next ones). Every object's lock is made by obj_new().
 * Expected: the class row of obj_new's locks counts every acquisition,
 * LIVE * ROUNDS * THREADS + THREADS * SHORT * 10, with SHORT * THREADS of
 * them destroyed; no finding; the writers' counts add up.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 4
#define LIVE 512
#define ROUNDS 20
#define SHORT 200

struct obj {
	pthread_rwlock_t lock;
	long n;
};

static struct obj *live[LIVE];

__attribute__((noinline)) static struct obj *
obj_new(void)
{
	struct obj *o = calloc(1, sizeof(*o));

	if (!o || pthread_rwlock_init(&o->lock, NULL) != 0)
		abort();
	return o;
}

/* One acquisition of o: a read, or every fourth time a write. */
__attribute__((noinline)) static void
obj_use(struct obj *o, int i)
{
	if (i % 4 == 0) {
		pthread_rwlock_wrlock(&o->lock);
		o->n++;
	} else {
		pthread_rwlock_rdlock(&o->lock);
	}
	pthread_rwlock_unlock(&o->lock);
}

static void *
worker(void *arg)
{
	long me = (long)arg;

	for (int r = 0; r < ROUNDS; r++)
		for (int i = 0; i < LIVE; i++)
			obj_use(live[(i + me * 97) % LIVE], i + r);
	for (int s = 0; s < SHORT; s++) {
		struct obj *o = obj_new();

		for (int i = 0; i < 10; i++)
			obj_use(o, i);
		pthread_rwlock_destroy(&o->lock);
		free(o);
	}
	return NULL;
}

int
main(void)
{
	pthread_t th[THREADS];
	long writes = 0;

	for (int i = 0; i < LIVE; i++)
		live[i] = obj_new();
	for (long k = 0; k < THREADS; k++)
		pthread_create(&th[k], NULL, worker, (void *)k);
	for (int k = 0; k < THREADS; k++)
		pthread_join(th[k], NULL);
	for (int i = 0; i < LIVE; i++)
		writes += live[i]->n;
	printf("writes=%ld\n", writes);
	return 0;
}
