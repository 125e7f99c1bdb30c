/*
 * What each thread is blocked on: a contended lock acquisition (the wrapper's
 * first try failed), a condition variable, a semaphore or a barrier. The
 * thread writes its own record; dumps and the deadlock detector read other
 * threads' records without a lock. An uncontended acquisition never comes
 * here, so recording a wait costs one clock read on a path that is about to
 * sleep anyway.
 *
 * A contended blocking acquisition waits in slices (LH_SLICE_MS) of the
 * real timed call: at the end of each, the thread records its own stack
 * (once per wait), reports an acquire-timeout when timeout_ms has passed,
 * and looks for a deadlock again. A short wait never sees a slice end.
 */
#include "config.h"

#include <time.h>

#include "acquire.h"

/* Called from the wrappers, which are not busy at this point. */
void
lh_wait_begin(struct lh_thread *t, enum lh_wait_kind kind, const void *obj,
	      enum lh_lock_type type, enum lh_mode mode, const void *mutex, uintptr_t pc,
	      uintptr_t cfa)
{
	t->wait_since_ns = lh_now_ns();
	t->wait_type = (uint8_t)type;
	t->wait_mode = (uint8_t)mode;
	t->wait_mutex = (uintptr_t)mutex;
	t->wait_pc = pc;
	t->timeout_reported = false;
	t->wait_sliced = false;
	atomic_store_explicit(&t->wait_stack, 0, memory_order_relaxed);
	atomic_store_explicit(&t->wait_kind, (uint8_t)kind, memory_order_relaxed);
	/* Last, and ordered before the thread's next read of other threads'
	 * records: two threads closing a cycle at once see each other. */
	atomic_store_explicit(&t->wait_addr, (uintptr_t)obj, memory_order_seq_cst);
	atomic_store_explicit(&lh_tick_ms,
			      (uint32_t)((t->wait_since_ns - lh_tick_origin_ns) / 1000000),
			      memory_order_relaxed);
	if (kind != LH_WAIT_LOCK)
		return;
	if (lh_opt.stats != LH_STATS_OFF) {
		struct lh_lock *lk = lh_locktab_find(obj);

		/* The release that ends this wait will say where it was. */
		if (lk)
			atomic_store_explicit(&lk->wait_hint, LH_HINT_WAITER | lh_hint_idle(),
					      memory_order_relaxed);
	}
	t->busy = 1;
	lh_deadlock_fork_check(t, cfa);
	if (!lh_deadlock_holder_runs(t)) /* the usual contended wait: no lock */
		lh_deadlock_check(t);
	t->busy = 0;
}

/* The wait is over (the lock was acquired, or the call failed). A lock
 * wait counts in the lock's contention statistics. */
void
lh_wait_end(struct lh_thread *t)
{
	uintptr_t addr = atomic_load_explicit(&t->wait_addr, memory_order_relaxed);
	bool lock = atomic_load_explicit(&t->wait_kind, memory_order_relaxed) == LH_WAIT_LOCK;

	atomic_store_explicit(&t->wait_addr, 0, memory_order_release);
	atomic_store_explicit(&t->wait_kind, LH_WAIT_NONE, memory_order_relaxed);
	if (lock && lh_opt.stats != LH_STATS_OFF) {
		struct lh_lock *lk = lh_locktab_find((void *)addr);
		LH_BUSY_BEGIN(t);

		if (lk)
			lh_stat_wait(t, lk, lk->id, t->wait_pc, lh_now_ns() - t->wait_since_ns);
		LH_BUSY_END(t);
	}
}

/* Records the calling thread's own stack in its wait record. The first
 * frame outside the runtime is where the program waits. */
void
lh_wait_capture_stack(struct lh_thread *t)
{
	struct lh_frame frames[LH_STACK_MAX];
	uintptr_t pcs[LH_STACK_MAX];
	int n = lh_unwind(frames, LH_STACK_MAX, 0);

	for (int i = 0; i < n; i++)
		pcs[i] = frames[i].pc;
	atomic_store(&t->wait_stack, lh_stack_intern(pcs, n, 0));
}

/*
 * The end of the current slice of t's wait, as an absolute time on clock:
 * LH_SLICE_MS from now, or sooner when the acquire-timeout falls due. The
 * first slice counts from the wait's start, read a moment ago: one clock
 * read less on every contended acquisition.
 */
void
lh_wait_deadline(const struct lh_thread *t, int clock, struct timespec *ts)
{
	uint64_t now = t->wait_sliced ? lh_now_ns() : t->wait_since_ns;
	uint64_t end = now + (uint64_t)LH_SLICE_MS * 1000000;
	struct timespec c;

	if (lh_opt.timeout_ms > 0 && !t->timeout_reported) {
		uint64_t due = t->wait_since_ns + (uint64_t)lh_opt.timeout_ms * 1000000;

		if (due < end)
			end = due > now ? due : now;
	}
	if (clock != CLOCK_MONOTONIC) { /* lh_now_ns() is CLOCK_MONOTONIC */
		clock_gettime(clock, &c);
		end = (uint64_t)c.tv_sec * 1000000000 + (uint64_t)c.tv_nsec + (end - now);
	}
	ts->tv_sec = (time_t)(end / 1000000000);
	ts->tv_nsec = (long)(end % 1000000000);
}

/* A slice of t's wait ended and the lock is still busy. */
void
lh_wait_slice(struct lh_thread *t)
{
	int busy = t->busy;

	t->busy = 1;
	t->wait_sliced = true;
	lh_tick_update();
	if (!atomic_load(&t->wait_stack))
		lh_wait_capture_stack(t);
	if (lh_opt.timeout_ms > 0 && !t->timeout_reported &&
	    lh_now_ns() - t->wait_since_ns >= (uint64_t)lh_opt.timeout_ms * 1000000) {
		t->timeout_reported = true;
		lh_deadlock_timeout(t);
	}
	lh_deadlock_check(t);
	t->busy = busy;
}
