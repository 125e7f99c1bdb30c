/*
 * lh_assert_held() and its reader/writer variants, on locks that are and are
 * not held by the calling thread. Runs unchanged without the runtime.
 *
 *   assert-held held       every assertion true: silent
 *   assert-held unheld     the balance updated without its lock: reported
 *   assert-held other      the lock held, but by another thread: reported
 *   assert-held rwlock     rdheld under the read lock (silent), wrheld under
 *                          it (reported)
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "lockhound.h"

static pthread_mutex_t balance_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rates_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_barrier_t barrier;
static long balance;
static long rate = 3;

/* Callers must hold balance_lock. */
__attribute__((noinline)) static void
update_balance(long delta)
{
	lh_assert_held(&balance_lock);
	lh_assert_wrheld(&balance_lock);
	balance += delta;
}

__attribute__((noinline)) static long
read_rate(void)
{
	lh_assert_rdheld(&rates_lock);
	return rate;
}

__attribute__((noinline)) static void
set_rate(long r)
{
	lh_assert_wrheld(&rates_lock);
	rate = r;
}

static void *
holder(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&balance_lock);
	pthread_barrier_wait(&barrier);
	pthread_barrier_wait(&barrier);
	pthread_mutex_unlock(&balance_lock);
	return NULL;
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "held";

	if (strcmp(mode, "held") == 0) {
		for (int i = 0; i < 3; i++) {
			pthread_mutex_lock(&balance_lock);
			update_balance(10);
			pthread_mutex_unlock(&balance_lock);
		}
		pthread_rwlock_wrlock(&rates_lock);
		set_rate(4);
		pthread_rwlock_unlock(&rates_lock);
		pthread_rwlock_rdlock(&rates_lock);
		balance += read_rate();
		pthread_rwlock_unlock(&rates_lock);
	} else if (strcmp(mode, "unheld") == 0) {
		for (int i = 0; i < 3; i++)
			update_balance(10); /* the bug: no lock */
	} else if (strcmp(mode, "other") == 0) {
		pthread_t t;

		pthread_barrier_init(&barrier, NULL, 2);
		pthread_create(&t, NULL, holder, NULL);
		pthread_barrier_wait(&barrier);
		update_balance(10); /* held, but not by us */
		pthread_barrier_wait(&barrier);
		pthread_join(t, NULL);
	} else if (strcmp(mode, "rwlock") == 0) {
		pthread_rwlock_rdlock(&rates_lock);
		balance += read_rate();
		set_rate(5); /* the bug: a write under the read lock */
		pthread_rwlock_unlock(&rates_lock);
	}
	printf("balance=%ld\n", balance);
	return 0;
}
