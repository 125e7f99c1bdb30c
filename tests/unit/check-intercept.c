/*
 * Unit tests for lib/intercept.c: the interposed pthread and C11 calls.
 * intercept.c is linked into this program itself, so every lock call made
 * here goes through its wrappers (as with LD_PRELOAD); the tests call the
 * standard functions and look at what the runtime recorded (the thread's
 * held stack) and at what the program got back (glibc's results, errno).
 * The first use of each lock and call site takes the general path, later
 * ones the fast path: each case runs several rounds to cover both.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#include "check-main.h"
#include "check-log.h"
#include "acquire.h"
#include "direct.h"

#define ROUNDS 3

/* glibc's own mutex calls, behind the wrappers (as intercept.c binds them). */
extern int glibc_mutex_lock(pthread_mutex_t *m);
extern int glibc_mutex_trylock(pthread_mutex_t *m);
extern int glibc_mutex_unlock(pthread_mutex_t *m);
__asm__(".symver glibc_mutex_lock, __pthread_mutex_lock@GLIBC_2.2.5");
__asm__(".symver glibc_mutex_trylock, __pthread_mutex_trylock@GLIBC_2.2.5");
__asm__(".symver glibc_mutex_unlock, __pthread_mutex_unlock@GLIBC_2.2.5");
extern int glibc_rwlock_wrlock(pthread_rwlock_t *rw);
extern int glibc_rwlock_tryrdlock(pthread_rwlock_t *rw);
extern int glibc_rwlock_unlock(pthread_rwlock_t *rw);
__asm__(".symver glibc_rwlock_wrlock, __pthread_rwlock_wrlock@GLIBC_2.2.5");
__asm__(".symver glibc_rwlock_tryrdlock, __pthread_rwlock_tryrdlock@GLIBC_2.2.5");
__asm__(".symver glibc_rwlock_unlock, __pthread_rwlock_unlock@GLIBC_2.2.5");

static struct lh_thread *
me(void)
{
	struct lh_thread *t = lh_self;

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(t->busy, 0);
	return t;
}

static const struct lh_held *
top(void)
{
	struct lh_thread *t = me();

	ck_assert_uint_gt(t->nheld, 0);
	return &t->held[t->nheld - 1];
}

static void
assert_top(const void *lock, enum lh_how how, enum lh_mode mode, uint32_t count)
{
	const struct lh_held *h = top();

	ck_assert_uint_eq(h->addr, (uintptr_t)lock);
	ck_assert_ptr_nonnull(h->lock);
	ck_assert_uint_eq(h->id, h->lock->id);
	ck_assert_uint_eq(h->how, how);
	ck_assert_uint_eq(h->mode, mode);
	ck_assert_uint_eq(h->count, count);
	ck_assert_uint_ne(h->pc, 0);
	ck_assert_uint_ne(h->cfa, 0);
}

static uint32_t
nheld(void)
{
	return me()->nheld;
}

/* ts: ms milliseconds from now on CLOCK_REALTIME (the timed calls' clock). */
static void
realtime_in(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* A thread that holds a lock until told to let go. */
struct holder {
	pthread_t th;
	pthread_mutex_t *m;
	int ready, go;
};

static void *
hold(void *arg)
{
	struct holder *h = arg;

	pthread_mutex_lock(h->m);
	__atomic_store_n(&h->ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&h->go, __ATOMIC_ACQUIRE))
		usleep(1000);
	pthread_mutex_unlock(h->m);
	return NULL;
}

static void
hold_start(struct holder *h, pthread_mutex_t *m)
{
	memset(h, 0, sizeof(*h));
	h->m = m;
	ck_assert_int_eq(pthread_create(&h->th, NULL, hold, h), 0);
	while (!__atomic_load_n(&h->ready, __ATOMIC_ACQUIRE))
		usleep(1000);
}

static void
hold_end(struct holder *h)
{
	__atomic_store_n(&h->go, 1, __ATOMIC_RELEASE);
	ck_assert_int_eq(pthread_join(h->th, NULL), 0);
}

START_TEST(test_mutex_lock_is_held_until_unlock)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	uint32_t base;

	pthread_mutex_lock(&m); /* makes this thread's state */
	pthread_mutex_unlock(&m);
	base = nheld();
	for (int r = 0; r < ROUNDS; r++) {
		ck_assert_int_eq(pthread_mutex_lock(&m), 0);
		ck_assert_uint_eq(nheld(), base + 1);
		assert_top(&m, LH_BLOCKING, LH_MODE_WRITE, 1);
		ck_assert_int_eq(pthread_mutex_unlock(&m), 0);
		ck_assert_uint_eq(nheld(), base);
	}
}
END_TEST

START_TEST(test_nested_and_out_of_order)
{
	pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;

	for (int r = 0; r < ROUNDS; r++) {
		pthread_mutex_lock(&a);
		pthread_mutex_lock(&b);
		ck_assert_uint_eq(nheld(), 2);
		assert_top(&b, LH_BLOCKING, LH_MODE_WRITE, 1);
		ck_assert_uint_eq(me()->held[0].addr, (uintptr_t)&a);
		ck_assert_int_eq(pthread_mutex_unlock(&a), 0); /* out of order */
		ck_assert_uint_eq(nheld(), 1);
		assert_top(&b, LH_BLOCKING, LH_MODE_WRITE, 1);
		ck_assert_int_eq(pthread_mutex_unlock(&b), 0);
		ck_assert_uint_eq(nheld(), 0);
	}
}
END_TEST

START_TEST(test_trylock_busy_and_free)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct holder h;

	for (int r = 0; r < ROUNDS; r++) {
		hold_start(&h, &m);
		ck_assert_int_eq(pthread_mutex_trylock(&m), EBUSY);
		ck_assert_uint_eq(nheld(), 0);
		hold_end(&h);
		ck_assert_int_eq(pthread_mutex_trylock(&m), 0);
		assert_top(&m, LH_TRY, LH_MODE_WRITE, 1);
		ck_assert_int_eq(pthread_mutex_unlock(&m), 0);
		ck_assert_uint_eq(nheld(), 0);
	}
}
END_TEST

START_TEST(test_contended_lock_waits_then_holds)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct holder h;

	hold_start(&h, &m);
	__atomic_store_n(&h.go, 1, __ATOMIC_RELEASE); /* lets go in about 1 ms */
	ck_assert_int_eq(pthread_mutex_lock(&m), 0);
	assert_top(&m, LH_BLOCKING, LH_MODE_WRITE, 1);
	ck_assert_uint_eq(atomic_load(&me()->wait_addr), 0); /* the wait is over */
	ck_assert_int_eq(pthread_mutex_unlock(&m), 0);
	ck_assert_int_eq(pthread_join(h.th, NULL), 0);
}
END_TEST

START_TEST(test_timedlock_times_out_without_a_hold)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct timespec ts;
	struct holder h;

	hold_start(&h, &m);
	for (int r = 0; r < ROUNDS; r++) {
		realtime_in(&ts, 5);
		ck_assert_int_eq(pthread_mutex_timedlock(&m, &ts), ETIMEDOUT);
		ck_assert_uint_eq(nheld(), 0);
		ck_assert_uint_eq(atomic_load(&me()->wait_addr), 0);
	}
	hold_end(&h);
	realtime_in(&ts, 5000);
	ck_assert_int_eq(pthread_mutex_timedlock(&m, &ts), 0);
	assert_top(&m, LH_TIMED, LH_MODE_WRITE, 1);
	pthread_mutex_unlock(&m);
}
END_TEST

START_TEST(test_recursive_mutex_counts)
{
	pthread_mutexattr_t at;
	pthread_mutex_t m;

	pthread_mutexattr_init(&at);
	pthread_mutexattr_settype(&at, PTHREAD_MUTEX_RECURSIVE);
	ck_assert_int_eq(pthread_mutex_init(&m, &at), 0);
	for (int r = 0; r < ROUNDS; r++) {
		pthread_mutex_lock(&m);
		pthread_mutex_lock(&m);
		ck_assert_int_eq(pthread_mutex_trylock(&m), 0);
		ck_assert_uint_eq(nheld(), 1);
		assert_top(&m, LH_BLOCKING, LH_MODE_WRITE, 3);
		pthread_mutex_unlock(&m);
		pthread_mutex_unlock(&m);
		assert_top(&m, LH_BLOCKING, LH_MODE_WRITE, 1);
		pthread_mutex_unlock(&m);
		ck_assert_uint_eq(nheld(), 0);
	}
	ck_assert_int_eq(pthread_mutex_destroy(&m), 0);
}
END_TEST

START_TEST(test_errorcheck_results_are_glibcs)
{
	pthread_mutexattr_t at;
	pthread_mutex_t m, plain = PTHREAD_MUTEX_INITIALIZER;
	char path[64];
	const char *err;
	int saved = -1;

	pthread_mutexattr_init(&at);
	pthread_mutexattr_settype(&at, PTHREAD_MUTEX_ERRORCHECK);
	ck_assert_int_eq(pthread_mutex_init(&m, &at), 0);
	check_capture_stderr(path, "intercept", &saved);
	/* glibc tells the program (EPERM, EDEADLK): the runtime says nothing. */
	ck_assert_int_eq(pthread_mutex_unlock(&m), EPERM);
	ck_assert_int_eq(pthread_mutex_lock(&m), 0);
	ck_assert_int_eq(pthread_mutex_lock(&m), EDEADLK);
	ck_assert_uint_eq(nheld(), 1);
	assert_top(&m, LH_BLOCKING, LH_MODE_WRITE, 1);
	ck_assert_int_eq(pthread_mutex_unlock(&m), 0);
	ck_assert_uint_eq(nheld(), 0);
	/* A normal mutex unlocked while unlocked: glibc says nothing (0), the
	 * runtime does, once. */
	ck_assert_int_eq(pthread_mutex_unlock(&plain), 0);
	check_restore_stderr(saved);
	err = check_slurp(path);
	ck_assert_int_eq(check_count(err, "lockhound: misuse: "), 1);
	ck_assert_ptr_nonnull(strstr(err, "unlocked while not locked"));
	unlink(path);
	pthread_mutex_destroy(&m);
}
END_TEST

START_TEST(test_rwlock_modes)
{
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;

	for (int r = 0; r < ROUNDS; r++) {
		ck_assert_int_eq(pthread_rwlock_rdlock(&rw), 0);
		assert_top(&rw, LH_BLOCKING, LH_MODE_READ, 1);
		ck_assert_int_eq(pthread_rwlock_tryrdlock(&rw), 0); /* a second reader */
		ck_assert_uint_eq(nheld(), 1);
		assert_top(&rw, LH_BLOCKING, LH_MODE_READ, 2);
		pthread_rwlock_unlock(&rw);
		pthread_rwlock_unlock(&rw);
		ck_assert_uint_eq(nheld(), 0);
		ck_assert_int_eq(pthread_rwlock_wrlock(&rw), 0);
		assert_top(&rw, LH_BLOCKING, LH_MODE_WRITE, 1);
		ck_assert_int_eq(pthread_rwlock_unlock(&rw), 0);
		ck_assert_int_eq(pthread_rwlock_trywrlock(&rw), 0);
		assert_top(&rw, LH_TRY, LH_MODE_WRITE, 1);
		ck_assert_int_eq(pthread_rwlock_unlock(&rw), 0);
		ck_assert_uint_eq(nheld(), 0);
	}
}
END_TEST

START_TEST(test_spinlock_and_c11_mutex)
{
	pthread_spinlock_t s;
	mtx_t c;

	ck_assert_int_eq(pthread_spin_init(&s, PTHREAD_PROCESS_PRIVATE), 0);
	ck_assert_int_eq(mtx_init(&c, mtx_plain), thrd_success);
	for (int r = 0; r < ROUNDS; r++) {
		ck_assert_int_eq(pthread_spin_lock(&s), 0);
		assert_top((const void *)&s, LH_BLOCKING, LH_MODE_WRITE, 1);
		ck_assert_uint_eq(top()->lock->type, LH_TYPE_SPIN);
		ck_assert_int_eq(mtx_lock(&c), thrd_success);
		ck_assert_uint_eq(nheld(), 2);
		ck_assert_uint_eq(top()->addr, (uintptr_t)&c);
		ck_assert_int_eq(mtx_unlock(&c), thrd_success);
		ck_assert_int_eq(pthread_spin_unlock(&s), 0);
		ck_assert_uint_eq(nheld(), 0);
		ck_assert_int_eq(mtx_trylock(&c), thrd_success);
		assert_top(&c, LH_TRY, LH_MODE_WRITE, 1);
		mtx_unlock(&c);
	}
	mtx_destroy(&c);
	pthread_spin_destroy(&s);
}
END_TEST

START_TEST(test_condition_wait_keeps_the_hold)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	struct timespec ts;

	pthread_mutex_lock(&m);
	for (int r = 0; r < ROUNDS; r++) {
		realtime_in(&ts, 2);
		ck_assert_int_eq(pthread_cond_timedwait(&cv, &m, &ts), ETIMEDOUT);
		ck_assert_uint_eq(nheld(), 1);
		assert_top(&m, LH_BLOCKING, LH_MODE_WRITE, 1);
	}
	pthread_mutex_unlock(&m);
	ck_assert_uint_eq(nheld(), 0);
}
END_TEST

/* m's lock word, owner and user count are these. */
static void
assert_fields(const pthread_mutex_t *m, int lock, pid_t owner, unsigned nusers)
{
	ck_assert_int_eq(m->__data.__lock, lock);
	ck_assert_int_eq(m->__data.__owner, owner);
	ck_assert_uint_eq(m->__data.__nusers, nusers);
}

/* A normal mutex is taken inline (the start-up check passed on this
 * platform) and its fields are what glibc's calls make them, so glibc's
 * calls and the wrappers can take turns on it. */
START_TEST(test_inline_mutex_is_glibcs)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pid_t tid = lh_gettid();

	ck_assert(lh_intercept_inline_mutex());
	for (int r = 0; r < ROUNDS; r++) {
		ck_assert_int_eq(pthread_mutex_lock(&m), 0);
		assert_top(&m, LH_BLOCKING, LH_MODE_WRITE, 1);
		assert_fields(&m, 1, tid, 1);
		ck_assert_int_eq(glibc_mutex_trylock(&m), EBUSY);
		ck_assert_int_eq(pthread_mutex_unlock(&m), 0);
		ck_assert_uint_eq(nheld(), 0);
		assert_fields(&m, 0, 0, 0);
		ck_assert_int_eq(glibc_mutex_lock(&m), 0);
		ck_assert_int_eq(pthread_mutex_trylock(&m), EBUSY);
		ck_assert_int_eq(glibc_mutex_unlock(&m), 0);
		ck_assert_int_eq(pthread_mutex_trylock(&m), 0);
		assert_top(&m, LH_TRY, LH_MODE_WRITE, 1);
		assert_fields(&m, 1, tid, 1);
		ck_assert_int_eq(pthread_mutex_unlock(&m), 0);
		assert_fields(&m, 0, 0, 0);
	}
}
END_TEST

static void *
glibc_lock_unlock(void *arg)
{
	pthread_mutex_t *m = arg;

	ck_assert_int_eq(glibc_mutex_lock(m), 0);
	ck_assert_int_eq(glibc_mutex_unlock(m), 0);
	return NULL;
}

/* A thread asleep in glibc's lock (lock word 2) is woken by the inline
 * unlock; if it were not, the join would hang and the test time out. */
START_TEST(test_inline_unlock_wakes_a_sleeper)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_t th;

	for (int r = 0; r < ROUNDS; r++) {
		ck_assert_int_eq(pthread_mutex_lock(&m), 0);
		ck_assert_int_eq(pthread_create(&th, NULL, glibc_lock_unlock, &m), 0);
		while (__atomic_load_n(&m.__data.__lock, __ATOMIC_ACQUIRE) != 2)
			usleep(1000);
		ck_assert_int_eq(pthread_mutex_unlock(&m), 0);
		ck_assert_int_eq(pthread_join(th, NULL), 0);
		assert_fields(&m, 0, 0, 0);
	}
}
END_TEST

/* Read locks are taken inline too, counted in glibc's reader word (from
 * bit 3), so glibc's calls and the wrappers take turns on one rwlock. */
START_TEST(test_inline_read_lock_is_glibcs)
{
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;

	ck_assert(lh_intercept_inline_rwlock());
	for (int r = 0; r < ROUNDS; r++) {
		ck_assert_int_eq(pthread_rwlock_rdlock(&rw), 0);
		assert_top(&rw, LH_BLOCKING, LH_MODE_READ, 1);
		ck_assert_uint_eq(rw.__data.__readers, 1u << 3);
		ck_assert_int_eq(glibc_rwlock_tryrdlock(&rw), 0);
		ck_assert_uint_eq(rw.__data.__readers, 2u << 3);
		ck_assert_int_eq(pthread_rwlock_unlock(&rw), 0);
		ck_assert_uint_eq(nheld(), 0);
		ck_assert_uint_eq(rw.__data.__readers, 1u << 3);
		ck_assert_int_eq(glibc_rwlock_unlock(&rw), 0);
		ck_assert_uint_eq(rw.__data.__readers, 0);
		ck_assert_int_eq(pthread_rwlock_tryrdlock(&rw), 0);
		assert_top(&rw, LH_TRY, LH_MODE_READ, 1);
		ck_assert_int_eq(pthread_rwlock_unlock(&rw), 0);
		ck_assert_uint_eq(rw.__data.__readers, 0);
	}
}
END_TEST

static void *
glibc_write_lock_unlock(void *arg)
{
	pthread_rwlock_t *rw = arg;

	ck_assert_int_eq(glibc_rwlock_wrlock(rw), 0);
	ck_assert_int_eq(glibc_rwlock_unlock(rw), 0);
	return NULL;
}

/* The last reader out while a writer waits leaves through glibc, which
 * starts the write phase and wakes the writer; if it left inline, the
 * writer would sleep on and the join time out. */
START_TEST(test_last_reader_wakes_a_writer)
{
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
	pthread_t th;

	for (int r = 0; r < ROUNDS; r++) {
		ck_assert_int_eq(pthread_rwlock_rdlock(&rw), 0);
		ck_assert_int_eq(pthread_create(&th, NULL, glibc_write_lock_unlock, &rw), 0);
		while (!(__atomic_load_n(&rw.__data.__readers, __ATOMIC_ACQUIRE) & 2))
			usleep(1000); /* the writer has claimed the lock (WRLOCKED) */
		ck_assert_int_eq(pthread_rwlock_unlock(&rw), 0);
		ck_assert_int_eq(pthread_join(th, NULL), 0);
		ck_assert_uint_eq(nheld(), 0);
	}
}
END_TEST

/* A normal mutex keeps its node in itself (direct.h): a later general path
 * (here a new call site, so a new statistics slot) finds it there; a copy
 * at another address is not taken for the original, and destroy forgets. */
static void
lock_elsewhere(pthread_mutex_t *m)
{
	ck_assert_int_eq(pthread_mutex_lock(m), 0);
}

START_TEST(test_mutex_keeps_its_node)
{
	pthread_mutex_t m[2] = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER};
	struct lh_lock *lk;
	uint64_t id;

	ck_assert_ptr_null(lh_direct_node(&m[0], &id));
	ck_assert_int_eq(pthread_mutex_lock(&m[0]), 0);
	ck_assert_int_eq(pthread_mutex_unlock(&m[0]), 0);
	lk = lh_locktab_find(&m[0]);
	ck_assert_ptr_nonnull(lk);
	ck_assert_ptr_eq(lh_direct_node(&m[0], &id), lk);
	ck_assert_uint_eq(id, lk->id);
	lock_elsewhere(&m[0]);
	ck_assert_ptr_eq(top()->lock, lk);
	ck_assert_uint_eq(top()->id, lk->id);
	ck_assert_int_eq(pthread_mutex_unlock(&m[0]), 0);

	memcpy(&m[1], &m[0], sizeof(m[0])); /* POSIX says no; programs do */
	ck_assert_ptr_null(lh_direct_node(&m[1], &id));
	lock_elsewhere(&m[1]);
	ck_assert_ptr_ne(top()->lock, lk);
	ck_assert_ptr_eq(top()->lock, lh_locktab_find(&m[1]));
	ck_assert_int_eq(pthread_mutex_unlock(&m[1]), 0);

	ck_assert_int_eq(pthread_mutex_destroy(&m[0]), 0);
	ck_assert_ptr_null(lh_direct_node(&m[0], &id));
	ck_assert_ptr_null(m[0].__data.__list.__prev);
	ck_assert_ptr_null(m[0].__data.__list.__next);
	ck_assert_int_eq(pthread_mutex_destroy(&m[1]), 0);
}
END_TEST

/* The other plain kinds of mutex, C11's among them, keep their node in
 * __list too; a process-shared one never has it written. */
START_TEST(test_other_mutexes_keep_their_node)
{
	const int kinds[] = {PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_RECURSIVE,
			     PTHREAD_MUTEX_ERRORCHECK, PTHREAD_MUTEX_ADAPTIVE_NP};
	pthread_mutexattr_t attr;
	pthread_mutex_t m;
	uint64_t id;
	mtx_t c;

	ck_assert_int_eq(pthread_mutexattr_init(&attr), 0);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		ck_assert_int_eq(pthread_mutexattr_settype(&attr, kinds[k]), 0);
		ck_assert_int_eq(pthread_mutex_init(&m, &attr), 0);
		ck_assert_ptr_null(lh_direct_node(&m, &id));
		for (int r = 0; r < ROUNDS; r++) {
			ck_assert_int_eq(pthread_mutex_lock(&m), 0);
			ck_assert_ptr_eq(top()->lock, lh_locktab_find(&m));
			ck_assert_int_eq(pthread_mutex_unlock(&m), 0);
		}
		ck_assert_ptr_eq(lh_direct_node(&m, &id), lh_locktab_find(&m));
		ck_assert_int_eq(pthread_mutex_destroy(&m), 0);
		ck_assert_ptr_null(m.__data.__list.__prev);
		ck_assert_ptr_null(m.__data.__list.__next);
	}
	ck_assert_int_eq(mtx_init(&c, mtx_plain | mtx_recursive), thrd_success);
	ck_assert_int_eq(mtx_lock(&c), thrd_success);
	ck_assert_int_eq(mtx_unlock(&c), thrd_success);
	ck_assert_ptr_eq(lh_direct_node((pthread_mutex_t *)(void *)&c, &id), lh_locktab_find(&c));
	mtx_destroy(&c);
	ck_assert_ptr_null(lh_direct_node((pthread_mutex_t *)(void *)&c, &id));

	ck_assert_int_eq(pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE), 0);
	ck_assert_int_eq(pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED), 0);
	ck_assert_int_eq(pthread_mutex_init(&m, &attr), 0);
	for (int r = 0; r < ROUNDS; r++) {
		ck_assert_int_eq(pthread_mutex_lock(&m), 0);
		ck_assert_ptr_eq(top()->lock, lh_locktab_find(&m));
		ck_assert_int_eq(pthread_mutex_unlock(&m), 0);
	}
	ck_assert_ptr_null(m.__data.__list.__prev);
	ck_assert_ptr_null(m.__data.__list.__next);
	ck_assert_int_eq(pthread_mutex_destroy(&m), 0);
	pthread_mutexattr_destroy(&attr);
}
END_TEST

/* A private read-write lock keeps its node in itself too (direct.h), in
 * words glibc reserves; a copy is not taken for the original, destroy
 * forgets, and a process-shared lock is never written (another process's
 * runtime reads it too). */
static void
wrlock_elsewhere(pthread_rwlock_t *rw)
{
	ck_assert_int_eq(pthread_rwlock_wrlock(rw), 0);
}

START_TEST(test_rwlock_keeps_its_node)
{
	pthread_rwlock_t rw[2] = {PTHREAD_RWLOCK_INITIALIZER, PTHREAD_RWLOCK_INITIALIZER};
	pthread_rwlock_t shared;
	pthread_rwlockattr_t attr;
	struct lh_lock *lk, *got;
	uint64_t id;

	ck_assert(lh_rw_named(&rw[0]));
	ck_assert(!lh_rw_decode(&rw[0], &got, &id));
	ck_assert_int_eq(pthread_rwlock_rdlock(&rw[0]), 0);
	ck_assert_int_eq(pthread_rwlock_unlock(&rw[0]), 0);
	lk = lh_locktab_find(&rw[0]);
	ck_assert_ptr_nonnull(lk);
	ck_assert(lh_rw_decode(&rw[0], &got, &id));
	ck_assert_ptr_eq(got, lk);
	ck_assert_uint_eq(id, lk->id);
	wrlock_elsewhere(&rw[0]);
	ck_assert_ptr_eq(top()->lock, lk);
	ck_assert_int_eq(pthread_rwlock_unlock(&rw[0]), 0);

	memcpy(&rw[1], &rw[0], sizeof(rw[0]));
	ck_assert(!lh_rw_decode(&rw[1], &got, &id));
	wrlock_elsewhere(&rw[1]);
	ck_assert_ptr_ne(top()->lock, lk);
	ck_assert_ptr_eq(top()->lock, lh_locktab_find(&rw[1]));
	ck_assert_int_eq(pthread_rwlock_unlock(&rw[1]), 0);

	ck_assert_int_eq(pthread_rwlock_destroy(&rw[0]), 0);
	ck_assert(!lh_rw_decode(&rw[0], &got, &id));
	ck_assert_uint_eq(rw[0].__data.__pad2, 0);
	ck_assert_uint_eq(rw[0].__data.__pad3 | rw[0].__data.__pad4, 0);
	ck_assert_int_eq(pthread_rwlock_destroy(&rw[1]), 0);

	ck_assert_int_eq(pthread_rwlockattr_init(&attr), 0);
	ck_assert_int_eq(pthread_rwlockattr_setpshared(&attr, PTHREAD_PROCESS_SHARED), 0);
	ck_assert_int_eq(pthread_rwlock_init(&shared, &attr), 0);
	ck_assert(!lh_rw_named(&shared));
	for (int r = 0; r < ROUNDS; r++) {
		ck_assert_int_eq(pthread_rwlock_rdlock(&shared), 0);
		ck_assert_ptr_eq(top()->lock, lh_locktab_find(&shared));
		ck_assert_int_eq(pthread_rwlock_unlock(&shared), 0);
	}
	ck_assert_uint_eq(shared.__data.__pad2, 0);
	ck_assert_uint_eq(shared.__data.__pad3 | shared.__data.__pad4, 0);
	ck_assert_int_eq(pthread_rwlock_destroy(&shared), 0);
	pthread_rwlockattr_destroy(&attr);
}
END_TEST

/* One lock+unlock of m from a call site of its own. */
static __attribute__((noinline)) void
take_at_a(pthread_mutex_t *m)
{
	ck_assert_int_eq(pthread_mutex_lock(m), 0);
	ck_assert_int_eq(pthread_mutex_unlock(m), 0);
	__asm__ volatile("" ::: "memory"); /* not a tail call: a site of its own */
}

static __attribute__((noinline)) void
take_at_b(pthread_mutex_t *m)
{
	ck_assert_int_eq(pthread_mutex_lock(m), 0);
	ck_assert_int_eq(pthread_mutex_unlock(m), 0);
	__asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void
take_at_c(pthread_mutex_t *m)
{
	ck_assert_int_eq(pthread_mutex_trylock(m), 0);
	ck_assert_int_eq(pthread_mutex_unlock(m), 0);
	__asm__ volatile("" ::: "memory");
}

/* The acquisitions of lock id's last contention record in log, and in
 * sites[] the counts of its acquire_sites (worst first, up to n): how many. */
static int
own_record(const char *log, uint64_t id, long *acq, long *sites, int n)
{
	char key[64];
	const char *p = log, *last = NULL;
	int k = 0;

	snprintf(key, sizeof(key), "\"scope\":\"lock\",\"lock\":%" PRIu64 ",", id);
	while ((p = strstr(p, key)) != NULL)
		last = p++;
	ck_assert_ptr_nonnull(last);
	ck_assert_ptr_nonnull(p = strstr(last, "\"acquisitions\":"));
	*acq = strtol(p + strlen("\"acquisitions\":"), NULL, 10);
	ck_assert_ptr_nonnull(p = strstr(p, "\"acquire_sites\":["));
	while (k < n && (p = strstr(p, "\"acquisitions\":")) != NULL &&
	       p < strstr(last, "\"wait_sites\":")) {
		p += strlen("\"acquisitions\":");
		sites[k++] = strtol(p, NULL, 10);
	}
	return k;
}

static void *
take_at_a_often(void *arg)
{
	for (int i = 0; i < 5000; i++)
		take_at_a(arg);
	return NULL;
}

/*
 * A normal mutex counts its acquisitions in its node, at two call sites
 * that keep a place there (lh_lock_own), with plain increments by the
 * holder: two threads that fight for it lose none. A third site counts in
 * its thread's slot, also when the three take turns (they must not take
 * the places from each other at every turn); once a place stays idle, it
 * takes that one, whose count is handed in. A report in between counts nothing twice; the record has every
 * acquisition, by call site.
 */
START_TEST(test_inline_mutex_counts_in_its_node)
{
	/* Recursive mutexes, far more than slots, made anew for each round:
	 * a new lock's first acquisition counts in its slot (later ones at
	 * its own site), and one of them takes m's slot at site c but once
	 * in 10^7. */
	enum { OTHERS = 4096 };
	static pthread_mutex_t others[OTHERS];
	pthread_mutexattr_t attr;
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	uintptr_t pc_a, pc_b;
	char logpath[64];
	struct lh_lock *lk;
	pthread_t th[2];
	long acq, sites[4];

	lh_opt.stats = LH_STATS_ON;
	check_fresh_log(logpath, "own");
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	for (int i = 0; i < OTHERS; i++)
		pthread_mutex_init(&others[i], &attr);
	for (int i = 0; i < 5; i++)
		take_at_a(&m);
	for (int i = 0; i < 7; i++)
		take_at_b(&m);
	lk = lh_locktab_find(&m);
	ck_assert_ptr_nonnull(lk);
	pc_a = lk->own[0].pc;
	pc_b = lk->own[1].pc;
	ck_assert_uint_ne(pc_a, 0);
	ck_assert_uint_ne(pc_b, 0);
	ck_assert_uint_eq(lk->own[0].n + lk->own[1].n, 12);
	lh_stats_report(false); /* shows the 12; the node keeps them */
	ck_assert_int_eq(own_record(check_slurp(logpath), lk->id, &acq, sites, 4), 2);
	ck_assert_int_eq(acq, 12);
	ck_assert_int_eq(sites[0], 7);
	ck_assert_int_eq(sites[1], 5);

	for (int i = 0; i < 3; i++) /* a slot */
		take_at_c(&m);
	for (int i = 0; i < 100; i++) { /* in turn: nobody moves */
		take_at_a(&m);
		take_at_b(&m);
		take_at_c(&m);
	}
	ck_assert_uint_eq(lk->own[0].pc, pc_a);
	ck_assert_uint_eq(lk->own[1].pc, pc_b);
	ck_assert_uint_eq(lk->own[0].n + lk->own[1].n, 212);
	/* c's slot evicted, a and b idle: c looks for a place each time, and
	 * the third look finds a's idle since the two before. */
	for (int r = 0; r < 3; r++) {
		for (int i = 0; i < OTHERS; i++) {
			if (r > 0)
				ck_assert_int_eq(pthread_mutex_init(&others[i], &attr), 0);
			take_at_c(&others[i]);
		}
		take_at_c(&m);
	}
	ck_assert_uint_ne(lk->own[0].pc, pc_a); /* c took a's place, the first idle */
	ck_assert_uint_eq(lk->own[0].n, 1);
	ck_assert_uint_eq(lk->own[1].pc, pc_b);
	for (int k = 0; k < 2; k++)
		ck_assert_int_eq(pthread_create(&th[k], NULL, take_at_a_often, &m), 0);
	for (int k = 0; k < 2; k++)
		ck_assert_int_eq(pthread_join(th[k], NULL), 0);
	lh_stats_report(false);
	ck_assert_int_eq(own_record(check_slurp(logpath), lk->id, &acq, sites, 4), 3);
	ck_assert_int_eq(acq, 12 + 3 + 300 + 3 + 10000);
	ck_assert_int_eq(sites[0], 5 + 100 + 10000);
	ck_assert_int_eq(sites[1], 7 + 100);
	ck_assert_int_eq(sites[2], 3 + 100 + 3);
	unlink(logpath);
}
END_TEST

/*
 * Locks taken in turn, more than a thread has statistics slots: a slot
 * keeps the pair whose general path took it last, and the other pairs
 * that map to it count at their call site's own place in the node (found
 * from the read-write lock itself, a spin lock's in the table), with no
 * eviction. Readers share the lock and count with an atomic add, a spin
 * lock's holder with a plain one; two threads taking the same locks lose
 * no count either way.
 */
enum { IN_TURN = 1024, TURNS = 40 };
static pthread_rwlock_t turn_rw[IN_TURN];
static pthread_spinlock_t turn_spin[IN_TURN];

/* One call site for each (the loop may be unrolled or peeled). */
static __attribute__((noinline)) void
take_in_turn_once(int i)
{
	ck_assert_int_eq(pthread_rwlock_rdlock(&turn_rw[i]), 0);
	ck_assert_int_eq(pthread_rwlock_unlock(&turn_rw[i]), 0);
	ck_assert_int_eq(pthread_spin_lock(&turn_spin[i]), 0);
	ck_assert_int_eq(pthread_spin_unlock(&turn_spin[i]), 0);
	__asm__ volatile("" ::: "memory");
}

static void *
take_in_turn(void *arg)
{
	(void)arg;
	for (int r = 0; r < TURNS; r++)
		for (int i = 0; i < IN_TURN; i++)
			take_in_turn_once(i);
	return NULL;
}

START_TEST(test_locks_in_turn_count_in_their_nodes)
{
	char logpath[64];
	pthread_t th[2];
	long acq, sites[2];
	uint64_t own[2] = {0, 0};

	lh_opt.stats = LH_STATS_ON;
	check_fresh_log(logpath, "turn");
	for (int i = 0; i < IN_TURN; i++) {
		ck_assert_int_eq(pthread_rwlock_init(&turn_rw[i], NULL), 0);
		ck_assert_int_eq(pthread_spin_init(&turn_spin[i], PTHREAD_PROCESS_PRIVATE), 0);
	}
	for (int k = 0; k < 2; k++)
		ck_assert_int_eq(pthread_create(&th[k], NULL, take_in_turn, NULL), 0);
	for (int k = 0; k < 2; k++)
		ck_assert_int_eq(pthread_join(th[k], NULL), 0);
	for (int i = 0; i < IN_TURN; i++) {
		const void *locks[] = {&turn_rw[i], (const void *)&turn_spin[i]};

		for (int k = 0; k < 2; k++) {
			struct lh_lock *lk = lh_locktab_find(locks[k]);

			ck_assert_ptr_nonnull(lk);
			ck_assert_uint_eq(lk->own[1].pc, 0); /* one call site */
			own[k] += lk->own[0].n;
		}
	}
	/* most acquisitions (of 80 a lock) found another pair in the slot */
	ck_assert_uint_gt(own[0], 60 * IN_TURN);
	ck_assert_uint_gt(own[1], 60 * IN_TURN);
	lh_stats_report(false);
	for (int i = 0; i < IN_TURN; i += IN_TURN / 8) {
		const void *locks[] = {&turn_rw[i], (const void *)&turn_spin[i]};

		for (int k = 0; k < 2; k++) {
			struct lh_lock *lk = lh_locktab_find(locks[k]);

			ck_assert_int_eq(own_record(check_slurp(logpath), lk->id, &acq, sites, 2), 1);
			ck_assert_int_eq(acq, 2 * TURNS);
			ck_assert_int_eq(sites[0], 2 * TURNS);
		}
	}
	unlink(logpath);
}
END_TEST

/*
 * Readers of one lock count at the same own site together: threads whose
 * slot for it holds another lock (one that maps to the same slot, taken
 * once since) count every acquisition there, at the same time, and lose
 * none.
 */
enum { TOGETHER = 100000, CANDIDATES = 4096 };
static pthread_rwlock_t together = PTHREAD_RWLOCK_INITIALIZER;
static pthread_rwlock_t candidates[CANDIDATES];

static __attribute__((noinline)) void
read_once(pthread_rwlock_t *rw)
{
	ck_assert_int_eq(pthread_rwlock_rdlock(rw), 0);
	ck_assert_int_eq(pthread_rwlock_unlock(rw), 0);
	__asm__ volatile("" ::: "memory");
}

static void *
read_together(void *arg)
{
	read_once(&together); /* the thread's first: its general path, its slot */
	read_once(arg);	      /* a new lock: the general path takes the slot */
	for (int i = 0; i < TOGETHER; i++)
		read_once(&together);
	return NULL;
}

START_TEST(test_readers_count_together)
{
	pthread_rwlock_t *other[2];
	struct lh_lock *lk;
	pthread_t th[2];
	uintptr_t pc;
	int n = 0;

	lh_opt.stats = LH_STATS_ON;
	read_once(&together);
	lk = lh_locktab_find(&together);
	ck_assert_ptr_nonnull(lk);
	pc = lk->own[0].pc;
	ck_assert_uint_ne(pc, 0);
	ck_assert_uint_eq(lk->own[0].n, 0); /* this one counted in the slot */
	for (int i = 0; i < CANDIDATES && n < 2; i++)
		if (lh_stat_index((uintptr_t)&candidates[i], pc) ==
		    lh_stat_index((uintptr_t)&together, pc))
			other[n++] = &candidates[i];
	ck_assert_int_eq(n, 2);
	for (int k = 0; k < 2; k++)
		ck_assert_int_eq(pthread_create(&th[k], NULL, read_together, other[k]), 0);
	for (int k = 0; k < 2; k++)
		ck_assert_int_eq(pthread_join(th[k], NULL), 0);
	ck_assert_uint_eq(lk->own[0].n, 2 * TOGETHER);
}
END_TEST

/* inline_locks=0: every call goes to glibc, and is tracked the same. */
START_TEST(test_inline_locks_off)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_t rec = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;

	lh_opt.inline_locks = 0;
	lh_intercept_direct_init();
	ck_assert(!lh_intercept_inline_mutex());
	for (int r = 0; r < ROUNDS; r++) {
		ck_assert_int_eq(pthread_mutex_lock(&m), 0);
		assert_top(&m, LH_BLOCKING, LH_MODE_WRITE, 1);
		assert_fields(&m, 1, lh_gettid(), 1);
		ck_assert_int_eq(pthread_rwlock_rdlock(&rw), 0);
		assert_top(&rw, LH_BLOCKING, LH_MODE_READ, 1);
		ck_assert_int_eq(pthread_mutex_lock(&rec), 0);
		ck_assert_int_eq(pthread_mutex_unlock(&rec), 0);
		ck_assert_int_eq(pthread_rwlock_unlock(&rw), 0);
		ck_assert_int_eq(pthread_mutex_unlock(&m), 0);
		ck_assert_uint_eq(nheld(), 0);
	}
	/* nothing of the runtime's in the program's locks */
	ck_assert_ptr_null(m.__data.__list.__prev);
	ck_assert_ptr_null(m.__data.__list.__next);
	ck_assert_ptr_null(rec.__data.__list.__prev);
	ck_assert_ptr_null(rec.__data.__list.__next);
	ck_assert_uint_eq(rw.__data.__pad2, 0);
	ck_assert_uint_eq(rw.__data.__pad3 | rw.__data.__pad4, 0);
	lh_opt.inline_locks = 1;
	lh_intercept_direct_init();
	ck_assert(lh_intercept_inline_mutex());
}
END_TEST

START_TEST(test_errno_is_left_alone)
{
	pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;

	/* The first round is the general path of two new locks and a new
	 * order (stack capture, graph, log), the next ones the fast path. */
	for (int r = 0; r < ROUNDS; r++) {
		errno = 4242;
		pthread_mutex_lock(&a);
		pthread_mutex_lock(&b);
		pthread_mutex_unlock(&b);
		pthread_mutex_unlock(&a);
		ck_assert_int_eq(errno, 4242);
	}
}
END_TEST

START_TEST(test_deferred_to_the_next_functions)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;

	/* What start-up does when libtsan is in the process: the wrappers then
	 * call the next public functions (here glibc's), and still track. */
	lh_intercept_defer_to_tsan();
	ck_assert(!lh_intercept_inline_mutex()); /* TSan must see every call */
	for (int r = 0; r < ROUNDS; r++) {
		ck_assert_int_eq(pthread_mutex_lock(&m), 0);
		assert_top(&m, LH_BLOCKING, LH_MODE_WRITE, 1);
		ck_assert_int_eq(pthread_mutex_trylock(&m), EBUSY);
		ck_assert_int_eq(pthread_rwlock_rdlock(&rw), 0);
		ck_assert_uint_eq(nheld(), 2);
		ck_assert_int_eq(pthread_rwlock_unlock(&rw), 0);
		ck_assert_int_eq(pthread_mutex_unlock(&m), 0);
		ck_assert_uint_eq(nheld(), 0);
	}
}
END_TEST

static Suite *
intercept_suite(void)
{
	Suite *s = suite_create("intercept");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_mutex_lock_is_held_until_unlock);
	tcase_add_test(tc, test_nested_and_out_of_order);
	tcase_add_test(tc, test_trylock_busy_and_free);
	tcase_add_test(tc, test_contended_lock_waits_then_holds);
	tcase_add_test(tc, test_timedlock_times_out_without_a_hold);
	tcase_add_test(tc, test_recursive_mutex_counts);
	tcase_add_test(tc, test_errorcheck_results_are_glibcs);
	tcase_add_test(tc, test_rwlock_modes);
	tcase_add_test(tc, test_spinlock_and_c11_mutex);
	tcase_add_test(tc, test_condition_wait_keeps_the_hold);
	tcase_add_test(tc, test_inline_mutex_is_glibcs);
	tcase_add_test(tc, test_inline_unlock_wakes_a_sleeper);
	tcase_add_test(tc, test_mutex_keeps_its_node);
	tcase_add_test(tc, test_inline_mutex_counts_in_its_node);
	tcase_add_test(tc, test_other_mutexes_keep_their_node);
	tcase_add_test(tc, test_rwlock_keeps_its_node);
	tcase_add_test(tc, test_locks_in_turn_count_in_their_nodes);
	tcase_add_test(tc, test_readers_count_together);
	tcase_add_test(tc, test_inline_read_lock_is_glibcs);
	tcase_add_test(tc, test_last_reader_wakes_a_writer);
	tcase_add_test(tc, test_inline_locks_off);
	tcase_add_test(tc, test_errno_is_left_alone);
	tcase_add_test(tc, test_deferred_to_the_next_functions);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(intercept_suite)
