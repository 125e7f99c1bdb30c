/*
 * A real deadlock: two threads take the same two locks in opposite orders
 * and meet in the middle (a barrier makes sure they do). Without lockhound
 * the program hangs forever; with on_deadlock=abort it is reported as it
 * happens and aborted, so a CI job fails fast instead of timing out.
 *
 *   lockhound run --on_deadlock=abort -- examples/deadlock
 */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t inventory = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t orders = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t meet;

static void *
restock(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&inventory);
	pthread_barrier_wait(&meet);
	pthread_mutex_lock(&orders); /* waits for ship() forever */
	pthread_mutex_unlock(&orders);
	pthread_mutex_unlock(&inventory);
	return NULL;
}

static void *
ship(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&orders);
	pthread_barrier_wait(&meet);
	pthread_mutex_lock(&inventory); /* waits for restock() forever */
	pthread_mutex_unlock(&inventory);
	pthread_mutex_unlock(&orders);
	return NULL;
}

int
main(void)
{
	pthread_t a, b;

	pthread_barrier_init(&meet, NULL, 2);
	pthread_create(&a, NULL, restock, NULL);
	pthread_create(&b, NULL, ship, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	puts("never printed");
	return 0;
}
