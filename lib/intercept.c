/*
 * The interposed pthread calls. Each wrapper calls the real function in
 * glibc and tells acquire.h what happened; it returns the real call's result
 * and leaves errno as the real call left it (the hot path never touches
 * errno; the slow paths save and restore it).
 *
 * Real functions: glibc's __pthread_mutex_* aliases are bound at link time
 * through .symver (no dlsym, so they work before and during start-up); the
 * rest are looked up once with dlsym(RTLD_NEXT).
 *
 * Exported with default visibility and no symbol version (liblockhound.sym
 * versions only lh_*), so that they interpose whatever version the program
 * asked for: a versioned definition would not match GLIBC_2.2.5 references.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>

#define LH_BUILDING_RUNTIME
#include "lockhound.h"
#include "acquire.h"

#define RA() ((uintptr_t)__builtin_return_address(0))
#define CFA() ((uintptr_t)__builtin_dwarf_cfa())

extern int glibc_mutex_lock(pthread_mutex_t *m);
extern int glibc_mutex_trylock(pthread_mutex_t *m);
extern int glibc_mutex_unlock(pthread_mutex_t *m);
extern int glibc_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr);
extern int glibc_mutex_destroy(pthread_mutex_t *m);
__asm__(".symver glibc_mutex_lock, __pthread_mutex_lock@GLIBC_2.2.5");
__asm__(".symver glibc_mutex_trylock, __pthread_mutex_trylock@GLIBC_2.2.5");
__asm__(".symver glibc_mutex_unlock, __pthread_mutex_unlock@GLIBC_2.2.5");
__asm__(".symver glibc_mutex_init, __pthread_mutex_init@GLIBC_2.2.5");
__asm__(".symver glibc_mutex_destroy, __pthread_mutex_destroy@GLIBC_2.2.5");

typedef int (*timedlock_fn)(pthread_mutex_t *, const struct timespec *);
typedef int (*clocklock_fn)(pthread_mutex_t *, clockid_t, const struct timespec *);

static timedlock_fn real_mutex_timedlock;
static clocklock_fn real_mutex_clocklock;

/* dlsym may allocate, and the allocator may lock: callers are busy or before
 * start-up, so such calls pass straight through. */
static void *
next_symbol(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

#define RESOLVE(var, name)                                                               \
	do {                                                                             \
		if (LH_UNLIKELY(!(var)))                                                 \
			(var) = (__typeof__(var))next_symbol(name);                       \
	} while (0)

/*
 * The real mutex functions: glibc's, except when libtsan is in the process
 * (lh_tsan, found at start-up). libtsan interposes the __pthread_mutex_*
 * aliases too, with nothing behind them; then the real function is the
 * next pthread_mutex_* after us (TSan's interceptor, or glibc's).
 */
#define REAL_MUTEX(fn, name, params, args)                                              \
	static inline int real_##fn params                                               \
	{                                                                                \
		static int(*next_) params;                                               \
                                                                                         \
		if (LH_UNLIKELY(lh_tsan)) {                                              \
			RESOLVE(next_, name);                                            \
			return next_ args;                                               \
		}                                                                        \
		return glibc_##fn args;                                                  \
	}

REAL_MUTEX(mutex_lock, "pthread_mutex_lock", (pthread_mutex_t * m), (m))
REAL_MUTEX(mutex_trylock, "pthread_mutex_trylock", (pthread_mutex_t * m), (m))
REAL_MUTEX(mutex_unlock, "pthread_mutex_unlock", (pthread_mutex_t * m), (m))
REAL_MUTEX(mutex_init, "pthread_mutex_init",
	   (pthread_mutex_t * m, const pthread_mutexattr_t *attr), (m, attr))
REAL_MUTEX(mutex_destroy, "pthread_mutex_destroy", (pthread_mutex_t * m), (m))

static inline bool
acquired(int rc)
{
	return rc == 0 || rc == EOWNERDEAD;
}

static inline void
after(struct lh_thread *t, int slot, const void *lock, int rc)
{
	if (!acquired(rc))
		return;
	t->busy = 1;
	lh_after_lock(t, slot, lock);
	t->busy = 0;
}

/* The body of every blocking, trying or timed acquisition wrapper. */
#define ACQUIRE(type, mode, how, lock, call)                                             \
	do {                                                                             \
		struct lh_thread *t_ = lh_enter();                                       \
		int slot_, rc_;                                                          \
                                                                                         \
		if (!t_)                                                                 \
			return call;                                                     \
		slot_ = lh_before_lock(t_, (lock), (type), (mode), (how), RA(), CFA()); \
		lh_leave(t_);                                                            \
		rc_ = call;                                                              \
		after(t_, slot_, (lock), rc_);                                           \
		return rc_;                                                              \
	} while (0)

LH_EXPORT int
pthread_mutex_lock(pthread_mutex_t *m)
{
	ACQUIRE(LH_TYPE_MUTEX, LH_MODE_WRITE, LH_BLOCKING, m, real_mutex_lock(m));
}

LH_EXPORT int
pthread_mutex_trylock(pthread_mutex_t *m)
{
	ACQUIRE(LH_TYPE_MUTEX, LH_MODE_WRITE, LH_TRY, m, real_mutex_trylock(m));
}

LH_EXPORT int
pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *abstime)
{
	RESOLVE(real_mutex_timedlock, "pthread_mutex_timedlock");
	ACQUIRE(LH_TYPE_MUTEX, LH_MODE_WRITE, LH_TIMED, m, real_mutex_timedlock(m, abstime));
}

LH_EXPORT int
pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clock, const struct timespec *abstime)
{
	RESOLVE(real_mutex_clocklock, "pthread_mutex_clocklock");
	ACQUIRE(LH_TYPE_MUTEX, LH_MODE_WRITE, LH_TIMED, m,
		real_mutex_clocklock(m, clock, abstime));
}

LH_EXPORT int
pthread_mutex_unlock(pthread_mutex_t *m)
{
	struct lh_thread *t = lh_self;

	/* No busy marking: forgetting a held lock calls nothing that locks. */
	if (LH_LIKELY(t != NULL) && LH_LIKELY(!t->busy))
		lh_on_unlock(t, m);
	return real_mutex_unlock(m);
}

LH_EXPORT int
pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr)
{
	int rc = real_mutex_init(m, attr);
	struct lh_thread *t;

	if (rc == 0 && (t = lh_enter()) != NULL) {
		lh_on_init(m, LH_TYPE_MUTEX, lh_mutex_kind_of(m), RA());
		lh_leave(t);
	}
	return rc;
}

LH_EXPORT int
pthread_mutex_destroy(pthread_mutex_t *m)
{
	int rc = real_mutex_destroy(m);
	struct lh_thread *t;

	if (rc == 0 && (t = lh_enter()) != NULL) {
		lh_on_destroy(m);
		lh_leave(t);
	}
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
