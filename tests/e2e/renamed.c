/*
 * A thread's name as it was when it took an order: main takes A then B,
 * renames itself with pthread_setname_np, then takes B then A (one thread,
 * so no hang; reported as an inversion whose two orders name the thread
 * differently).
 */
#define _GNU_SOURCE
#include <pthread.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;

static void
take(pthread_mutex_t *first, pthread_mutex_t *second)
{
	pthread_mutex_lock(first);
	pthread_mutex_lock(second);
	pthread_mutex_unlock(second);
	pthread_mutex_unlock(first);
}

int
main(void)
{
	pthread_setname_np(pthread_self(), "before");
	take(&lock_a, &lock_b);
	pthread_setname_np(pthread_self(), "after");
	take(&lock_b, &lock_a);
	return 0;
}
