/*
 * Condition variables (pthread_cond_*wait, cnd_*wait). glibc releases and
 * re-takes the mutex inside the wait without going through the interposed
 * mutex calls, so the wrappers do the held-lock bookkeeping here: before the
 * wait the mutex leaves the held stack (a waiting thread does not hold it:
 * no order starts from it, no timeout is blamed on it) and the thread is
 * marked waiting on the condition; after the wait, on every path that
 * returns with the mutex (success, timeout, EOWNERDEAD) and on cancellation
 * (a cleanup handler), the mutex is taken again as an ordinary acquisition,
 * with orders from whatever else the thread still holds.
 *
 * Each condition variable has a record in the lock table (type LH_TYPE_COND)
 * with its number of waiters and their mutex, under a per-record mutex:
 * a second mutex while waiters remain is reported once (cond-mutex-mismatch).
 */
#include "config.h"

#include <errno.h>

#include "acquire.h"

static struct lh_lock *
record(const void *cond)
{
	struct lh_lock *rec = lh_locktab_find(cond);

	if (!rec)
		rec = lh_locktab_get(cond, LH_TYPE_COND, 0, 0, false);
	return rec && rec->type == LH_TYPE_COND ? rec : NULL;
}

/* Before the real wait. The thread is busy. */
void
lh_cond_enter(struct lh_thread *t, struct lh_cond_wait *w)
{
	struct lh_lock *rec;
	uintptr_t other = 0;
	int err = errno;

	w->t = t;
	w->tracked = false;
	if ((rec = record(w->cond)) != NULL) {
		lh_mutex_lock(&rec->cond_mu);
		if (rec->cond_waiters++ == 0)
			rec->cond_mutex = (uintptr_t)w->mutex;
		else if (rec->cond_mutex != (uintptr_t)w->mutex)
			other = rec->cond_mutex;
		lh_mutex_unlock(&rec->cond_mu);
		if (other)
			lh_misuse_cond(w->cond, w->mutex, (void *)other, w->cfa);
	}
	for (uint32_t i = t->nheld; i-- > 0;) {
		if (t->held[i].addr == (uintptr_t)w->mutex) {
			lh_unlock_slow(t, w->mutex, t->nheld, w->mutex_type, w->pc, 0);
			w->tracked = true;
			break;
		}
	}
	lh_wait_begin(t, LH_WAIT_COND, w->cond, w->mutex_type, LH_MODE_WRITE, w->mutex, w->pc,
		      w->cfa);
	errno = err;
}

/* After the real wait; reacquired says the thread holds the mutex again.
 * The thread is busy. */
void
lh_cond_exit(struct lh_cond_wait *w, bool reacquired)
{
	struct lh_thread *t = w->t;
	struct lh_lock *rec = lh_locktab_find(w->cond);
	int err = errno;

	lh_wait_end(t);
	if (rec && rec->type == LH_TYPE_COND) {
		lh_mutex_lock(&rec->cond_mu);
		if (rec->cond_waiters > 0 && --rec->cond_waiters == 0)
			rec->cond_mutex = 0;
		lh_mutex_unlock(&rec->cond_mu);
	}
	if (reacquired) {
		int slot = lh_before_lock(t, w->mutex, w->mutex_type, LH_MODE_WRITE,
					  LH_BLOCKING, w->pc, w->cfa);

		lh_after_lock(t, slot, w->mutex);
	}
	errno = err;
}

/* pthread_cleanup_push handler: the wait was cancelled, and glibc took the
 * mutex again before running cleanup handlers. */
void
lh_cond_cancelled(void *arg)
{
	struct lh_cond_wait *w = arg;

	w->t->busy = 1;
	lh_cond_exit(w, true);
	w->t->busy = 0;
}

/* The condition variable is destroyed: forget its record. */
void
lh_cond_destroy(const void *cond)
{
	struct lh_lock *rec = lh_locktab_find(cond);

	if (rec && rec->type == LH_TYPE_COND)
		lh_locktab_remove(rec);
}
