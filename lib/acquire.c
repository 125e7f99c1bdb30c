/*
 * Lock events: the slow paths behind the inline hot path of acquire.h, and
 * lock init and destroy. Called from the wrappers of intercept.c with the
 * thread marked busy (lh_enter), so that any lock call made from in here
 * passes straight through. Everything here that can make a system call
 * saves and restores errno: the wrappers leave errno as glibc left it.
 *
 * The slow path of an acquisition (a chain this thread has not validated)
 * tries the global chain set (lock-free), then takes graph_mu, captures one
 * full stack and adds an edge from every held lock.
 *
 * Stacks: each held entry keeps the return address and the stack pointer of
 * its acquisition (free). When the slow path needs the held lock's stack,
 * it finds the frame that took the lock in the current stack (same function,
 * still live around that stack pointer) and splices: the caller's pc, then
 * the current stack from that frame's callers on. If the frame has returned,
 * only the caller is known and the stack is marked partial.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "acquire.h"

static _Atomic int held_warned;

/* A thread that must not be tracked (out of memory): every call passes. */
static struct lh_thread untracked = {.busy = 1};

/* lh_enter() for a thread without state yet: makes it, or NULL. */
struct lh_thread *
lh_enter_slow(void)
{
	struct lh_thread *t;
	int err = errno;

	if (!lh_ready()) {
		errno = err;
		return NULL;
	}
	lh_self = &untracked; /* while we make the state: pass through */
	t = lh_thread_create();
	errno = err;
	if (!t)
		return NULL;
	lh_self = t;
	t->busy = 1;
	return t;
}

int
lh_mutex_kind_of(const void *m)
{
	return ((const pthread_mutex_t *)m)->__data.__kind & 3;
}

/* The kind of lock at addr, read from glibc's fields: a mutex's type, an
 * rwlock's reader/writer preference. */
int
lh_lock_kind_of(const void *addr, enum lh_lock_type type)
{
	switch (type) {
	case LH_TYPE_MUTEX:
	case LH_TYPE_MTX: /* an mtx_t is a pthread_mutex_t inside */
		return lh_mutex_kind_of(addr);
	case LH_TYPE_RWLOCK:
		return (int)((const pthread_rwlock_t *)addr)->__data.__flags;
	default:
		return 0;
	}
}

/* The stack of held entry h, recovered from the current frames (see top). */
static lh_stack_id
held_stack(struct lh_held *h, const struct lh_frame *frames, int nf)
{
	uintptr_t pcs[LH_STACK_MAX];
	uintptr_t start;
	int n = 0;

	if (h->stack)
		return h->stack;
	start = lh_function_start(h->pc);
	pcs[n++] = h->pc;
	/* frames[j].cfa is frame j's stack pointer at its call site (libgcc's CFA
	 * of the frame below): frame j spans [cfa[j], cfa[j + 1]). */
	for (int j = 0; start && j < nf; j++) {
		if (frames[j].start == start && frames[j].cfa <= h->cfa &&
		    (j + 1 == nf || h->cfa < frames[j + 1].cfa)) {
			for (int k = j + 1; k < nf && n < LH_STACK_MAX; k++)
				pcs[n++] = frames[k].pc;
			return h->stack = lh_stack_intern(pcs, n, 0);
		}
	}
	return h->stack = lh_stack_intern(pcs, 1, LH_STACK_PARTIAL);
}

/* The stack where h was taken, recovered from the current stack (which
 * starts at the caller of the wrapper whose CFA is cfa). For reports. */
lh_stack_id
lh_held_stack_now(struct lh_held *h, uintptr_t cfa)
{
	struct lh_frame frames[LH_STACK_MAX];
	int err = errno, nf;
	lh_stack_id id;

	if (h->stack)
		return h->stack;
	nf = cfa ? lh_unwind(frames, LH_STACK_MAX, cfa) : 0;
	id = held_stack(h, frames, nf);
	errno = err;
	return id;
}

/* Collects the gates of an edge from held[i]: the other locks the thread
 * holds exclusively, outermost first, at most LH_GATE_MAX. */
static int
gates_of(const struct lh_thread *t, uint32_t skip, const struct lh_lock *to, uint64_t *out)
{
	int n = 0;

	for (uint32_t k = 0; k < t->nheld && n < LH_GATE_MAX; k++) {
		const struct lh_held *g = &t->held[k];

		if (k == skip || g->lock == to || g->mode != LH_MODE_WRITE)
			continue;
		if (g->lock->id != g->id)
			continue; /* destroyed while held */
		out[n++] = g->id;
	}
	return n;
}

/*
 * The slow path: makes sure the graph has an edge from every held lock to
 * a->lock, with the stacks of both acquisitions, then remembers the chain.
 */
void
lh_validate(struct lh_thread *t, struct lh_held *a)
{
	struct lh_frame frames[LH_STACK_MAX];
	uintptr_t pcs[LH_STACK_MAX];
	struct lh_gnode *gto;
	char tname[16] = "";
	int nf = -1, err = errno;

	if (lh_chainset_contains(a->chain))
		goto cached;
	lh_graph_lock();
	if (lh_chainset_contains(a->chain))
		goto unlock;
	gto = lh_graph_node(a->lock);
	if (!gto)
		goto unlock;
	for (uint32_t i = 0; i < t->nheld; i++) {
		struct lh_held *h = &t->held[i];
		struct lh_gnode *gfrom;
		struct lh_edge_info info;
		uint64_t gates[LH_GATE_MAX];
		bool is_new;

		if (h->lock == a->lock || h->lock->id != h->id)
			continue;
		gfrom = lh_graph_node(h->lock);
		if (!gfrom)
			continue;
		memset(&info, 0, sizeof(info));
		info.ngates = gates_of(t, i, a->lock, gates);
		info.gates = gates;
		info.from_mode = h->mode;
		info.to_mode = a->mode;
		if (!lh_graph_find_edge(gfrom, gto)) {
			/* New edge: it needs both stacks. Unwind once. */
			if (nf < 0) {
				nf = lh_unwind(frames, LH_STACK_MAX, a->cfa);
				for (int k = 0; k < nf; k++)
					pcs[k] = frames[k].pc;
				a->stack = lh_stack_intern(pcs, nf, 0);
				lh_thread_name(t->tid, tname, sizeof(tname));
			}
			info.from_stack = held_stack(h, frames, nf);
			info.to_stack = a->stack;
			info.tid = t->tid;
			info.thread_serial = t->serial;
			info.thread_name = tname;
		}
		lh_graph_add_edge(gfrom, gto, &info, &is_new);
	}
	lh_chainset_insert(a->chain);
unlock:
	lh_graph_unlock();
cached:
	t->chain_cache[a->chain & (LH_CHAIN_CACHE - 1)] = a->chain;
	errno = err;
}

/* A lock the table does not know yet (first use of a static initializer, or
 * locked before we were loaded). NULL when out of memory. */
struct lh_lock *
lh_lock_slow(const void *addr, enum lh_lock_type type)
{
	int err = errno;
	struct lh_lock *lk = lh_locktab_get(addr, type, lh_lock_kind_of(addr, type), 0, false);

	errno = err;
	return lk;
}

/* lh_before_lock() with the held stack full: grow it. */
bool
lh_held_grow_slow(struct lh_thread *t)
{
	int err = errno;
	bool ok = lh_thread_grow_held(t);

	if (!ok)
		lh_warn_once(&held_warned, "out of memory for a held-lock stack; locks beyond "
					   "it are not tracked");
	errno = err;
	return ok;
}

/* lh_after_lock() beyond committing a plain hold: a re-entry, a timed lock
 * (its order counts now), or a slot a signal handler reused meanwhile. */
void
lh_after_slow(struct lh_thread *t, int slot, const void *addr)
{
	uint32_t n = t->nheld;
	struct lh_held *h;

	if (slot < 0)
		return; /* LH_SLOT_* */
	h = &t->held[slot];
	if ((uint32_t)slot < n) {
		if (h->addr == (uintptr_t)addr) {
			h->count++;
			if (lh_opt.stats != LH_STATS_OFF)
				lh_stat_count(t, h->lock, h->id, h->pc);
		}
		return;
	}
	if ((uint32_t)slot != n || h->addr != (uintptr_t)addr)
		return; /* overwritten in between: this hold goes untracked */
	if (h->how == LH_TIMED && n > 0 && !lh_chain_cached(t, h->chain))
		lh_validate(t, h);
	t->nheld = n + 1;
	if (lh_opt.stats != LH_STATS_OFF) {
		lh_stat_count(t, h->lock, h->id, h->pc);
		if (lh_opt.stats == LH_STATS_HOLD)
			h->since_ns = lh_now_ns();
	}
}

/* lh_on_unlock() beyond popping the top: re-entries, out-of-order unlocks,
 * and unlocks of locks this thread does not hold (misuse, when cfa is set).
 * n is the number of held locks. */
void
lh_unlock_slow(struct lh_thread *t, const void *addr, uint32_t n, enum lh_lock_type type,
	       uintptr_t pc, uintptr_t cfa)
{
	int busy = t->busy;

	for (uint32_t i = n; i-- > 0;) {
		struct lh_held *h = &t->held[i];

		if (h->addr != (uintptr_t)addr)
			continue;
		if (h->count > 1) {
			h->count--;
			return;
		}
		if (lh_opt.stats != LH_STATS_OFF)
			lh_stat_released(t, h, pc);
		/* Out of order: the entries above move down and get new keys. */
		for (uint32_t k = i; k + 1 < n; k++) {
			t->held[k] = t->held[k + 1];
			t->held[k].chain = lh_chain_mix(k ? t->held[k - 1].chain : 0,
							t->held[k].id, t->held[k].mode);
		}
		t->nheld = n - 1;
		return;
	}
	if (!cfa)
		return;
	t->busy = 1;
	lh_misuse_unlock(t, addr, type, cfa);
	t->busy = busy;
}

/* A lock is (re)initialized: whatever we knew at this address is history. */
void
lh_on_init(const void *addr, enum lh_lock_type type, int kind, uintptr_t pc)
{
	int err = errno;

	lh_on_destroy(addr);
	lh_locktab_get(addr, type, kind, pc, true);
	errno = err;
}

/* The lock is gone: its node and its orders are retired. */
void
lh_on_destroy(const void *addr)
{
	struct lh_lock *lk = lh_locktab_find(addr);
	int err = errno;

	if (!lk)
		return;
	if (lk->gnode) {
		lh_graph_lock();
		lh_graph_retire(lk);
		lh_graph_unlock();
	}
	if (lh_opt.stats != LH_STATS_OFF)
		lh_stats_retire(lk);
	lh_locktab_remove(lk);
	errno = err;
}
