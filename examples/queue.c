/*
 * A producer-consumer queue on a condition variable.
 *
 *   lockhound run -- examples/queue          used correctly: silent
 *   lockhound run -- examples/queue shared   misuse: cond-mutex-mismatch
 *
 * With "shared", a second consumer waits on the same condition variable but
 * with its own mutex: POSIX leaves that undefined, and a wake-up can be lost.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t other_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static int items, taken, waiting;

static void *
consume(void *arg)
{
	pthread_mutex_t *lock = arg;

	pthread_mutex_lock(lock);
	__atomic_add_fetch(&waiting, 1, __ATOMIC_SEQ_CST);
	while (items == 0)
		pthread_cond_wait(&not_empty, lock);
	items--;
	taken++;
	pthread_mutex_unlock(lock);
	return NULL;
}

int
main(int argc, char **argv)
{
	int shared = argc > 1 && strcmp(argv[1], "shared") == 0, n = shared ? 2 : 1;
	pthread_t t[2];

	pthread_create(&t[0], NULL, consume, &queue_lock);
	if (shared)
		pthread_create(&t[1], NULL, consume, &other_lock);
	for (int ready = 0; ready < n;) { /* until every consumer waits */
		pthread_mutex_lock(&queue_lock); /* free only while its waiter waits */
		pthread_mutex_lock(&other_lock);
		ready = __atomic_load_n(&waiting, __ATOMIC_SEQ_CST);
		pthread_mutex_unlock(&other_lock);
		pthread_mutex_unlock(&queue_lock);
	}
	pthread_mutex_lock(&queue_lock);
	items = n;
	pthread_cond_broadcast(&not_empty);
	pthread_mutex_unlock(&queue_lock);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	puts(taken > 0 ? "items taken" : "nothing taken");
	return 0;
}
