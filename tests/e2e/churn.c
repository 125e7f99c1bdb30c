/*
 * Locks of one class: every object's mutex is made by obj_new(). Four
 * objects live to the end, each taken 2,000 times by two threads; six are
 * taken 100 times each and destroyed (three by main, three by a thread that
 * then exits). Expected: four lock rows of 2,000, and one class row of ten
 * locks (six destroyed) and 8,600 acquisitions.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

struct obj {
	pthread_mutex_t lock;
	long n;
};

static struct obj *live[4];

__attribute__((noinline)) static struct obj *
obj_new(void)
{
	struct obj *o = calloc(1, sizeof(*o));

	pthread_mutex_init(&o->lock, NULL);
	return o;
}

__attribute__((noinline)) static void
obj_use(struct obj *o, int times)
{
	for (int i = 0; i < times; i++) {
		pthread_mutex_lock(&o->lock);
		o->n++;
		pthread_mutex_unlock(&o->lock);
	}
}

static void
short_lived(void)
{
	for (int i = 0; i < 3; i++) {
		struct obj *o = obj_new();

		obj_use(o, 100);
		pthread_mutex_destroy(&o->lock);
		free(o);
	}
}

static void *
worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 4; i++)
		obj_use(live[i], 1000);
	return NULL;
}

static void *
churner(void *arg)
{
	(void)arg;
	short_lived();
	return NULL;
}

int
main(void)
{
	pthread_t t[3];
	long total = 0;

	for (int i = 0; i < 4; i++)
		live[i] = obj_new();
	pthread_create(&t[0], NULL, worker, NULL);
	pthread_create(&t[1], NULL, worker, NULL);
	pthread_create(&t[2], NULL, churner, NULL);
	short_lived();
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 4; i++)
		total += live[i]->n;
	printf("live total=%ld\n", total);
	return 0;
}
