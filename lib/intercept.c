/*
 * The interposed pthread and C11 calls. Each wrapper calls the real function
 * in glibc and tells acquire.h what happened; it returns the real call's
 * result and leaves errno as the real call left it (the hot path never
 * touches errno; the slow paths save and restore it).
 *
 * A blocking acquisition first tries the lock; only when that fails does the
 * thread record that it waits (wait.c) and make the blocking call. So an
 * uncontended lock costs what the plain call costs, and every wait is known.
 *
 * Real functions: glibc's __pthread_mutex_* and __pthread_rwlock_* aliases
 * are bound at link time through .symver (no dlsym: they work before and
 * during start-up); the rest are looked up once with dlsym(RTLD_NEXT), and
 * the condition variable calls with dlvsym(..., "GLIBC_2.3.2"), the version
 * programs link against (the 2.2.5 ones are the old ABI).
 *
 * Exported with default visibility and no symbol version (liblockhound.sym
 * versions only lh_*), so that they interpose whatever version the program
 * asked for: a versioned definition would not match GLIBC_2.2.5 references.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#define LH_BUILDING_RUNTIME
#include "lockhound.h"
#include "acquire.h"
#include "direct.h"

#define RA() ((uintptr_t)__builtin_return_address(0))
#define CFA() ((uintptr_t)__builtin_dwarf_cfa())

/* glibc's own; called through real_*() below. */
extern int glibc_mutex_lock(pthread_mutex_t *m);
extern int glibc_mutex_trylock(pthread_mutex_t *m);
extern int glibc_mutex_unlock(pthread_mutex_t *m);
extern int glibc_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr);
extern int glibc_mutex_destroy(pthread_mutex_t *m);
extern int glibc_rwlock_rdlock(pthread_rwlock_t *rw);
extern int glibc_rwlock_wrlock(pthread_rwlock_t *rw);
extern int glibc_rwlock_tryrdlock(pthread_rwlock_t *rw);
extern int glibc_rwlock_trywrlock(pthread_rwlock_t *rw);
extern int glibc_rwlock_unlock(pthread_rwlock_t *rw);
extern int glibc_rwlock_init(pthread_rwlock_t *rw, const pthread_rwlockattr_t *attr);
extern int glibc_rwlock_destroy(pthread_rwlock_t *rw);
__asm__(".symver glibc_mutex_lock, __pthread_mutex_lock@GLIBC_2.2.5");
__asm__(".symver glibc_mutex_trylock, __pthread_mutex_trylock@GLIBC_2.2.5");
__asm__(".symver glibc_mutex_unlock, __pthread_mutex_unlock@GLIBC_2.2.5");
__asm__(".symver glibc_mutex_init, __pthread_mutex_init@GLIBC_2.2.5");
__asm__(".symver glibc_mutex_destroy, __pthread_mutex_destroy@GLIBC_2.2.5");
__asm__(".symver glibc_rwlock_rdlock, __pthread_rwlock_rdlock@GLIBC_2.2.5");
__asm__(".symver glibc_rwlock_wrlock, __pthread_rwlock_wrlock@GLIBC_2.2.5");
__asm__(".symver glibc_rwlock_tryrdlock, __pthread_rwlock_tryrdlock@GLIBC_2.2.5");
__asm__(".symver glibc_rwlock_trywrlock, __pthread_rwlock_trywrlock@GLIBC_2.2.5");
__asm__(".symver glibc_rwlock_unlock, __pthread_rwlock_unlock@GLIBC_2.2.5");
__asm__(".symver glibc_rwlock_init, __pthread_rwlock_init@GLIBC_2.2.5");
__asm__(".symver glibc_rwlock_destroy, __pthread_rwlock_destroy@GLIBC_2.2.5");
extern int glibc_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
__asm__(".symver glibc_sigaction, __sigaction@GLIBC_2.2.5");

/* The rest, resolved at start-up (lh_intercept_init) or on first use. */
static struct {
	int (*mutex_timedlock)(pthread_mutex_t *, const struct timespec *);
	int (*mutex_clocklock)(pthread_mutex_t *, clockid_t, const struct timespec *);
	int (*rwlock_timedrdlock)(pthread_rwlock_t *, const struct timespec *);
	int (*rwlock_timedwrlock)(pthread_rwlock_t *, const struct timespec *);
	int (*rwlock_clockrdlock)(pthread_rwlock_t *, clockid_t, const struct timespec *);
	int (*rwlock_clockwrlock)(pthread_rwlock_t *, clockid_t, const struct timespec *);
	int (*spin_init)(pthread_spinlock_t *, int);
	int (*spin_destroy)(pthread_spinlock_t *);
	int (*spin_lock)(pthread_spinlock_t *);
	int (*spin_trylock)(pthread_spinlock_t *);
	int (*spin_unlock)(pthread_spinlock_t *);
	int (*cond_init)(pthread_cond_t *, const pthread_condattr_t *);
	int (*cond_destroy)(pthread_cond_t *);
	int (*cond_wait)(pthread_cond_t *, pthread_mutex_t *);
	int (*cond_timedwait)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
	int (*cond_clockwait)(pthread_cond_t *, pthread_mutex_t *, clockid_t,
			      const struct timespec *);
	int (*mtx_init)(mtx_t *, int);
	void (*mtx_destroy)(mtx_t *);
	int (*mtx_lock)(mtx_t *);
	int (*mtx_timedlock)(mtx_t *__restrict, const struct timespec *__restrict);
	int (*mtx_trylock)(mtx_t *);
	int (*mtx_unlock)(mtx_t *);
	int (*cnd_wait)(cnd_t *, mtx_t *);
	int (*cnd_timedwait)(cnd_t *__restrict, mtx_t *__restrict,
			     const struct timespec *__restrict);
	int (*cnd_destroy_)(cnd_t *);
	int (*sem_wait)(sem_t *);
	int (*sem_timedwait)(sem_t *, const struct timespec *);
	int (*sem_clockwait)(sem_t *, clockid_t, const struct timespec *);
	int (*sem_trywait)(sem_t *);
	int (*barrier_wait)(pthread_barrier_t *);
	lh_create_fn pthread_create;
	sighandler_t (*signal)(int, sighandler_t);
	sighandler_t (*bsd_signal)(int, sighandler_t);
	sighandler_t (*sysv_signal)(int, sighandler_t);
	sighandler_t (*sigset)(int, sighandler_t);
	int (*setname)(pthread_t, const char *);
} real;

static void *
next_symbol(const char *name, const char *version)
{
	return version ? dlvsym(RTLD_NEXT, name, version) : dlsym(RTLD_NEXT, name);
}

/* Lazily, for calls before start-up; dlsym may allocate, and an allocator
 * that locks passes straight through (the caller is busy or not started). */
#define RESOLVE(field, name, version)                                                    \
	do {                                                                             \
		if (LH_UNLIKELY(!__atomic_load_n(&real.field, __ATOMIC_RELAXED)))       \
			__atomic_store_n(&real.field,                                    \
					 (__typeof__(real.field))next_symbol(name, version),     \
					 __ATOMIC_RELAXED);                              \
	} while (0)

#define COND_VERSION "GLIBC_2.3.2"

static void
resolve_all(void)
{
	RESOLVE(mutex_timedlock, "pthread_mutex_timedlock", NULL);
	RESOLVE(mutex_clocklock, "pthread_mutex_clocklock", NULL);
	RESOLVE(rwlock_timedrdlock, "pthread_rwlock_timedrdlock", NULL);
	RESOLVE(rwlock_timedwrlock, "pthread_rwlock_timedwrlock", NULL);
	RESOLVE(rwlock_clockrdlock, "pthread_rwlock_clockrdlock", NULL);
	RESOLVE(rwlock_clockwrlock, "pthread_rwlock_clockwrlock", NULL);
	RESOLVE(spin_init, "pthread_spin_init", NULL);
	RESOLVE(spin_destroy, "pthread_spin_destroy", NULL);
	RESOLVE(spin_lock, "pthread_spin_lock", NULL);
	RESOLVE(spin_trylock, "pthread_spin_trylock", NULL);
	RESOLVE(spin_unlock, "pthread_spin_unlock", NULL);
	RESOLVE(cond_init, "pthread_cond_init", COND_VERSION);
	RESOLVE(cond_destroy, "pthread_cond_destroy", COND_VERSION);
	RESOLVE(cond_wait, "pthread_cond_wait", COND_VERSION);
	RESOLVE(cond_timedwait, "pthread_cond_timedwait", COND_VERSION);
	RESOLVE(cond_clockwait, "pthread_cond_clockwait", NULL);
	RESOLVE(mtx_init, "mtx_init", NULL);
	RESOLVE(mtx_destroy, "mtx_destroy", NULL);
	RESOLVE(mtx_lock, "mtx_lock", NULL);
	RESOLVE(mtx_timedlock, "mtx_timedlock", NULL);
	RESOLVE(mtx_trylock, "mtx_trylock", NULL);
	RESOLVE(mtx_unlock, "mtx_unlock", NULL);
	RESOLVE(cnd_wait, "cnd_wait", NULL);
	RESOLVE(cnd_timedwait, "cnd_timedwait", NULL);
	RESOLVE(cnd_destroy_, "cnd_destroy", NULL);
	RESOLVE(sem_wait, "sem_wait", NULL);
	RESOLVE(sem_timedwait, "sem_timedwait", NULL);
	RESOLVE(sem_clockwait, "sem_clockwait", NULL);
	RESOLVE(sem_trywait, "sem_trywait", NULL);
	RESOLVE(barrier_wait, "pthread_barrier_wait", NULL);
	RESOLVE(pthread_create, "pthread_create", NULL);
	RESOLVE(signal, "signal", NULL);
}

/*
 * The real mutex, rwlock and sigaction functions: glibc's, except when
 * libtsan is in the process (lh_tsan, found at start-up by race.c).
 * libtsan interposes the __pthread_* aliases too, with nothing behind some
 * of them, and does not see the others; then the real function is the next
 * public one after us: TSan's interceptor, or glibc's. One pointer each,
 * switched once by lh_intercept_defer_to_tsan(): the wrappers' calls test
 * nothing.
 */
#define REAL_GLIBC(fn, name, params, args) static int(*real_##fn) params = glibc_##fn;
#define REAL_GLIBC_LIST(X)                                                               \
	X(mutex_lock, "pthread_mutex_lock", (pthread_mutex_t * m), (m))                  \
	X(mutex_trylock, "pthread_mutex_trylock", (pthread_mutex_t * m), (m))            \
	X(mutex_unlock, "pthread_mutex_unlock", (pthread_mutex_t * m), (m))              \
	X(mutex_init, "pthread_mutex_init",                                              \
	  (pthread_mutex_t * m, const pthread_mutexattr_t *attr), (m, attr))             \
	X(mutex_destroy, "pthread_mutex_destroy", (pthread_mutex_t * m), (m))            \
	X(rwlock_rdlock, "pthread_rwlock_rdlock", (pthread_rwlock_t * rw), (rw))         \
	X(rwlock_wrlock, "pthread_rwlock_wrlock", (pthread_rwlock_t * rw), (rw))         \
	X(rwlock_tryrdlock, "pthread_rwlock_tryrdlock", (pthread_rwlock_t * rw), (rw))   \
	X(rwlock_trywrlock, "pthread_rwlock_trywrlock", (pthread_rwlock_t * rw), (rw))   \
	X(rwlock_unlock, "pthread_rwlock_unlock", (pthread_rwlock_t * rw), (rw))         \
	X(rwlock_init, "pthread_rwlock_init",                                            \
	  (pthread_rwlock_t * rw, const pthread_rwlockattr_t *attr), (rw, attr))         \
	X(rwlock_destroy, "pthread_rwlock_destroy", (pthread_rwlock_t * rw), (rw))       \
	X(sigaction, "sigaction",                                                        \
	  (int sig, const struct sigaction *act, struct sigaction *old), (sig, act, old))

REAL_GLIBC_LIST(REAL_GLIBC)

/* libtsan is here (race.c, at start-up): call the next public functions. */
void
lh_intercept_defer_to_tsan(void)
{
	/* TSan sees every call */
	atomic_store_explicit(&lh_direct_kind, -1, memory_order_relaxed);
	atomic_store_explicit(&lh_direct_rw, false, memory_order_relaxed);
	atomic_store_explicit(&lh_rw_named_on, false, memory_order_relaxed);
	atomic_store_explicit(&lh_mutex_named_on, false, memory_order_relaxed);
#define DEFER(fn, name, params, args)                                                    \
	{                                                                                \
		void *p_ = next_symbol(name, NULL);                                      \
		if (p_)                                                                  \
			real_##fn = (__typeof__(real_##fn))p_;                           \
	}
	REAL_GLIBC_LIST(DEFER)
#undef DEFER
}

/* A waiter may sleep on the word: wake one (errno kept). */
void
lh_direct_wake(pthread_mutex_t *m)
{
	int err = errno;

	syscall(SYS_futex, &m->__data.__lock, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	errno = err;
}

/* glibc's unlock of a normal mutex (direct.h). */
static int
direct_unlock(pthread_mutex_t *m)
{
	if (lh_direct_release(m) > 1)
		lh_direct_wake(m);
	return 0;
}

static bool
direct_same(const pthread_mutex_t *m, int lock, int owner, unsigned nusers)
{
	return m->__data.__lock == lock && m->__data.__owner == owner &&
	       m->__data.__nusers == nusers && m->__data.__kind == 0;
}

/* At start-up: whether glibc's mutex is what direct.h takes it for. */
static bool
direct_mutex_checks(void)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pid_t tid = lh_gettid();
	uint64_t id;
	bool ok;

	ok = direct_same(&m, 0, 0, 0);
	ok = ok && glibc_mutex_lock(&m) == 0 && direct_same(&m, 1, tid, 1);
	ok = ok && glibc_mutex_unlock(&m) == 0 && direct_same(&m, 0, 0, 0);
	ok = ok && lh_direct_trylock(&m, tid) && direct_same(&m, 1, tid, 1);
	ok = ok && glibc_mutex_trylock(&m) == EBUSY && direct_same(&m, 1, tid, 1);
	ok = ok && direct_unlock(&m) == 0 && direct_same(&m, 0, 0, 0);
	ok = ok && glibc_mutex_trylock(&m) == 0 && direct_same(&m, 1, tid, 1);
	ok = ok && !lh_direct_trylock(&m, tid) && glibc_mutex_unlock(&m) == 0 &&
	     direct_same(&m, 0, 0, 0);
	/* The node kept in the mutex (direct.h): glibc's calls leave it. */
	lh_direct_set_node(&m, (struct lh_lock *)&tid, 12345);
	ok = ok && glibc_mutex_lock(&m) == 0 && glibc_mutex_unlock(&m) == 0 &&
	     glibc_mutex_trylock(&m) == 0 && glibc_mutex_unlock(&m) == 0;
	ok = ok && lh_direct_node(&m, &id) == (struct lh_lock *)&tid && id == 12345;
	lh_direct_clear_node(&m);
	return ok && direct_same(&m, 0, 0, 0) && lh_direct_node(&m, &id) == NULL;
}

static bool
readers_are(const pthread_rwlock_t *rw, unsigned readers)
{
	return rw->__data.__readers == readers && rw->__data.__cur_writer == 0;
}

/* The same for read locks: readers in and out both ways, and a writer's
 * lock that the inline try leaves alone. lh_direct_rw is on meanwhile. */
static bool
direct_rw_checks(void)
{
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
	const unsigned one = LH_RW_READER;
	bool ok;

	ok = readers_are(&rw, 0);
	ok = ok && glibc_rwlock_rdlock(&rw) == 0 && readers_are(&rw, one);
	ok = ok && lh_direct_rdtry(&rw) && readers_are(&rw, 2 * one);
	ok = ok && glibc_rwlock_unlock(&rw) == 0 && readers_are(&rw, one);
	ok = ok && lh_direct_rdunlock(&rw) && readers_are(&rw, 0);
	ok = ok && glibc_rwlock_wrlock(&rw) == 0 && !lh_direct_rdtry(&rw);
	ok = ok && glibc_rwlock_unlock(&rw) == 0 && !lh_direct_rdtry(&rw); /* write phase */
	ok = ok && glibc_rwlock_tryrdlock(&rw) == 0 && readers_are(&rw, one);
	return ok && lh_direct_rdunlock(&rw) && readers_are(&rw, 0);
}

/* The node kept in mutexes of the four plain kinds (direct.h): glibc's
 * calls of each kind leave __list alone, and its init clears it. */
static bool
mutex_kinds_checks(void)
{
	pthread_mutexattr_t attr;
	struct lh_lock *fake = (struct lh_lock *)&attr;
	bool ok = pthread_mutexattr_init(&attr) == 0;
	uint64_t id;

	for (int kind = PTHREAD_MUTEX_NORMAL; ok && kind <= PTHREAD_MUTEX_ADAPTIVE_NP; kind++) {
		bool rec = kind == PTHREAD_MUTEX_RECURSIVE;
		pthread_mutex_t m;
		int made;

		ok = pthread_mutexattr_settype(&attr, kind) == 0 &&
		     glibc_mutex_init(&m, &attr) == 0;
		made = m.__data.__kind; /* (an explicit NORMAL: no elision, 512) */
		ok = ok && (made & 3) == kind && (made & ~LH_MUTEX_NAMED_KINDS) == 0;
		if (!ok)
			break;
		lh_direct_set_node(&m, fake, 777);
		ok = glibc_mutex_lock(&m) == 0 && glibc_mutex_trylock(&m) == (rec ? 0 : EBUSY) &&
		     (!rec || glibc_mutex_unlock(&m) == 0) && glibc_mutex_unlock(&m) == 0 &&
		     glibc_mutex_trylock(&m) == 0 && glibc_mutex_unlock(&m) == 0;
		ok = ok && lh_direct_node(&m, &id) == fake && id == 777 && m.__data.__kind == made &&
		     m.__data.__owner == 0 && m.__data.__lock == 0;
		ok = ok && glibc_mutex_destroy(&m) == 0 && glibc_mutex_init(&m, &attr) == 0 &&
		     lh_direct_node(&m, &id) == NULL;
		glibc_mutex_destroy(&m);
	}
	pthread_mutexattr_destroy(&attr);
	return ok;
}

/* Whether rw's node words name node lk with id (or nothing: lk NULL). */
static bool
rw_names(const pthread_rwlock_t *rw, const struct lh_lock *lk, uint64_t id)
{
	struct lh_lock *got;
	uint64_t got_id;

	if (!lh_rw_decode(rw, &got, &got_id))
		return lk == NULL;
	return got == lk && got_id == id;
}

/* The node kept in a read-write lock (direct.h): glibc's calls leave its
 * words alone, its init clears them, and a private lock is told from a
 * shared one. */
static bool
rw_node_checks(void)
{
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
	pthread_rwlockattr_t attr;
	struct lh_lock *fake = (struct lh_lock *)&attr;
	bool ok;

	lh_name_set(LH_RW_W0(&rw), LH_RW_W1(&rw), &rw, fake, 12345);
	ok = rw_names(&rw, fake, 12345) && rw.__data.__shared == 0;
	ok = ok && glibc_rwlock_rdlock(&rw) == 0 && glibc_rwlock_tryrdlock(&rw) == 0 &&
	     glibc_rwlock_unlock(&rw) == 0 && glibc_rwlock_unlock(&rw) == 0;
	ok = ok && glibc_rwlock_wrlock(&rw) == 0 && glibc_rwlock_unlock(&rw) == 0 &&
	     glibc_rwlock_trywrlock(&rw) == 0 && glibc_rwlock_unlock(&rw) == 0;
	/* (glibc leaves a free lock in its write phase after a writer) */
	ok = ok && rw_names(&rw, fake, 12345) && rw.__data.__readers < LH_RW_READER &&
	     rw.__data.__cur_writer == 0;
	ok = ok && glibc_rwlock_destroy(&rw) == 0 && glibc_rwlock_init(&rw, NULL) == 0 &&
	     rw_names(&rw, NULL, 0) && rw.__data.__shared == 0;
	if (pthread_rwlockattr_init(&attr) != 0)
		return false;
	ok = ok && pthread_rwlockattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) == 0 &&
	     glibc_rwlock_destroy(&rw) == 0 && glibc_rwlock_init(&rw, &attr) == 0 &&
	     rw.__data.__shared != 0;
	pthread_rwlockattr_destroy(&attr);
	glibc_rwlock_destroy(&rw);
	return ok;
}

/* At start-up (lh_init_slow): whether glibc's locks are what direct.h
 * takes them for; if so, normal mutexes and read locks are taken inline
 * from now on. */
void
lh_intercept_direct_init(void)
{
	atomic_store_explicit(&lh_direct_kind, -1, memory_order_relaxed);
	atomic_store_explicit(&lh_direct_rw, false, memory_order_relaxed);
	atomic_store_explicit(&lh_rw_named_on, false, memory_order_relaxed);
	atomic_store_explicit(&lh_mutex_named_on, false, memory_order_relaxed);
	if (!lh_opt.inline_locks || lh_tsan)
		return;
	if (!lh_direct_key) { /* once: mutexes keep words made with it */
		uint64_t k;

		if (getrandom(&k, sizeof(k), GRND_NONBLOCK) != (ssize_t)sizeof(k))
			k = lh_mix64(lh_now_ns() ^ (uintptr_t)&k ^ (uint64_t)getpid());
		lh_direct_key = k | 1;
		lh_direct_mask = (uintptr_t)(lh_direct_key * 0x9e3779b97f4a7c15ull);
	}
	if (direct_mutex_checks())
		atomic_store_explicit(&lh_direct_kind, 0, memory_order_relaxed);
	atomic_store_explicit(&lh_direct_rw, true, memory_order_relaxed);
	if (!direct_rw_checks())
		atomic_store_explicit(&lh_direct_rw, false, memory_order_relaxed);
	if (rw_node_checks())
		atomic_store_explicit(&lh_rw_named_on, true, memory_order_relaxed);
	if (mutex_kinds_checks())
		atomic_store_explicit(&lh_mutex_named_on, true, memory_order_relaxed);
}

/* Whether normal mutexes and read locks are taken inline (for the tests). */
bool
lh_intercept_inline_mutex(void)
{
	return atomic_load_explicit(&lh_direct_kind, memory_order_relaxed) == 0;
}

bool
lh_intercept_inline_rwlock(void)
{
	return atomic_load_explicit(&lh_direct_rw, memory_order_relaxed);
}

/* As early as we can: a first lookup later could take the loader lock while
 * the caller holds a lock that a thread inside dlopen waits for. */
__attribute__((constructor(102))) static void
resolve_at_start(void)
{
	resolve_all();
}

/* ---- acquisitions ---------------------------------------------------------- */

static inline bool
acquired(int rc)
{
	return rc == 0 || rc == EOWNERDEAD;
}

static inline void
after(struct lh_thread *t, int slot, const void *lock, int rc)
{
	if (LH_LIKELY(acquired(rc)))
		lh_after_lock(t, slot, lock);
}

/* A contended acquisition: the thread waits for the lock. */
static inline void
wait_begin(struct lh_thread *t, const void *lock, enum lh_lock_type type, enum lh_mode mode,
	   uintptr_t pc, uintptr_t cfa)
{
	lh_wait_begin(t, LH_WAIT_LOCK, lock, type, mode, NULL, pc, cfa);
}

/*
 * The blocking calls of contended acquisitions, in slices (wait.c): each
 * slice is the real timed call; at its end the thread looks around and
 * waits again. They return what the real blocking call would.
 */
static int
block_mutex(struct lh_thread *t, pthread_mutex_t *m)
{
	/* Priority-inheritance (32) and -protect (64) mutexes, glibc's internal
	 * kind bits, wait on CLOCK_REALTIME only; so does libtsan, which does
	 * not intercept the clock variants. */
	bool realtime = (m->__data.__kind & (32 | 64)) != 0 || lh_tsan;
	struct timespec ts;
	int rc;

	if (!real.mutex_clocklock || !real.mutex_timedlock)
		return real_mutex_lock(m);
	for (;;) {
		lh_wait_deadline(t, realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts);
		rc = realtime ? real.mutex_timedlock(m, &ts)
			      : real.mutex_clocklock(m, CLOCK_MONOTONIC, &ts);
		if (rc != ETIMEDOUT)
			return rc;
		lh_wait_slice(t);
	}
}

static int
block_rwlock(struct lh_thread *t, pthread_rwlock_t *rw, enum lh_mode mode)
{
	struct timespec ts;
	int rc;

	if (!real.rwlock_clockrdlock || !real.rwlock_clockwrlock || !real.rwlock_timedrdlock ||
	    !real.rwlock_timedwrlock)
		return mode == LH_MODE_READ ? real_rwlock_rdlock(rw) : real_rwlock_wrlock(rw);
	for (;;) {
		if (LH_UNLIKELY(lh_tsan)) { /* libtsan sees the timed calls only */
			lh_wait_deadline(t, CLOCK_REALTIME, &ts);
			rc = mode == LH_MODE_READ ? real.rwlock_timedrdlock(rw, &ts)
						  : real.rwlock_timedwrlock(rw, &ts);
		} else {
			lh_wait_deadline(t, CLOCK_MONOTONIC, &ts);
			rc = mode == LH_MODE_READ
				     ? real.rwlock_clockrdlock(rw, CLOCK_MONOTONIC, &ts)
				     : real.rwlock_clockwrlock(rw, CLOCK_MONOTONIC, &ts);
		}
		if (rc != ETIMEDOUT)
			return rc;
		lh_wait_slice(t);
	}
}

static int
block_spin(struct lh_thread *t, pthread_spinlock_t *s)
{
	struct timespec ts, now;

	lh_wait_deadline(t, CLOCK_MONOTONIC, &ts);
	for (unsigned n = 1;; n++) {
		if (real.spin_trylock(s) == 0)
			return 0;
		__builtin_ia32_pause();
		if (n % 4096)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > ts.tv_sec || (now.tv_sec == ts.tv_sec && now.tv_nsec >= ts.tv_nsec)) {
			lh_wait_slice(t);
			lh_wait_deadline(t, CLOCK_MONOTONIC, &ts);
		}
	}
}

static int
block_mtx(struct lh_thread *t, mtx_t *m)
{
	struct timespec ts;
	int rc;

	if (!real.mtx_timedlock)
		return real.mtx_lock(m);
	for (;;) {
		lh_wait_deadline(t, CLOCK_REALTIME, &ts);
		rc = real.mtx_timedlock(m, &ts);
		if (rc != thrd_timedout)
			return rc;
		lh_wait_slice(t);
	}
}

/*
 * The body of a blocking or timed acquisition: try first, and only if the
 * lock is busy record the wait and make waitcall (the sliced blocking call,
 * or the program's own timed call). A relock the real call refuses at once
 * (LH_SLOT_FAILS) goes straight to it.
 */
#define WAITING(type, mode, how, lock, busy, trycall, call, waitcall)                    \
	do {                                                                             \
		struct lh_thread *t_ = lh_fast_self();                                   \
		int slot_, rc_;                                                          \
                                                                                         \
		if (LH_UNLIKELY(!t_))                                                    \
			return call;                                                     \
		slot_ = lh_before_lock(t_, (lock), (type), (mode), (how), RA(), CFA()); \
		if (LH_LIKELY(slot_ != LH_SLOT_FAILS)) {                                 \
			rc_ = trycall;                                                   \
			if (rc_ == (busy)) {                                             \
				wait_begin(t_, (lock), (type), (mode), RA(), CFA());     \
				rc_ = waitcall;                                          \
				lh_wait_end(t_);                                         \
			}                                                                \
		} else {                                                                 \
			rc_ = call;                                                      \
		}                                                                        \
		after(t_, slot_, (lock), rc_);                                           \
		return rc_;                                                              \
	} while (0)

/* The body of a trylock: it never waits; if it takes the lock, the hold is
 * recorded (lh_took, no order check). */
#define TRYING(type, mode, lock, call)                                                   \
	do {                                                                             \
		int rc_ = call;                                                          \
                                                                                         \
		if (LH_LIKELY(rc_ == 0))                                                 \
			return lh_took((lock), RA(), CFA(), LH_TOOK(LH_TRY, (type), (mode))); \
		if (rc_ == EOWNERDEAD)                                                   \
			lh_took((lock), RA(), CFA(), LH_TOOK(LH_TRY, (type), (mode)));   \
		return rc_;                                                              \
	} while (0)

/*
 * The body of a blocking acquisition: try first; if that takes the lock,
 * record the hold (lh_took checks its order); otherwise the contended path,
 * out of line, checks the order before blocking, records the wait and
 * blocks in slices. contended(lock, rc, pc, cfa) is per type. The common
 * case ends in a tail call: the wrapper saves one register.
 */
#define BLOCKING(type, mode, lock, trycall, contended)                                   \
	do {                                                                             \
		int rc_ = trycall;                                                       \
                                                                                         \
		if (LH_LIKELY(rc_ == 0))                                                 \
			return lh_took((lock), RA(), CFA(),                              \
				       LH_TOOK(LH_BLOCKING, (type), (mode)));            \
		rc_ = contended((lock), rc_, RA(), CFA());                               \
		/* Not a tail call: a waiting thread's stack (dumps, deadlocks)        \
		 * then shows the call the program made, pthread_mutex_lock. */        \
		__asm__ volatile("" ::: "memory");                                       \
		return rc_;                                                              \
	} while (0)

/*
 * The contended path of a blocking acquisition whose first try answered rc:
 * busyval (the lock is busy: check the order, record the wait, block with
 * waitcall), EOWNERDEAD (a robust mutex, taken), or an error the blocking
 * call would give too.
 */
#define CONTENDED(type, mode, lock, busyval, rc, call, waitcall)                         \
	do {                                                                             \
		struct lh_thread *t_;                                                    \
		int slot_;                                                               \
                                                                                         \
		if ((rc) == EOWNERDEAD) {                                                \
			lh_took((lock), pc, cfa, LH_TOOK(LH_BLOCKING, (type), (mode)));  \
			return (rc);                                                     \
		}                                                                        \
		if ((rc) != (busyval))                                                   \
			return (rc);                                                     \
		if (!(t_ = lh_fast_self()))                                              \
			return call;                                                     \
		slot_ = lh_before_lock(t_, (lock), (type), (mode), LH_BLOCKING, pc, cfa); \
		if (slot_ != LH_SLOT_FAILS) {                                            \
			lh_wait_begin(t_, LH_WAIT_LOCK, (lock), (type), (mode), NULL, pc, cfa); \
			(rc) = waitcall;                                                 \
			lh_wait_end(t_);                                                 \
		} else {                                                                 \
			(rc) = call;                                                     \
		}                                                                        \
		after(t_, slot_, (lock), (rc));                                          \
		return (rc);                                                             \
	} while (0)

/* The common case of a release: t (lh_self) tracks, and lock is on top of
 * its held stack, held once. Its entry (*top: its index, the held count
 * once it is popped), or NULL for release_slow(). */
static inline struct lh_held *
release_top(struct lh_thread *t, const void *lock, uint32_t *top)
{
	struct lh_held *h;
	uint32_t n;

	if (LH_UNLIKELY(t == NULL) || LH_UNLIKELY(t->busy) || LH_UNLIKELY((n = t->nheld) == 0))
		return NULL;
	h = &t->held[n - 1];
	*top = n - 1;
	return h->addr == (uintptr_t)lock && LH_LIKELY(h->count == 1) ? h : NULL;
}

/*
 * The body of a release: the lock leaves the held stack before the real
 * call. The common case (the thread known and not busy, the lock on top,
 * held once, nobody waiting for it and no hold timing: the lock's wait
 * hint) is inline and ends in a tail call to glibc; everything else goes
 * through release_slow().
 */
#define RELEASE(type, lk_, call)                                                             \
	do {                                                                             \
		struct lh_thread *t_ = lh_self;                                          \
		uint32_t top_;                                                           \
		struct lh_held *h_ = release_top(t_, (lk_), &top_);                      \
                                                                                         \
		if (LH_LIKELY(h_ != NULL) &&                                             \
		    LH_LIKELY(!atomic_load_explicit(&h_->lock->wait_hint,                \
						     memory_order_relaxed))) {          \
			t_->nheld = top_;                                                \
			return call;                                                     \
		}                                                                        \
		return release_slow((lk_), (type), RA(), CFA());                        \
	} while (0)

#define INIT(type, lock, call)                                                           \
	do {                                                                             \
		int rc_ = call;                                                          \
		struct lh_thread *t_;                                                    \
                                                                                         \
		if (rc_ == 0 && (t_ = lh_enter()) != NULL) {                             \
			lh_on_init((lock), (type), lh_lock_kind_of((lock), (type)), RA()); \
			lh_leave(t_);                                                    \
		}                                                                        \
		return rc_;                                                              \
	} while (0)

/* Destroy: a locked lock is misuse (said before the real call, which may
 * refuse); the identity ends once the real call succeeds. */
#define DESTROY(type, lock, call)                                                        \
	do {                                                                             \
		struct lh_thread *t_ = lh_enter();                                       \
		lh_word *w0_, *w1_;                                                      \
		/* Asked before the call, which makes a mutex's kind invalid. */       \
		bool named_ = lh_name_words((lock), (type), &w0_, &w1_);                \
		int rc_;                                                                 \
                                                                                         \
		if (t_) {                                                                \
			lh_misuse_destroy((lock), (type), CFA());                        \
			lh_leave(t_);                                                    \
		}                                                                        \
		rc_ = call;                                                              \
		if (rc_ == 0 && named_) /* the name goes with the lock */               \
			lh_name_clear(w0_, w1_);                                         \
		if (rc_ == 0 && t_) {                                                    \
			t_->busy = 1;                                                    \
			lh_on_destroy(lock);                                             \
			t_->busy = 0;                                                    \
		}                                                                        \
		return rc_;                                                              \
	} while (0)

/* ---- contended paths, out of line ---------------------------------------- */

static __attribute__((noinline)) int
mutex_contended(pthread_mutex_t *m, int rc, uintptr_t pc, uintptr_t cfa)
{
	CONTENDED(LH_TYPE_MUTEX, LH_MODE_WRITE, m, EBUSY, rc, real_mutex_lock(m),
		  block_mutex(t_, m));
}

static __attribute__((noinline)) int
rdlock_contended(pthread_rwlock_t *rw, int rc, uintptr_t pc, uintptr_t cfa)
{
	CONTENDED(LH_TYPE_RWLOCK, LH_MODE_READ, rw, EBUSY, rc, real_rwlock_rdlock(rw),
		  block_rwlock(t_, rw, LH_MODE_READ));
}

static __attribute__((noinline)) int
wrlock_contended(pthread_rwlock_t *rw, int rc, uintptr_t pc, uintptr_t cfa)
{
	CONTENDED(LH_TYPE_RWLOCK, LH_MODE_WRITE, rw, EBUSY, rc, real_rwlock_wrlock(rw),
		  block_rwlock(t_, rw, LH_MODE_WRITE));
}

/* (A pthread_spinlock_t is a volatile int: the runtime handles it as void *.) */
static __attribute__((noinline)) int
spin_contended(void *lock, int rc, uintptr_t pc, uintptr_t cfa)
{
	pthread_spinlock_t *s = lock;

	CONTENDED(LH_TYPE_SPIN, LH_MODE_WRITE, lock, EBUSY, rc, real.spin_lock(s),
		  block_spin(t_, s));
}

static __attribute__((noinline)) int
mtx_contended(mtx_t *m, int rc, uintptr_t pc, uintptr_t cfa)
{
	CONTENDED(LH_TYPE_MTX, LH_MODE_WRITE, m, thrd_busy, rc, real.mtx_lock(m),
		  block_mtx(t_, m));
}

/* The general path of every release: bookkeeping (out-of-order unlocks,
 * re-entries, statistics, misuse), then the real call. A thread whose first
 * call is an unlock gets its state made here: that unlock is misuse. */
static __attribute__((noinline)) int
release_slow(void *lock, enum lh_lock_type type, uintptr_t pc, uintptr_t cfa)
{
	struct lh_thread *t = lh_self;

	if (t ? !t->busy : (t = lh_fast_self_slow()) != NULL)
		lh_on_unlock(t, lock, type, pc, cfa);
	switch (type) {
	case LH_TYPE_MUTEX:
		return real_mutex_unlock(lock);
	case LH_TYPE_RWLOCK:
		return real_rwlock_unlock(lock);
	case LH_TYPE_SPIN:
		RESOLVE(spin_unlock, "pthread_spin_unlock", NULL);
		return real.spin_unlock(lock);
	default:
		RESOLVE(mtx_unlock, "mtx_unlock", NULL);
		return real.mtx_unlock(lock);
	}
}

/*
 * An inline release (pthread_mutex_unlock) that met a sleeper (old 2) or a
 * wait hint: say where the lock was released (lh_stat_released, which
 * waiters read once they have it) before waking one. h left t's held stack
 * already; its node is checked to be the lock's still (another thread may
 * have taken, destroyed and remade it since the release).
 */
static __attribute__((noinline)) int
direct_released(struct lh_thread *t, struct lh_held *h, pthread_mutex_t *m, int old,
		uintptr_t pc)
{
	struct lh_lock *lk = h->lock;

	if (atomic_load_explicit(&lk->wait_hint, memory_order_relaxed) && lk->id == h->id)
		lh_stat_released(t, h, pc);
	if (old > 1)
		lh_direct_wake(m);
	return 0;
}

/* ---- mutexes --------------------------------------------------------------- */

LH_EXPORT int
pthread_mutex_lock(pthread_mutex_t *m)
{
	struct lh_thread *t = lh_self;

	if (LH_LIKELY(t != NULL) && lh_direct(m)) {
		int rc;

		if (LH_LIKELY(lh_direct_trylock(m, t->tid)))
			return lh_took_direct(m, RA(), CFA(),
					      LH_TOOK(LH_BLOCKING, LH_TYPE_MUTEX, LH_MODE_WRITE), t);
		rc = mutex_contended(m, EBUSY, RA(), CFA());
		__asm__ volatile("" ::: "memory"); /* not a tail call: see BLOCKING */
		return rc;
	}
	BLOCKING(LH_TYPE_MUTEX, LH_MODE_WRITE, m, real_mutex_trylock(m), mutex_contended);
}

LH_EXPORT int
pthread_mutex_trylock(pthread_mutex_t *m)
{
	struct lh_thread *t = lh_self;

	if (LH_LIKELY(t != NULL) && lh_direct(m)) {
		if (LH_LIKELY(lh_direct_trylock(m, t->tid)))
			return lh_took_direct(m, RA(), CFA(),
					      LH_TOOK(LH_TRY, LH_TYPE_MUTEX, LH_MODE_WRITE), t);
		return EBUSY;
	}
	TRYING(LH_TYPE_MUTEX, LH_MODE_WRITE, m, real_mutex_trylock(m));
}

LH_EXPORT int
pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *abstime)
{
	RESOLVE(mutex_timedlock, "pthread_mutex_timedlock", NULL);
	WAITING(LH_TYPE_MUTEX, LH_MODE_WRITE, LH_TIMED, m, EBUSY, real_mutex_trylock(m),
		real.mutex_timedlock(m, abstime), real.mutex_timedlock(m, abstime));
}

LH_EXPORT int
pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clock, const struct timespec *abstime)
{
	RESOLVE(mutex_clocklock, "pthread_mutex_clocklock", NULL);
	WAITING(LH_TYPE_MUTEX, LH_MODE_WRITE, LH_TIMED, m, EBUSY, real_mutex_trylock(m),
		real.mutex_clocklock(m, clock, abstime), real.mutex_clocklock(m, clock, abstime));
}

LH_EXPORT int
pthread_mutex_unlock(pthread_mutex_t *m)
{
	struct lh_thread *t;
	struct lh_held *h;
	uint32_t top;

	if (!lh_direct(m))
		RELEASE(LH_TYPE_MUTEX, m, real_mutex_unlock(m));
	/* Inline: as RELEASE, but the wait hint is read after the release,
	 * out of the time the mutex is held (waiters write it). */
	t = lh_self;
	if (LH_LIKELY((h = release_top(t, m, &top)) != NULL)) {
		int old;

		/* Off the stack first, as RELEASE does: a signal handler that
		 * takes m once it is free must not find it held (a relock). */
		t->nheld = top;
		old = lh_direct_release(m);
		if (LH_UNLIKELY(old > 1) ||
		    LH_UNLIKELY(atomic_load_explicit(&h->lock->wait_hint, memory_order_relaxed)))
			return direct_released(t, h, m, old, RA());
		return 0;
	}
	return release_slow(m, LH_TYPE_MUTEX, RA(), CFA());
}

LH_EXPORT int
pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr)
{
	INIT(LH_TYPE_MUTEX, m, real_mutex_init(m, attr));
}

LH_EXPORT int
pthread_mutex_destroy(pthread_mutex_t *m)
{
	DESTROY(LH_TYPE_MUTEX, m, real_mutex_destroy(m));
}

/* ---- reader-writer locks --------------------------------------------------- */

/* A read lock's first try: inline when direct.h can (rdlock, tryrdlock). */
static inline int
tryrdlock(pthread_rwlock_t *rw)
{
	return LH_LIKELY(lh_direct_rdtry(rw)) ? 0 : real_rwlock_tryrdlock(rw);
}

LH_EXPORT int
pthread_rwlock_rdlock(pthread_rwlock_t *rw)
{
	BLOCKING(LH_TYPE_RWLOCK, LH_MODE_READ, rw, tryrdlock(rw), rdlock_contended);
}

LH_EXPORT int
pthread_rwlock_wrlock(pthread_rwlock_t *rw)
{
	BLOCKING(LH_TYPE_RWLOCK, LH_MODE_WRITE, rw, real_rwlock_trywrlock(rw), wrlock_contended);
}

LH_EXPORT int
pthread_rwlock_tryrdlock(pthread_rwlock_t *rw)
{
	TRYING(LH_TYPE_RWLOCK, LH_MODE_READ, rw, tryrdlock(rw));
}

LH_EXPORT int
pthread_rwlock_trywrlock(pthread_rwlock_t *rw)
{
	TRYING(LH_TYPE_RWLOCK, LH_MODE_WRITE, rw, real_rwlock_trywrlock(rw));
}

LH_EXPORT int
pthread_rwlock_timedrdlock(pthread_rwlock_t *rw, const struct timespec *abstime)
{
	RESOLVE(rwlock_timedrdlock, "pthread_rwlock_timedrdlock", NULL);
	WAITING(LH_TYPE_RWLOCK, LH_MODE_READ, LH_TIMED, rw, EBUSY, real_rwlock_tryrdlock(rw),
		real.rwlock_timedrdlock(rw, abstime), real.rwlock_timedrdlock(rw, abstime));
}

LH_EXPORT int
pthread_rwlock_timedwrlock(pthread_rwlock_t *rw, const struct timespec *abstime)
{
	RESOLVE(rwlock_timedwrlock, "pthread_rwlock_timedwrlock", NULL);
	WAITING(LH_TYPE_RWLOCK, LH_MODE_WRITE, LH_TIMED, rw, EBUSY, real_rwlock_trywrlock(rw),
		real.rwlock_timedwrlock(rw, abstime), real.rwlock_timedwrlock(rw, abstime));
}

LH_EXPORT int
pthread_rwlock_clockrdlock(pthread_rwlock_t *rw, clockid_t clock, const struct timespec *abstime)
{
	RESOLVE(rwlock_clockrdlock, "pthread_rwlock_clockrdlock", NULL);
	WAITING(LH_TYPE_RWLOCK, LH_MODE_READ, LH_TIMED, rw, EBUSY, real_rwlock_tryrdlock(rw),
		real.rwlock_clockrdlock(rw, clock, abstime), real.rwlock_clockrdlock(rw, clock, abstime));
}

LH_EXPORT int
pthread_rwlock_clockwrlock(pthread_rwlock_t *rw, clockid_t clock, const struct timespec *abstime)
{
	RESOLVE(rwlock_clockwrlock, "pthread_rwlock_clockwrlock", NULL);
	WAITING(LH_TYPE_RWLOCK, LH_MODE_WRITE, LH_TIMED, rw, EBUSY, real_rwlock_trywrlock(rw),
		real.rwlock_clockwrlock(rw, clock, abstime), real.rwlock_clockwrlock(rw, clock, abstime));
}

LH_EXPORT int
pthread_rwlock_unlock(pthread_rwlock_t *rw)
{
	/* h_ is RELEASE's entry of rw, just popped: a read hold may leave inline. */
	RELEASE(LH_TYPE_RWLOCK, rw,
		h_->mode == LH_MODE_READ && lh_direct_rdunlock(rw) ? 0 : real_rwlock_unlock(rw));
}

LH_EXPORT int
pthread_rwlock_init(pthread_rwlock_t *rw, const pthread_rwlockattr_t *attr)
{
	INIT(LH_TYPE_RWLOCK, rw, real_rwlock_init(rw, attr));
}

LH_EXPORT int
pthread_rwlock_destroy(pthread_rwlock_t *rw)
{
	DESTROY(LH_TYPE_RWLOCK, rw, real_rwlock_destroy(rw));
}

/* ---- spinlocks --------------------------------------------------------------- */

LH_EXPORT int
pthread_spin_lock(pthread_spinlock_t *s)
{
	RESOLVE(spin_lock, "pthread_spin_lock", NULL);
	RESOLVE(spin_trylock, "pthread_spin_trylock", NULL);
	BLOCKING(LH_TYPE_SPIN, LH_MODE_WRITE, (void *)s, real.spin_trylock(s), spin_contended);
}

LH_EXPORT int
pthread_spin_trylock(pthread_spinlock_t *s)
{
	RESOLVE(spin_trylock, "pthread_spin_trylock", NULL);
	TRYING(LH_TYPE_SPIN, LH_MODE_WRITE, (void *)s, real.spin_trylock(s));
}

LH_EXPORT int
pthread_spin_unlock(pthread_spinlock_t *s)
{
	RESOLVE(spin_unlock, "pthread_spin_unlock", NULL);
	RELEASE(LH_TYPE_SPIN, (void *)s, real.spin_unlock(s));
}

LH_EXPORT int
pthread_spin_init(pthread_spinlock_t *s, int pshared)
{
	RESOLVE(spin_init, "pthread_spin_init", NULL);
	INIT(LH_TYPE_SPIN, (void *)s, real.spin_init(s, pshared));
}

LH_EXPORT int
pthread_spin_destroy(pthread_spinlock_t *s)
{
	RESOLVE(spin_destroy, "pthread_spin_destroy", NULL);
	DESTROY(LH_TYPE_SPIN, (void *)s, real.spin_destroy(s));
}

/* ---- C11 mutexes --------------------------------------------------------------- */

LH_EXPORT int
mtx_lock(mtx_t *m)
{
	RESOLVE(mtx_lock, "mtx_lock", NULL);
	RESOLVE(mtx_trylock, "mtx_trylock", NULL);
	BLOCKING(LH_TYPE_MTX, LH_MODE_WRITE, m, real.mtx_trylock(m), mtx_contended);
}

LH_EXPORT int
mtx_trylock(mtx_t *m)
{
	RESOLVE(mtx_trylock, "mtx_trylock", NULL);
	TRYING(LH_TYPE_MTX, LH_MODE_WRITE, m, real.mtx_trylock(m));
}

LH_EXPORT int
mtx_timedlock(mtx_t *__restrict m, const struct timespec *__restrict ts)
{
	RESOLVE(mtx_timedlock, "mtx_timedlock", NULL);
	RESOLVE(mtx_trylock, "mtx_trylock", NULL);
	WAITING(LH_TYPE_MTX, LH_MODE_WRITE, LH_TIMED, m, thrd_busy, real.mtx_trylock(m),
		real.mtx_timedlock(m, ts), real.mtx_timedlock(m, ts));
}

LH_EXPORT int
mtx_unlock(mtx_t *m)
{
	RESOLVE(mtx_unlock, "mtx_unlock", NULL);
	RELEASE(LH_TYPE_MTX, m, real.mtx_unlock(m));
}

LH_EXPORT int
mtx_init(mtx_t *m, int type)
{
	RESOLVE(mtx_init, "mtx_init", NULL);
	INIT(LH_TYPE_MTX, m, real.mtx_init(m, type));
}

LH_EXPORT void
mtx_destroy(mtx_t *m)
{
	struct lh_thread *t;
	lh_word *w0, *w1;
	/* As DESTROY: asked before glibc's destroy makes the kind invalid. */
	bool named = lh_name_words(m, LH_TYPE_MTX, &w0, &w1);

	RESOLVE(mtx_destroy, "mtx_destroy", NULL);
	if ((t = lh_enter()) != NULL) {
		lh_misuse_destroy(m, LH_TYPE_MTX, CFA());
		lh_on_destroy(m);
		lh_leave(t);
	}
	real.mtx_destroy(m);
	if (named)
		lh_name_clear(w0, w1);
}

/* ---- condition variables ------------------------------------------------------ */

/* The body of every condition wait: the mutex is released for the wait and
 * taken again after it, also on cancellation (a cleanup handler). */
/* Before a condition wait; NULL if the thread is not tracked. Out of line,
 * so that the setjmp of pthread_cleanup_push does not see its locals. */
static __attribute__((noinline)) struct lh_thread *
cond_begin(struct lh_cond_wait *w)
{
	struct lh_thread *t = lh_enter();

	if (!t)
		return NULL;
	lh_cond_enter(t, w);
	lh_leave(t);
	return t;
}

static void
cond_end(struct lh_cond_wait *w, bool reacquired)
{
	w->t->busy = 1;
	lh_cond_exit(w, reacquired);
	w->t->busy = 0;
}

/* The body of every condition wait: the mutex is released for the wait and
 * taken again after it, also on cancellation (a cleanup handler). */
#define COND_WAIT(cv, mx, mxtype, call, reacquired)                                      \
	do {                                                                             \
		struct lh_cond_wait w_ = {.cond = (cv),                                  \
					  .mutex = (mx),                                 \
					  .mutex_type = (mxtype),                        \
					  .pc = RA(),                                    \
					  .cfa = CFA()};                                 \
		int rc_;                                                                 \
                                                                                         \
		if (!cond_begin(&w_))                                                    \
			return call;                                                     \
		pthread_cleanup_push(lh_cond_cancelled, &w_);                            \
		rc_ = call;                                                              \
		pthread_cleanup_pop(0);                                                  \
		cond_end(&w_, reacquired(rc_));                                          \
		return rc_;                                                              \
	} while (0)

/* glibc returns with the mutex held on success, timeout and EOWNERDEAD. */
static inline bool
cond_reacquired(int rc)
{
	return rc == 0 || rc == ETIMEDOUT || rc == EOWNERDEAD;
}

static inline bool
cnd_reacquired(int rc)
{
	return rc == thrd_success || rc == thrd_timedout;
}

LH_EXPORT int
pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	RESOLVE(cond_wait, "pthread_cond_wait", COND_VERSION);
	COND_WAIT(c, m, LH_TYPE_MUTEX, real.cond_wait(c, m), cond_reacquired);
}

LH_EXPORT int
pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *abstime)
{
	RESOLVE(cond_timedwait, "pthread_cond_timedwait", COND_VERSION);
	COND_WAIT(c, m, LH_TYPE_MUTEX, real.cond_timedwait(c, m, abstime), cond_reacquired);
}

LH_EXPORT int
pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clock,
		       const struct timespec *abstime)
{
	RESOLVE(cond_clockwait, "pthread_cond_clockwait", NULL);
	COND_WAIT(c, m, LH_TYPE_MUTEX, real.cond_clockwait(c, m, clock, abstime),
		  cond_reacquired);
}

LH_EXPORT int
pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *attr)
{
	struct lh_thread *t;
	int rc;

	RESOLVE(cond_init, "pthread_cond_init", COND_VERSION);
	rc = real.cond_init(c, attr);
	if (rc == 0 && (t = lh_enter()) != NULL) {
		lh_cond_destroy(c); /* a new condition variable: a fresh record */
		lh_leave(t);
	}
	return rc;
}

LH_EXPORT int
pthread_cond_destroy(pthread_cond_t *c)
{
	struct lh_thread *t;

	RESOLVE(cond_destroy, "pthread_cond_destroy", COND_VERSION);
	if ((t = lh_enter()) != NULL) {
		lh_cond_destroy(c);
		lh_leave(t);
	}
	return real.cond_destroy(c);
}

LH_EXPORT int
cnd_wait(cnd_t *c, mtx_t *m)
{
	RESOLVE(cnd_wait, "cnd_wait", NULL);
	COND_WAIT(c, m, LH_TYPE_MTX, real.cnd_wait(c, m), cnd_reacquired);
}

LH_EXPORT int
cnd_timedwait(cnd_t *__restrict c, mtx_t *__restrict m, const struct timespec *__restrict ts)
{
	RESOLVE(cnd_timedwait, "cnd_timedwait", NULL);
	COND_WAIT(c, m, LH_TYPE_MTX, real.cnd_timedwait(c, m, ts), cnd_reacquired);
}

/* ---- semaphores and barriers: no owner, so no order; but they are waits ------- */

/* sem_trywait first, keeping errno as if it had not been called; a blocking
 * call only when the semaphore is at zero. */
#define SEM_WAIT(sem, call)                                                              \
	do {                                                                             \
		struct lh_thread *t_ = lh_enter();                                       \
		int rc_, err_;                                                           \
                                                                                         \
		if (!t_)                                                                 \
			return call;                                                     \
		lh_leave(t_);                                                            \
		err_ = errno;                                                            \
		if (real.sem_trywait((sem)) == 0)                                        \
			return 0;                                                        \
		if (errno != EAGAIN)                                                     \
			return call; /* EINVAL and the like: the real call says so */    \
		errno = err_;                                                            \
		lh_wait_begin(t_, LH_WAIT_SEM, (sem), LH_TYPE_COUNT, LH_MODE_WRITE, NULL,  \
			      RA(), CFA());                                              \
		rc_ = call;                                                              \
		lh_wait_end(t_);                                                         \
		return rc_;                                                              \
	} while (0)

LH_EXPORT int
sem_wait(sem_t *s)
{
	RESOLVE(sem_wait, "sem_wait", NULL);
	RESOLVE(sem_trywait, "sem_trywait", NULL);
	SEM_WAIT(s, real.sem_wait(s));
}

LH_EXPORT int
sem_timedwait(sem_t *s, const struct timespec *abstime)
{
	RESOLVE(sem_timedwait, "sem_timedwait", NULL);
	RESOLVE(sem_trywait, "sem_trywait", NULL);
	SEM_WAIT(s, real.sem_timedwait(s, abstime));
}

LH_EXPORT int
sem_clockwait(sem_t *s, clockid_t clock, const struct timespec *abstime)
{
	RESOLVE(sem_clockwait, "sem_clockwait", NULL);
	RESOLVE(sem_trywait, "sem_trywait", NULL);
	SEM_WAIT(s, real.sem_clockwait(s, clock, abstime));
}

LH_EXPORT int
pthread_barrier_wait(pthread_barrier_t *b)
{
	struct lh_thread *t;
	int rc;

	RESOLVE(barrier_wait, "pthread_barrier_wait", NULL);
	if (!(t = lh_enter()))
		return real.barrier_wait(b);
	lh_leave(t);
	lh_wait_begin(t, LH_WAIT_BARRIER, b, LH_TYPE_COUNT, LH_MODE_WRITE, NULL, RA(), CFA());
	rc = real.barrier_wait(b);
	lh_wait_end(t);
	return rc;
}

/* ---- annotations (lockhound.h) ----------------------------------------- */

LH_EXPORT unsigned
lh_version(void)
{
	return LH_VERSION_HEX;
}

LH_EXPORT void
lh_lock_name(const void *lock, const char *name)
{
	struct lh_thread *t = lh_enter();
	struct lh_lock *lk;

	if (!t)
		return;
	lk = lh_locktab_find(lock);
	if (!lk)
		lk = lh_locktab_get(lock, LH_TYPE_MUTEX, lh_mutex_kind_of(lock), RA(), false);
	if (lk && name) {
		const char *copy = lh_strdup(name);

		lh_graph_lock();
		lk->name = copy;
		if (lk->gnode) {
			lk->gnode->name = copy;
			lk->gnode->label = NULL;
		}
		lh_graph_unlock();
	}
	lh_leave(t);
}

/* lh_dump(): the calling thread dumps every thread (dump.c). */
LH_EXPORT int
lh_dump(void)
{
	struct lh_thread *t = lh_enter();
	int err = errno, rc;

	if (!t)
		return lh_ready() ? -EBUSY : -ENOSYS;
	rc = lh_dump_run(CFA());
	lh_leave(t);
	errno = err;
	return rc;
}

/* ---- threads and signals, for thread dumps (dump.c) ---------------------- */

/* The process is about to have a second thread: the dump thread starts
 * first (unless dumps by signal are off). Nothing else changes. */
LH_EXPORT int
pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	int err = errno;

	RESOLVE(pthread_create, "pthread_create", NULL);
	if (lh_ready())
		lh_dump_start(real.pthread_create);
	errno = err;
	return real.pthread_create(th, attr, fn, arg);
}

/*
 * sigaction() and signal() pass straight through, except for the runtime's
 * real-time signal (the program's action is kept aside and chained to) and
 * the dump signal (the program's handler wins and the runtime says so).
 * They never start the runtime: a handler a library installs before the
 * runtime's start-up is chained to.
 */
LH_EXPORT int
sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	int rc;

	if (lh_dump_sigaction(sig, act, old, &rc))
		return rc;
	return real_sigaction(sig, act, old);
}

/* Installs handler for one of the runtime's signals with these flags and,
 * unless SA_NODEFER, sig in the mask, as glibc's signal() variants do. */
static sighandler_t
owned_handler(int sig, sighandler_t handler, int flags)
{
	struct sigaction act, old;
	int rc;

	memset(&act, 0, sizeof(act));
	act.sa_handler = handler;
	sigemptyset(&act.sa_mask);
	if (!(flags & SA_NODEFER))
		sigaddset(&act.sa_mask, sig);
	act.sa_flags = flags;
	if (!lh_dump_sigaction(sig, &act, &old, &rc))
		rc = real_sigaction(sig, &act, &old);
	return rc < 0 ? SIG_ERR : old.sa_handler;
}

/* Threads cache their own names (thread.c): a rename makes them read again. */
LH_EXPORT int
pthread_setname_np(pthread_t th, const char *name)
{
	int rc;

	RESOLVE(setname, "pthread_setname_np", NULL);
	rc = real.setname ? real.setname(th, name) : ENOSYS;
	lh_thread_names_changed();
	return rc;
}

/* glibc's signal(), bsd_signal(), sysv_signal() and sigset() call its
 * internal sigaction, not ours: each gets the same care for the runtime's
 * two signals, with glibc's semantics. */
LH_EXPORT sighandler_t
signal(int sig, sighandler_t handler)
{
	RESOLVE(signal, "signal", NULL);
	if (!lh_dump_owns(sig))
		return real.signal(sig, handler);
	return owned_handler(sig, handler, SA_RESTART); /* BSD semantics */
}

sighandler_t bsd_signal(int sig, sighandler_t handler); /* <signal.h> hides it */

LH_EXPORT sighandler_t
bsd_signal(int sig, sighandler_t handler)
{
	RESOLVE(bsd_signal, "bsd_signal", NULL);
	if (!lh_dump_owns(sig))
		return real.bsd_signal(sig, handler);
	return owned_handler(sig, handler, SA_RESTART);
}

LH_EXPORT sighandler_t
sysv_signal(int sig, sighandler_t handler)
{
	RESOLVE(sysv_signal, "sysv_signal", NULL);
	if (!lh_dump_owns(sig))
		return real.sysv_signal(sig, handler);
	return owned_handler(sig, handler, SA_RESETHAND | SA_NODEFER); /* one-shot */
}

/* System V: SIG_HOLD blocks the signal; anything else installs it (no
 * flags, empty mask) and unblocks it. The previous disposition, or
 * SIG_HOLD if it was blocked. */
LH_EXPORT sighandler_t
sigset(int sig, sighandler_t disp)
{
	struct sigaction act, old;
	sigset_t one, was;
	int rc;

	RESOLVE(sigset, "sigset", NULL);
	if (!lh_dump_owns(sig))
		return real.sigset(sig, disp);
	sigemptyset(&one);
	sigaddset(&one, sig);
	if (disp == SIG_HOLD) {
		if (pthread_sigmask(SIG_BLOCK, &one, &was) != 0)
			return SIG_ERR;
		if (sigismember(&was, sig))
			return SIG_HOLD;
		if (!lh_dump_sigaction(sig, NULL, &old, &rc))
			rc = real_sigaction(sig, NULL, &old);
		return rc < 0 ? SIG_ERR : old.sa_handler;
	}
	memset(&act, 0, sizeof(act));
	act.sa_handler = disp;
	sigemptyset(&act.sa_mask);
	if (!lh_dump_sigaction(sig, &act, &old, &rc))
		rc = real_sigaction(sig, &act, &old);
	if (rc < 0 || pthread_sigmask(SIG_UNBLOCK, &one, &was) != 0)
		return SIG_ERR;
	return sigismember(&was, sig) ? SIG_HOLD : old.sa_handler;
}
