/*
 * Lock events: what happens around every acquisition and release. Called by
 * the wrappers of intercept.c, with the thread marked busy (lh_enter), so that
 * any lock call made from in here passes straight through.
 *
 * The hot path, a lock taken in an order this thread has seen, costs a lookup
 * in the lock table, a scan of the held stack (for re-entry), one chain-key
 * mix and one probe of the thread's chain cache: no lock, no shared write.
 * A cache miss tries the global chain set (lock-free), then the slow path:
 * graph_mu, one full stack capture, and an edge from every held lock.
 *
 * Stacks: each held entry keeps the return address and the stack pointer of
 * its acquisition (free). When the slow path needs the held lock's stack,
 * it finds the frame that took the lock in the current stack (same function,
 * still live above that stack pointer) and splices: the caller's pc, then the
 * current stack from that frame's callers on. If the frame has returned,
 * only the caller is known and the stack is marked partial.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "lockhound-private.h"

static _Atomic int held_warned;

/* A thread that must not be tracked (out of memory): every call passes. */
static struct lh_thread untracked = {.busy = 1};

/*
 * Marks the calling thread busy and returns its state, or NULL if its lock
 * calls must pass straight through (re-entry, start-up, runtime off). Saves
 * errno for lh_leave.
 */
struct lh_thread *
lh_enter(void)
{
	struct lh_thread *t = lh_self;

	if (LH_LIKELY(t != NULL)) {
		if (t->busy)
			return NULL;
		t->busy = 1;
		t->saved_errno = errno;
		return t;
	}
	if (!lh_ready())
		return NULL;
	lh_self = &untracked; /* while we make the state: pass through */
	t = lh_thread_create();
	if (!t)
		return NULL;
	lh_self = t;
	t->busy = 1;
	t->saved_errno = errno;
	return t;
}

void
lh_leave(struct lh_thread *t)
{
	errno = t->saved_errno;
	t->busy = 0;
}

int
lh_mutex_kind_of(const void *m)
{
	return ((const pthread_mutex_t *)m)->__data.__kind & 3;
}

static int
kind_of(const void *addr, enum lh_lock_type type)
{
	if (type == LH_TYPE_MUTEX)
		return lh_mutex_kind_of(addr);
	return 0;
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
static void
validate(struct lh_thread *t, struct lh_acq *a)
{
	struct lh_frame frames[LH_STACK_MAX];
	uintptr_t pcs[LH_STACK_MAX];
	struct lh_gnode *gto;
	char tname[16] = "";
	int nf = -1;

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
	a->validated = true;
}

/*
 * Before the real acquisition (which may block). Finds the lock, notices a
 * re-entry, and for a blocking acquisition with locks held makes sure the
 * graph knows this order, so that an inversion is reported even if this very
 * call then deadlocks.
 */
void
lh_before_lock(struct lh_thread *t, struct lh_acq *a, const void *addr,
	       enum lh_lock_type type, enum lh_mode mode, enum lh_how how, uintptr_t pc,
	       uintptr_t cfa)
{
	struct lh_lock *lk = lh_locktab_find(addr);
	uint32_t n = t->nheld;
	uint64_t prev;

	a->pc = pc;
	a->cfa = cfa;
	a->mode = (uint8_t)mode;
	a->how = (uint8_t)how;
	a->reentry = -1;
	a->skip = false;
	a->validated = false;
	a->stack = 0;
	if (LH_UNLIKELY(!lk)) {
		lk = lh_locktab_get(addr, type, kind_of(addr, type), 0, false);
		if (!lk) {
			a->skip = true;
			return;
		}
	}
	a->lock = lk;
	a->id = lk->id;
	for (uint32_t i = n; i-- > 0;) {
		struct lh_held *h = &t->held[i];

		if (h->lock != lk || h->id != lk->id)
			continue;
		if (type == LH_TYPE_MUTEX && lk->kind == LH_KIND_RECURSIVE) {
			a->reentry = (int)i;
			return;
		}
		/* An errorcheck mutex fails with EDEADLK; a normal one hangs. */
		a->skip = true;
		return;
	}
	prev = n ? t->held[n - 1].chain : 0;
	a->chain = lh_chain_mix(prev, lk->id, mode);
	if (n == 0 || how != LH_BLOCKING)
		return;
	if (LH_LIKELY(t->chain_cache[a->chain & (LH_CHAIN_CACHE - 1)] == a->chain)) {
		a->validated = true;
		return;
	}
	validate(t, a);
}

/* After a successful acquisition: the lock joins the held stack. */
void
lh_after_lock(struct lh_thread *t, struct lh_acq *a)
{
	struct lh_held *h;

	if (a->skip)
		return;
	if (a->reentry >= 0) {
		if ((uint32_t)a->reentry < t->nheld && t->held[a->reentry].lock == a->lock)
			t->held[a->reentry].count++;
		return;
	}
	/* A timed acquisition cannot hang forever: its order counts once it
	 * succeeds. A trylock never waits, so it adds no order into the lock. */
	if (a->how == LH_TIMED && t->nheld > 0 &&
	    t->chain_cache[a->chain & (LH_CHAIN_CACHE - 1)] != a->chain)
		validate(t, a);
	if (LH_UNLIKELY(t->nheld == t->held_cap) && !lh_thread_grow_held(t)) {
		lh_warn_once(&held_warned, "out of memory for a held-lock stack; locks beyond "
					   "it are not tracked");
		return;
	}
	h = &t->held[t->nheld++];
	h->lock = a->lock;
	h->id = a->id;
	h->addr = (uintptr_t)atomic_load_explicit(&a->lock->addr, memory_order_relaxed);
	h->chain = a->chain;
	h->pc = a->pc;
	h->cfa = a->cfa;
	h->stack = a->stack;
	h->mode = a->mode;
	h->how = a->how;
	h->count = 1;
}

/* Before the real release: the lock leaves the held stack. */
void
lh_on_unlock(struct lh_thread *t, const void *addr)
{
	uint32_t n = t->nheld;

	for (uint32_t i = n; i-- > 0;) {
		struct lh_held *h = &t->held[i];

		if (h->addr != (uintptr_t)addr)
			continue;
		if (h->count > 1) {
			h->count--;
			return;
		}
		/* Out of order: the entries above move down and get new keys. */
		for (uint32_t k = i; k + 1 < n; k++) {
			t->held[k] = t->held[k + 1];
			t->held[k].chain = lh_chain_mix(k ? t->held[k - 1].chain : 0,
							t->held[k].id, t->held[k].mode);
		}
		t->nheld = n - 1;
		return;
	}
	/* XXX: an unlock of a lock we did not see taken (locked before we were
	 * loaded, or not by this thread) is ignored here. */
}

/* A lock is (re)initialized: whatever we knew at this address is history. */
void
lh_on_init(const void *addr, enum lh_lock_type type, int kind, uintptr_t pc)
{
	struct lh_lock *lk = lh_locktab_find(addr);

	if (lk)
		lh_on_destroy(addr);
	lh_locktab_get(addr, type, kind, pc, true);
}

void
lh_on_destroy(const void *addr)
{
	struct lh_lock *lk = lh_locktab_find(addr);

	if (!lk)
		return;
	if (lk->gnode) {
		lh_graph_lock();
		lh_graph_retire(lk);
		lh_graph_unlock();
	}
	lh_locktab_remove(lk);
}
