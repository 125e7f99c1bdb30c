/*
 * API misuse: a non-recursive lock taken again by its holder (relock), an
 * unlock by a thread that does not hold the lock or of a lock that is not
 * locked, a locked lock destroyed, a thread that exits holding locks, one
 * condition variable waited on with two mutexes at once, a recursive read
 * of a writer-preferring rwlock. Each is reported once per call site through
 * lh_report_misuse(). Called on slow paths, with the thread busy.
 *
 * Lock state comes from glibc's own fields (pthread_mutex_t.__data.__owner
 * and __lock, pthread_rwlock_t.__data.__readers and __cur_writer), so locks
 * taken before the runtime was loaded are judged correctly.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "acquire.h"

/* glibc 2.36's rwlock __readers bits (nptl/pthread_rwlock_common.c). */
#define RWLOCK_WRLOCKED 2
#define RWLOCK_READER_SHIFT 3

static _Atomic int abort_said;

/* on_deadlock=abort: the report is written; end the process with a core. */
void
lh_on_deadlock(void)
{
	if (lh_opt.on_deadlock != LH_ON_DEADLOCK_ABORT)
		return;
	if (!atomic_exchange(&abort_said, 1))
		lh_warn("aborting (on_deadlock=abort)");
	abort();
}

/* The tid glibc records as the lock's (write) owner, 0 if none is known. */
pid_t
lh_lock_owner(const void *addr, enum lh_lock_type type)
{
	switch (type) {
	case LH_TYPE_MUTEX:
	case LH_TYPE_MTX:
		return ((const volatile pthread_mutex_t *)addr)->__data.__owner;
	case LH_TYPE_RWLOCK:
		return ((const volatile pthread_rwlock_t *)addr)->__data.__cur_writer;
	default:
		return 0;
	}
}

/* 1 locked, 0 unlocked, -1 cannot tell (spinlocks). */
int
lh_lock_state(const void *addr, enum lh_lock_type type)
{
	unsigned r;

	switch (type) {
	case LH_TYPE_MUTEX:
	case LH_TYPE_MTX:
		return ((const volatile pthread_mutex_t *)addr)->__data.__lock != 0;
	case LH_TYPE_RWLOCK:
		r = ((const volatile pthread_rwlock_t *)addr)->__data.__readers;
		return (r >> RWLOCK_READER_SHIFT) != 0 || (r & RWLOCK_WRLOCKED) != 0;
	default:
		return -1;
	}
}

static const char *
relock_detail(enum lh_lock_type type, enum lh_mode held, enum lh_mode wanted)
{
	if (type == LH_TYPE_RWLOCK && held == LH_MODE_READ && wanted == LH_MODE_WRITE)
		return "write lock wanted by a thread that holds it for reading: it waits "
		       "for itself forever";
	if (type == LH_TYPE_SPIN)
		return "spinlock taken again by its holder: it spins forever";
	return "non-recursive lock taken again by its holder: it waits for itself "
	       "forever";
}

static int reentry(uint32_t i, struct lh_held *h, struct lh_lock *lk,
		   enum lh_lock_type type, enum lh_mode mode, uintptr_t cfa);

/*
 * The thread takes held[i] again. Returns i when the re-entry is counted (a
 * recursive mutex, a reader-preferring read), LH_SLOT_FAILS when the real call
 * fails at once (errorcheck EDEADLK), LH_SLOT_HANGS when it can never return
 * (reported first; with on_deadlock=abort the process aborts here).
 */
int
lh_misuse_reentry(struct lh_thread *t, uint32_t i, enum lh_lock_type type,
		  enum lh_mode mode, uintptr_t cfa)
{
	struct lh_held *h = &t->held[i];
	struct lh_lock *lk = h->lock;
	int slot;
	LH_BUSY_BEGIN(t);

	slot = reentry(i, h, lk, type, mode, cfa);
	LH_BUSY_END(t);
	return slot;
}

static int
reentry(uint32_t i, struct lh_held *h, struct lh_lock *lk, enum lh_lock_type type,
	enum lh_mode mode, uintptr_t cfa)
{
	if ((type == LH_TYPE_MUTEX || type == LH_TYPE_MTX) && lk->kind == LH_KIND_RECURSIVE)
		return (int)i;
	if (type == LH_TYPE_MUTEX && lk->kind == LH_KIND_ERRORCHECK)
		return LH_SLOT_FAILS;
	if (type == LH_TYPE_RWLOCK) {
		if (h->mode == LH_MODE_WRITE)
			return LH_SLOT_FAILS; /* glibc: EDEADLK */
		if (mode == LH_MODE_READ) {
			if (lk->kind == LH_RWLOCK_WRITER_NONRECURSIVE)
				lh_report_misuse("recursive-read", (void *)h->addr, lk,
						 "rwlock that prefers writers read-locked again "
						 "by a reader: a writer queued in between "
						 "deadlocks both",
						 lh_held_stack_now(h, cfa), cfa, 0);
			return (int)i;
		}
	}
	lh_report_misuse("relock", (void *)h->addr, lk, relock_detail(type, h->mode, mode),
			 lh_held_stack_now(h, cfa), cfa, 0);
	lh_on_deadlock();
	return LH_SLOT_HANGS;
}

/* An unlock of a lock this thread does not hold (in our records). */
void
lh_misuse_unlock(struct lh_thread *t, const void *addr, enum lh_lock_type type,
		 uintptr_t cfa)
{
	struct lh_lock *lk = lh_locktab_find(addr);
	int state = lh_lock_state(addr, type);
	pid_t owner;
	struct lh_buf b;

	if (lk && (type == LH_TYPE_MUTEX || type == LH_TYPE_MTX) &&
	    lk->kind == LH_KIND_ERRORCHECK)
		return; /* glibc answers EPERM: the program is told */
	if (state == 0) {
		lh_report_misuse("unlock-unlocked", addr, lk, "unlocked while not locked", 0,
				 cfa, 0);
		return;
	}
	owner = lh_lock_owner(addr, type);
	if (state != 1 || owner == 0 || owner == t->tid)
		return; /* a reader, or taken before we were loaded: cannot tell */
	lh_buf_init(&b);
	lh_buf_puts(&b, "unlocked by a thread that does not hold it (thread ");
	lh_buf_put_u64(&b, (uint64_t)owner);
	lh_buf_puts(&b, " does)");
	lh_report_misuse("unlock-not-owner", addr, lk, b.oom ? "unlocked by a non-owner" : b.p,
			 0, cfa, 0);
	lh_buf_release(&b);
}

/* A lock about to be destroyed. */
void
lh_misuse_destroy(const void *addr, enum lh_lock_type type, uintptr_t cfa)
{
	struct lh_thread *t = lh_self;
	lh_stack_id taken = 0;

	if (lh_lock_state(addr, type) != 1)
		return;
	for (uint32_t i = 0; t && i < t->nheld; i++)
		if (t->held[i].addr == (uintptr_t)addr)
			taken = lh_held_stack_now(&t->held[i], cfa);
	lh_report_misuse("destroy-locked", addr, lh_locktab_find(addr),
			 "destroyed while locked", taken, cfa, 0);
}

/* The thread is exiting: every lock it still holds is lost to the others. */
void
lh_misuse_exit(struct lh_thread *t)
{
	for (uint32_t i = 0; i < t->nheld; i++) {
		struct lh_held *h = &t->held[i];
		lh_stack_id taken = h->stack ? h->stack
					     : lh_stack_intern(&h->pc, 1, LH_STACK_PARTIAL);

		if (h->lock->id != h->id)
			continue; /* destroyed meanwhile */
		lh_report_misuse("exit-holding", (void *)h->addr, h->lock,
				 "thread exits holding the lock: whoever waits for it "
				 "waits forever",
				 taken, 0, h->pc);
	}
}

/* One condition variable, two mutexes at once. */
void
lh_misuse_cond(const void *cond, const void *mutex, const void *other, uintptr_t cfa)
{
	struct lh_buf b;

	struct lh_gnode *og = lh_report_node(lh_locktab_find(other));

	lh_buf_init(&b);
	lh_buf_puts(&b, "condition variable ");
	lh_buf_put_hex(&b, (uintptr_t)cond);
	lh_buf_puts(&b, " waited on with this mutex while other waiters use ");
	if (og)
		lh_buf_puts(&b, lh_report_label(og));
	else
		lh_buf_put_hex(&b, (uintptr_t)other);
	lh_report_misuse("cond-mutex-mismatch", mutex, lh_locktab_find(mutex),
			 b.oom ? "condition variable used with two mutexes" : b.p, 0, cfa, 0);
	lh_buf_release(&b);
}
