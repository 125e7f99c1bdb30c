/*
 * Ownership assertions: lh_check_held(), behind lh_assert_held(),
 * lh_assert_rdheld() and lh_assert_wrheld() in lockhound.h.
 *
 * The answer comes from the calling thread's held-lock stack. A lock that is
 * not on it may still be held: taken before the runtime was loaded, or
 * through a call the runtime does not interpose. For those, the lock itself
 * is asked where glibc records an owner (a mutex's owner tid, an rwlock's
 * writer tid); where it records none (readers of an rwlock, a spinlock), a
 * lock held by somebody is given the benefit of the doubt. A lock not held
 * is reported as a "misuse" with what "not-held", once per call site. Takes
 * no lock unless it reports; costs a scan of the held stack.
 */
#include "config.h"

#include <pthread.h>

#define LH_BUILDING_RUNTIME
#include "lockhound.h"
#include "acquire.h"

#define CFA() ((uintptr_t)__builtin_dwarf_cfa())

enum verdict {
	HELD,
	NOT_HELD,
	READ_ONLY,   /* held for reading, asserted held for writing */
	CANNOT_TELL, /* held by somebody, who is not recorded */
};

/* lockhound.h's lock types, from the lock table's. */
static int
public_type(const struct lh_lock *lk)
{
	switch (lk->type) {
	case LH_TYPE_MUTEX:
	case LH_TYPE_MTX:
		return LH_LOCK_MUTEX;
	case LH_TYPE_RWLOCK:
		return LH_LOCK_RWLOCK;
	case LH_TYPE_SPIN:
		return LH_LOCK_SPIN;
	default:
		return LH_LOCK_UNKNOWN;
	}
}

static enum lh_lock_type
internal_type(int type)
{
	return type == LH_LOCK_RWLOCK ? LH_TYPE_RWLOCK
	       : type == LH_LOCK_SPIN ? LH_TYPE_SPIN
				      : LH_TYPE_MUTEX;
}

/* Whether a glibc spinlock is taken (by anyone): x86 counts down from 1. */
static bool
spin_locked(const void *lock)
{
	int v = *(const volatile int *)lock;

#if defined(__x86_64__) || defined(__i386__)
	return v <= 0;
#else
	return v != 0;
#endif
}

/* What the lock itself says about a lock the held stack does not have. */
static enum verdict
ask_the_lock(const void *lock, int type, int how, pid_t tid)
{
	switch (type) {
	case LH_LOCK_MUTEX:
		return ((const pthread_mutex_t *)lock)->__data.__owner == tid ? HELD : NOT_HELD;
	case LH_LOCK_RWLOCK: {
		const volatile pthread_rwlock_t *rw = lock;

		if (rw->__data.__cur_writer == tid)
			return HELD;
		/* Readers are counted (above bit 3), not named. */
		if (how != LH_HELD_WRITE && (rw->__data.__readers >> 3) != 0)
			return CANNOT_TELL;
		return NOT_HELD;
	}
	case LH_LOCK_SPIN:
		return spin_locked(lock) ? CANNOT_TELL : NOT_HELD;
	default:
		return NOT_HELD; /* never seen taken, by anyone */
	}
}

static const char *
message(int how, enum verdict v)
{
	if (v == READ_ONLY)
		return "lh_assert_wrheld: this thread holds the lock only for reading";
	switch (how) {
	case LH_HELD_READ:
		return "lh_assert_rdheld: this thread does not hold the lock";
	case LH_HELD_WRITE:
		return "lh_assert_wrheld: this thread does not hold the lock";
	default:
		return "lh_assert_held: this thread does not hold the lock";
	}
}

/*
 * Reports a misuse "not-held" unless the calling thread holds lock in the
 * mode `how` (LH_HELD_*). type (LH_LOCK_*) is the lock's C type as the
 * caller's compiler saw it, for a lock the runtime has not seen. Leaves errno
 * alone; never blocks except to report.
 */
LH_EXPORT void
lh_check_held(const void *lock, int type, int how)
{
	struct lh_thread *t = lh_enter();
	const struct lh_held *h = NULL;
	struct lh_lock *lk;
	enum verdict v;

	if (!t)
		return;
	for (uint32_t i = t->nheld; i-- > 0;) {
		if (t->held[i].addr == (uintptr_t)lock && t->held[i].lock->id == t->held[i].id) {
			h = &t->held[i];
			break;
		}
	}
	lk = lh_locktab_find(lock);
	if (lk)
		type = public_type(lk);
	if (h)
		v = how == LH_HELD_WRITE && h->mode == LH_MODE_READ ? READ_ONLY : HELD;
	else
		v = ask_the_lock(lock, type, how, t->tid);
	if (v == NOT_HELD || v == READ_ONLY) {
		if (!lk && type != LH_LOCK_UNKNOWN) /* to name it in the report */
			lk = lh_locktab_get(lock, internal_type(type),
					    type == LH_LOCK_MUTEX ? lh_mutex_kind_of(lock) : 0, 0,
					    false);
		lh_report_misuse("not-held", lock, lk, message(how, v), h ? h->stack : 0,
				 CFA(), 0);
	}
	lh_leave(t);
}
