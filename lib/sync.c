/*
 * The runtime's own mutex: a three-state futex lock (Drepper, "Futexes Are
 * Tricky", mutex3). It never goes through pthread, so taking it cannot
 * recurse into our own wrappers, and it has no owner bookkeeping to undo
 * after fork: the child simply resets it. Uncontended lock and unlock are
 * one atomic instruction each. Also the clocks and gettid, as raw calls.
 */
#include "config.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lockhound-private.h"

/* errno kept: a wait that finds the word changed fails with EAGAIN, and
 * the lock calls of the program, where the runtime's mutexes are taken,
 * must leave errno as glibc left it. */
static long
futex(_Atomic int *uaddr, int op, int val)
{
	int err = errno;
	long rc = syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);

	errno = err;
	return rc;
}

/* Not async-signal-safe: a handler must not take a runtime mutex. */
void
lh_mutex_lock(lh_mutex_t *mu)
{
	int c = 0;

	if (atomic_compare_exchange_strong_explicit(&mu->state, &c, 1, memory_order_acquire,
						    memory_order_relaxed))
		return;
	/* Spin briefly: the runtime's critical sections are short. */
	for (int i = 0; i < 100; i++) {
		c = 0;
		if (atomic_load_explicit(&mu->state, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_weak_explicit(&mu->state, &c, 1,
							  memory_order_acquire,
							  memory_order_relaxed))
			return;
		__builtin_ia32_pause();
	}
	c = atomic_exchange_explicit(&mu->state, 2, memory_order_acquire);
	while (c != 0) {
		futex(&mu->state, FUTEX_WAIT_PRIVATE, 2);
		c = atomic_exchange_explicit(&mu->state, 2, memory_order_acquire);
	}
}

/* async-signal-safe: one compare-and-swap. */
bool
lh_mutex_trylock(lh_mutex_t *mu)
{
	int c = 0;

	return atomic_compare_exchange_strong_explicit(&mu->state, &c, 1, memory_order_acquire,
						       memory_order_relaxed);
}

/* async-signal-safe: an exchange and maybe a futex wake. */
void
lh_mutex_unlock(lh_mutex_t *mu)
{
	if (atomic_exchange_explicit(&mu->state, 0, memory_order_release) == 2)
		futex(&mu->state, FUTEX_WAKE_PRIVATE, 1);
}

/* For the child after fork: whoever held it does not exist there. */
void
lh_mutex_reset(lh_mutex_t *mu)
{
	atomic_store_explicit(&mu->state, 0, memory_order_relaxed);
}

/* async-signal-safe */
pid_t
lh_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* async-signal-safe: clock_gettime is on the POSIX list. */
uint64_t
lh_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* async-signal-safe */
uint64_t
lh_realtime_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

_Atomic uint32_t lh_tick_ms;
uint64_t lh_tick_origin_ns; /* set once at start-up, 1 ms in the past: 0 means "never" */

/* Moves the coarse clock to now and returns it (ms since start-up). */
uint32_t
lh_tick_update(void)
{
	uint32_t ms;

	if (!lh_tick_origin_ns)
		lh_tick_origin_ns = lh_now_ns() - 1000000;
	ms = (uint32_t)((lh_now_ns() - lh_tick_origin_ns) / 1000000);
	atomic_store_explicit(&lh_tick_ms, ms, memory_order_relaxed);
	return ms;
}

/* fn(value) runs when the calling thread exits; without the key (it could
 * not be made, or another thread is making it right now) it does not. */
void
lh_exit_key_set(struct lh_exit_key *k, void *value)
{
	int s = 0;

	if (atomic_load_explicit(&k->state, memory_order_acquire) == 0 &&
	    atomic_compare_exchange_strong(&k->state, &s, 3))
		atomic_store(&k->state, pthread_key_create(&k->key, k->fn) == 0 ? 1 : 2);
	if (atomic_load(&k->state) == 1)
		pthread_setspecific(k->key, value);
}
