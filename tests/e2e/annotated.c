/*
 * The same annotations for clang's -Wthread-safety and for lockhound: an
 * account whose lock is a capability. add_interest() requires the lock
 * (LH_REQUIRES, checked by clang) and asserts it (lh_assert_held, checked by
 * lockhound). Clean, this passes clang -Wthread-safety -Werror; with
 * -DBROKEN, main() calls add_interest() without the lock, which clang refuses
 * at compile time and which, built by any compiler, lockhound reports at run
 * time.
 */
#include <pthread.h>
#include <stdio.h>

#include "lockhound.h"

struct LH_CAPABILITY("mutex") mutex {
	pthread_mutex_t m;
};

static void mutex_lock(struct mutex *mu) LH_ACQUIRE(mu) LH_NO_THREAD_SAFETY_ANALYSIS;
static void mutex_unlock(struct mutex *mu) LH_RELEASE(mu) LH_NO_THREAD_SAFETY_ANALYSIS;
static void mutex_assert_held(struct mutex *mu) LH_ASSERT_CAPABILITY(mu);

static void
mutex_lock(struct mutex *mu)
{
	pthread_mutex_lock(&mu->m);
}

static void
mutex_unlock(struct mutex *mu)
{
	pthread_mutex_unlock(&mu->m);
}

static void
mutex_assert_held(struct mutex *mu)
{
	lh_assert_held(&mu->m);
}

static struct mutex account_lock = {PTHREAD_MUTEX_INITIALIZER};
static long balance LH_GUARDED_BY(account_lock);

static void add_interest(void) LH_REQUIRES(account_lock);

__attribute__((noinline)) static void
add_interest(void)
{
	mutex_assert_held(&account_lock);
	balance += balance / 100;
}

__attribute__((noinline)) static void
deposit(long amount) LH_EXCLUDES(account_lock)
{
	mutex_lock(&account_lock);
	balance += amount;
	add_interest();
	mutex_unlock(&account_lock);
}

int
main(void)
{
	deposit(100);
#ifdef BROKEN
	add_interest(); /* the bug: without the lock */
#endif
	mutex_lock(&account_lock);
	mutex_assert_held(&account_lock);
	printf("balance=%ld\n", balance);
	mutex_unlock(&account_lock);
	return 0;
}
