/*
 * AB/BA in two threads that never overlap (joined in between): the run
 * cannot hang, yet the orders form a cycle. Expected: one
 * lock-order-inversion naming lock_a and lock_b, with both stacks per edge
 * (take_a_then_b and take_b_then_a).
 */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static int shared;

__attribute__((noinline)) static void
take_a_then_b(void)
{
	pthread_mutex_lock(&lock_a);
	pthread_mutex_lock(&lock_b);
	shared++;
	pthread_mutex_unlock(&lock_b);
	pthread_mutex_unlock(&lock_a);
}

__attribute__((noinline)) static void
take_b_then_a(void)
{
	pthread_mutex_lock(&lock_b);
	pthread_mutex_lock(&lock_a);
	shared++;
	pthread_mutex_unlock(&lock_a);
	pthread_mutex_unlock(&lock_b);
}

static void *
first(void *arg)
{
	(void)arg;
	for (int i = 0; i < 3; i++)
		take_a_then_b();
	return NULL;
}

static void *
second(void *arg)
{
	(void)arg;
	for (int i = 0; i < 3; i++)
		take_b_then_a();
	return NULL;
}

int
main(void)
{
	pthread_t t;

	pthread_create(&t, NULL, first, NULL);
	pthread_join(t, NULL);
	pthread_create(&t, NULL, second, NULL);
	pthread_join(t, NULL);
	printf("shared=%d\n", shared);
	return 0;
}
