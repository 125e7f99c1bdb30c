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
 * every call) or inline_locks=0 leaves lh_direct_kind at -1, a kind no
 * mutex has, and every call goes to glibc.
 */
#ifndef LOCKHOUND_DIRECT_H
#define LOCKHOUND_DIRECT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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

/*
 * Read locks of a read-write lock, the same way: glibc's __readers word
 * holds the reader count from bit 3 and three flags (write phase, a writer
 * owns or claims the lock, readers wait). A reader enters with a
 * compare-and-swap that adds one reader in a read phase no writer has
 * claimed, as glibc's tryrdlock does; it leaves by taking one off, as
 * glibc's unlock does, unless it is the last reader and a writer or
 * readers wait (then glibc's unlock, which starts the write phase and
 * wakes). Anything else is glibc's: these answer false and change nothing.
 */
#define LH_RW_WRPHASE 1u
#define LH_RW_WRLOCKED 2u
#define LH_RW_RWAITING 4u
#define LH_RW_READER 8u
#define LH_RW_OVERFLOW (1u << 31)

extern _Atomic bool lh_direct_rw; /* read locks taken inline */

static inline bool
lh_direct_rdtry(pthread_rwlock_t *rw)
{
	unsigned r = __atomic_load_n(&rw->__data.__readers, __ATOMIC_RELAXED);

	if (!atomic_load_explicit(&lh_direct_rw, memory_order_relaxed) ||
	    (r & (LH_RW_WRPHASE | LH_RW_WRLOCKED)) != 0 || r + LH_RW_READER >= LH_RW_OVERFLOW)
		return false;
	return __atomic_compare_exchange_n(&rw->__data.__readers, &r, r + LH_RW_READER, false,
					   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

/* The caller holds a read lock of rw. */
static inline bool
lh_direct_rdunlock(pthread_rwlock_t *rw)
{
	unsigned r = __atomic_load_n(&rw->__data.__readers, __ATOMIC_RELAXED);

	if (!atomic_load_explicit(&lh_direct_rw, memory_order_relaxed) ||
	    (r & LH_RW_WRPHASE) != 0 || r < LH_RW_READER ||
	    (r < 2 * LH_RW_READER && (r & (LH_RW_WRLOCKED | LH_RW_RWAITING)) != 0))
		return false;
	return __atomic_compare_exchange_n(&rw->__data.__readers, &r, r - LH_RW_READER, false,
					   __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

/*
 * The runtime's node of a normal mutex, kept in the mutex itself: glibc
 * links a mutex through __data.__list only while a robust mutex is held,
 * and pthread_mutex_init and PTHREAD_MUTEX_INITIALIZER zero it (the
 * start-up check makes sure glibc's calls leave it alone). A lookup in the
 * lock table costs a cache miss on the bucket and then one on the node
 * (which tells whether it is this lock's); the two words give the node and
 * its id without either.
 *
 * The first word is the node, the second the id (below 2^40) above 24 bits
 * of the mutex's own address, both scrambled with a key random per process
 * (so that ordinary data does not look like a node). A copy of the mutex
 * elsewhere (which POSIX does not allow, but happens) shows another address
 * in those bits, unless the two are a multiple of 128 MiB apart, and is
 * looked up in the table; zeroed words mean "not known yet".
 */
#define LH_DIRECT_ID_BITS 40
#define LH_DIRECT_ADDR_MASK 0xffffffull /* address bits 3-26 */
extern uint64_t lh_direct_key;
extern uintptr_t lh_direct_mask; /* what the node's address is scrambled with */

static inline uint64_t
lh_direct_where(const void *lock)
{
	return (uint64_t)(uintptr_t)lock >> 3 & LH_DIRECT_ADDR_MASK;
}

/* The two words of a lock that name its node, read and written whole. */
typedef uint64_t __attribute__((may_alias)) lh_word;

/* The node (*lk) and its id named by words w0 and w1 of the lock at addr,
 * if they name one. */
static inline bool
lh_name_get(const lh_word *w0, const lh_word *w1, const void *addr, struct lh_lock **lk,
	    uint64_t *id)
{
	uintptr_t n = (uintptr_t)__atomic_load_n(w0, __ATOMIC_RELAXED);
	uint64_t x = __atomic_load_n(w1, __ATOMIC_RELAXED) ^ lh_direct_key;

	if (n == 0 || (x & LH_DIRECT_ADDR_MASK) != lh_direct_where(addr))
		return false;
	*id = x >> 24;
	*lk = (struct lh_lock *)(n ^ lh_direct_mask);
	return true;
}

static inline void
lh_name_set(lh_word *w0, lh_word *w1, const void *addr, const struct lh_lock *lk, uint64_t id)
{
	if (id >> LH_DIRECT_ID_BITS)
		return; /* a trillion locks made: the table it is */
	/* Relaxed atomics: another thread may look meanwhile (and write the
	 * same words). */
	__atomic_store_n(w0, (uint64_t)((uintptr_t)lk ^ lh_direct_mask), __ATOMIC_RELAXED);
	__atomic_store_n(w1, (id << 24 | lh_direct_where(addr)) ^ lh_direct_key,
			 __ATOMIC_RELAXED);
}

static inline void
lh_name_clear(lh_word *w0, lh_word *w1)
{
	__atomic_store_n(w0, 0, __ATOMIC_RELAXED);
	__atomic_store_n(w1, 0, __ATOMIC_RELAXED);
}

/* A mutex's words: __list.__prev and __list.__next. */
#define LH_MUTEX_W0(m) ((lh_word *)(uintptr_t) & (m)->__data.__list.__prev)
#define LH_MUTEX_W1(m) ((lh_word *)(uintptr_t) & (m)->__data.__list.__next)

/* m's node (*lk) and its id, if it has them. */
static inline bool
lh_direct_decode(const pthread_mutex_t *m, struct lh_lock **lk, uint64_t *id)
{
	return lh_name_get(LH_MUTEX_W0(m), LH_MUTEX_W1(m), m, lk, id);
}

/* m's node and its id, or NULL. */
static inline struct lh_lock *
lh_direct_node(const pthread_mutex_t *m, uint64_t *id)
{
	struct lh_lock *lk;

	return lh_direct_decode(m, &lk, id) ? lk : NULL;
}

static inline void
lh_direct_set_node(pthread_mutex_t *m, struct lh_lock *lk, uint64_t id)
{
	lh_name_set(LH_MUTEX_W0(m), LH_MUTEX_W1(m), m, lk, id);
}

static inline void
lh_direct_clear_node(pthread_mutex_t *m)
{
	lh_name_clear(LH_MUTEX_W0(m), LH_MUTEX_W1(m));
}

/*
 * Mutexes of the other plain kinds (recursive, error-checking, adaptive:
 * private, not robust, no protocol), and C11 mutexes (a pthread_mutex_t
 * inside), keep the name in __list too, where the start-up check finds
 * that glibc's calls of each kind leave it (lh_mutex_named_on); they are
 * still taken through glibc's calls. A normal mutex taken inline always
 * does.
 */
extern _Atomic bool lh_mutex_named_on;

/* The kind bits of those: the type, and glibc's "no elision" flag, which
 * its init sets for an explicit PTHREAD_MUTEX_NORMAL. */
#define LH_MUTEX_NAMED_KINDS (3 | 512)

static inline bool
lh_mutex_named(const pthread_mutex_t *m)
{
	return lh_direct(m) || ((m->__data.__kind & ~LH_MUTEX_NAMED_KINDS) == 0 &&
				atomic_load_explicit(&lh_mutex_named_on, memory_order_relaxed));
}

/*
 * A read-write lock names its node the same way, in two words that glibc
 * reserves and never writes: __pad3 with __pad4 (one 8-byte word) and
 * __pad2. pthread_rwlock_init and PTHREAD_RWLOCK_INITIALIZER zero them, and
 * the start-up check makes sure glibc's calls leave them alone
 * (lh_rw_named_on). Only in a process-private lock: another process's
 * runtime has another key, and would read a node out of ours.
 */
extern _Atomic bool lh_rw_named_on;

_Static_assert(offsetof(pthread_rwlock_t, __data.__pad4) ==
		       offsetof(pthread_rwlock_t, __data.__pad3) + 4 &&
		       offsetof(pthread_rwlock_t, __data.__pad3) % 8 == 0,
	       "__pad3 and __pad4: one aligned 8-byte word");

#define LH_RW_W0(rw) ((lh_word *)(uintptr_t) & (rw)->__data.__pad3)
#define LH_RW_W1(rw) ((lh_word *)(uintptr_t) & (rw)->__data.__pad2)

static inline bool
lh_rw_named(const pthread_rwlock_t *rw)
{
	return atomic_load_explicit(&lh_rw_named_on, memory_order_relaxed) &&
	       rw->__data.__shared == 0;
}

/* rw's node (*lk) and its id, if it has them; rw is lh_rw_named(). */
static inline bool
lh_rw_decode(const pthread_rwlock_t *rw, struct lh_lock **lk, uint64_t *id)
{
	return lh_name_get(LH_RW_W0(rw), LH_RW_W1(rw), rw, lk, id);
}

#endif /* LOCKHOUND_DIRECT_H */
