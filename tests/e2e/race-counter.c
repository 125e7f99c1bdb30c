/*
 * Two threads add 200,000 each to a shared counter, in 100 rounds that start
 * together at a barrier, so that they really overlap. Build with
 * -fsanitize=thread and link with lockhound (lockhound-cc).
 *
 *   race-counter racy      counter++ with no lock: a data race
 *   race-counter locked    under one mutex: no race
 *   race-counter atomic    a C11 atomic counter: no race
 *   race-counter rwlock    one thread writes holding the read lock while the
 *                          other reads holding it too: a data race
 *   race-counter twolocks  each thread holds its own mutex: a data race,
 *                          reported with the lock each side held
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS 100
#define PER_ROUND 2000

static int counter;
static atomic_int atomic_counter;
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t left_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t right_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_barrier_t start;
static const char *mode;

__attribute__((noinline)) static void
increment(void)
{
	counter++;
}

__attribute__((noinline)) static int
peek(void)
{
	return counter;
}

static void *
worker(void *arg)
{
	int id = (int)(long)arg, seen = 0;

	for (int r = 0; r < ROUNDS; r++) {
		pthread_barrier_wait(&start);
		for (int i = 0; i < PER_ROUND; i++) {
			if (strcmp(mode, "racy") == 0) {
				increment();
			} else if (strcmp(mode, "locked") == 0) {
				pthread_mutex_lock(&counter_lock);
				increment();
				pthread_mutex_unlock(&counter_lock);
			} else if (strcmp(mode, "atomic") == 0) {
				atomic_fetch_add(&atomic_counter, 1);
				seen += atomic_load_explicit(&atomic_counter, memory_order_acquire) > 0;
			} else if (strcmp(mode, "rwlock") == 0) {
				pthread_rwlock_rdlock(&table_lock);
				if (id == 0)
					increment(); /* the bug: a write under the read lock */
				else
					seen += peek() > 0;
				pthread_rwlock_unlock(&table_lock);
			} else {
				pthread_mutex_t *mine = id == 0 ? &left_lock : &right_lock;

				pthread_mutex_lock(mine);
				increment();
				pthread_mutex_unlock(mine);
			}
		}
	}
	return (void *)(long)seen;
}

int
main(int argc, char **argv)
{
	pthread_t t[2];

	mode = argc > 1 ? argv[1] : "racy";
	pthread_barrier_init(&start, NULL, 2);
	for (long i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	if (strcmp(mode, "atomic") == 0)
		printf("counter=%d\n", atomic_load(&atomic_counter));
	else if (strcmp(mode, "locked") == 0)
		printf("counter=%d\n", counter);
	else
		printf("done\n");
	return 0;
}
