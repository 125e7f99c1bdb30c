/*
 * What each thread is blocked on: a contended lock acquisition (the wrapper's
 * first try failed), a condition variable, a semaphore or a barrier. The
 * thread writes its own record; dumps and the deadlock detector read other
 * threads' records without a lock. An uncontended acquisition never comes
 * here, so recording a wait costs one clock read on a path that is about to
 * sleep anyway.
 */
#include "config.h"

#include "lockhound-private.h"

/*
 * The thread starts waiting for obj. For a lock, type and mode say how it
 * is taken; for a condition variable, mutex is its mutex. pc is the
 * caller's return address.
 */
void
lh_wait_begin(struct lh_thread *t, enum lh_wait_kind kind, const void *obj,
	      enum lh_lock_type type, enum lh_mode mode, const void *mutex, uintptr_t pc)
{
	t->wait_since_ns = lh_now_ns();
	t->wait_type = (uint8_t)type;
	t->wait_mode = (uint8_t)mode;
	t->wait_mutex = (uintptr_t)mutex;
	t->wait_pc = pc;
	atomic_store_explicit(&t->wait_kind, (uint8_t)kind, memory_order_relaxed);
	/* Last, and ordered before the thread's next read of other threads'
	 * records: two threads closing a cycle at once see each other. */
	atomic_store_explicit(&t->wait_addr, (uintptr_t)obj, memory_order_seq_cst);
}

/* The wait is over (the lock was acquired, or the call failed). */
void
lh_wait_end(struct lh_thread *t)
{
	atomic_store_explicit(&t->wait_addr, 0, memory_order_release);
	atomic_store_explicit(&t->wait_kind, LH_WAIT_NONE, memory_order_relaxed);
}
