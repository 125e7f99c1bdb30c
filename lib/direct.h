/*
 * A normal mutex (kind 0: PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_NORMAL or
 * DEFAULT, private, no elision) taken and released inline, with glibc's own
 * protocol, instead of through a call into glibc's general functions (a
 * switch on the kind; 36 and 25 instructions, half of a lock+unlock under
 * the runtime). The lock word is 0 (free), 1 (held) or 2 (held, maybe
 * sleepers): trylock is a compare-and-swap 0 -> 1, then the owner's tid and
 * the user count, as glibc's does; release clears the owner, counts the
 * user out and swaps the word to 0, and whoever sees 2 come back wakes one
 * sleeper, as glibc's does. Waiters still sleep in glibc (contended paths,
 * condition variables), on the same word.
 *
 * Only where it was checked: at start-up lh_intercept_direct_init()
 * (intercept.c) runs a mutex through glibc's calls and these and compares
 * every field; any difference, libtsan in the process (which must see
 * every call) or inline_mutex=0 leaves lh_direct_kind at -1, a kind no
 * mutex has, and every call goes to glibc.
 */
#ifndef LOCKHOUND_DIRECT_H
#define LOCKHOUND_DIRECT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

/* Normal mutexes' kind while they are taken inline, else -1. */
extern _Atomic int lh_direct_kind;

static inline bool
lh_direct(const pthread_mutex_t *m)
{
	return m->__data.__kind == atomic_load_explicit(&lh_direct_kind, memory_order_relaxed);
}

/* tid: the caller's. */
static inline bool
lh_direct_trylock(pthread_mutex_t *m, pid_t tid)
{
	int free_ = 0;

	if (!__atomic_compare_exchange_n(&m->__data.__lock, &free_, 1, false, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		return false;
	m->__data.__owner = tid;
	++m->__data.__nusers;
	return true;
}

/* Releases m; returns the old lock word: 2 asks for lh_direct_wake(). */
static inline int
lh_direct_release(pthread_mutex_t *m)
{
	m->__data.__owner = 0;
	--m->__data.__nusers;
	return __atomic_exchange_n(&m->__data.__lock, 0, __ATOMIC_RELEASE);
}

/* Wakes one thread asleep on m's word (errno kept). */
void lh_direct_wake(pthread_mutex_t *m);

#endif /* LOCKHOUND_DIRECT_H */
