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

/* direct.h: set at start-up by lh_intercept_direct_init() (intercept.c). */
_Atomic int lh_direct_kind = -1;
_Atomic bool lh_direct_rw;
_Atomic bool lh_rw_named_on;
_Atomic bool lh_mutex_named_on;
uint64_t lh_direct_key;
uintptr_t lh_direct_mask;

static _Atomic int held_warned;

/* A thread that must not be tracked (out of memory): every call passes. */
static struct lh_thread untracked = {.busy = 1};

/* lh_fast_self() when the thread has no state yet (makes it, not busy) or
 * is busy (NULL: pass through). */
struct lh_thread *
lh_fast_self_slow(void)
{
	struct lh_thread *t = lh_self;

	if (t)
		return NULL; /* busy */
	t = lh_enter_slow();
	if (t)
		t->busy = 0;
	return t;
}

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
	LH_BUSY_BEGIN(t);

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
				lh_thread_own_name(t, tname, sizeof(tname));
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
	LH_BUSY_END(t);
	errno = err;
}

/* A lock the table does not know yet (first use of a static initializer, or
 * locked before we were loaded). NULL when out of memory. */
struct lh_lock *
lh_lock_slow(struct lh_thread *t, const void *addr, enum lh_lock_type type)
{
	int err = errno;
	struct lh_lock *lk;
	LH_BUSY_BEGIN(t);

	lk = lh_locktab_get(addr, type, lh_lock_kind_of(addr, type), 0, false);
	LH_BUSY_END(t);
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

/*
 * The real call took the lock at once (a first try that succeeded): record
 * the hold, and check its order unless it was a trylock; returns 0, so that
 * a wrapper can end with `return lh_took(...)`. Checking after the
 * acquisition is as good as before it here: the thread did not wait, so
 * this call cannot have deadlocked.
 *
 * The common case (the lock in this thread's statistics slot for this call
 * site, no re-entry, room on the held stack, the chain known to this
 * thread) makes no call and does not look in the lock table: the slot names
 * the lock's node, which is still this lock's while its id matches (a
 * destroyed lock's node has id 0, a reused one a new id). Everything
 * else ends in a tail call to a complete general path, which starts over
 * (nothing is committed before the last store).
 */
static int took_nested(struct lh_thread *t, struct lh_stat_slot *st, const void *addr,
		       uintptr_t pc, uintptr_t cfa, uint64_t htm);
static int took_own(const void *addr, uintptr_t pc, uintptr_t cfa, uint64_t htm,
		    struct lh_thread *t);

/* The held entry of a lock lh_took() found (no call, no errno). */
static inline __attribute__((always_inline)) void
took_push(struct lh_thread *t, struct lh_held *h, uint32_t n, struct lh_lock *lk, uint64_t id,
	  uintptr_t addr, uint64_t chain, uintptr_t pc, uintptr_t cfa, uint64_t htm)
{
	h->lock = lk;
	h->id = id;
	h->addr = addr;
	if (n != 0) /* the outermost lock's key is not stored (lh_chain_at) */
		h->chain = chain;
	h->pc = pc;
	h->cfa = cfa;
	h->stack = 0;
	h->count = 1;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	{ /* since_ms, mode, how (and the padding): one store */
		uint64_t word = atomic_load_explicit(&lh_tick_ms, memory_order_relaxed) | htm;

		_Static_assert(offsetof(struct lh_held, mode) == offsetof(struct lh_held, since_ms) + 4 &&
				   offsetof(struct lh_held, how) == offsetof(struct lh_held, mode) + 1 &&
				   offsetof(struct lh_held, pad) == offsetof(struct lh_held, how) + 1,
			       "since_ms, mode, how, pad: one 8-byte word");
		memcpy(&h->since_ms, &word, sizeof(word));
	}
#else
	h->since_ms = atomic_load_explicit(&lh_tick_ms, memory_order_relaxed);
	h->mode = (uint8_t)LH_TOOK_MODE(htm);
	h->how = (uint8_t)LH_TOOK_HOW(htm);
#endif
	t->nheld = n + 1;
}

/* Plain stores: gcc's SLP pass pairs two of them through an SSE register,
 * four instructions for two. */
#if defined(__GNUC__) && !defined(__clang__)
#define LH_NO_SLP __attribute__((optimize("no-tree-slp-vectorize")))
#else
#define LH_NO_SLP
#endif

/* took_chain(): the fast path may take the chain, must take the general
 * path, or may if the global chain set knows it (ask again). */
enum { CHAIN_SLOW = -1, CHAIN_ASK = 0, CHAIN_OK = 1 };

/*
 * The key of the chain that t's held stack (not empty) would end with lock
 * lk in mode (htm): *chain; and whether the fast path may take it (room on
 * the stack, no re-entry, the chain validated). A chain missing from t's
 * cache that the global chain set knows (another thread validated it, or
 * this one before its cache lost it) is cached then, when ask says to look
 * (lock-free, errno untouched): the general path would do no more for it
 * (lh_validate). A program that takes more chains in turn
 * than the cache holds (1024) comes here for most of them. The callers
 * look in a second function of their own, so that the first stays a leaf.
 */
static inline __attribute__((always_inline)) int
took_chain(struct lh_thread *t, const struct lh_lock *lk, uintptr_t addr, uint64_t htm, bool ask,
	   uint64_t *chain)
{
	uint32_t n = t->nheld;
	const struct lh_held *h = &t->held[n];
	uint64_t c;

	if (LH_UNLIKELY(n == t->held_cap))
		return CHAIN_SLOW; /* no room: the general path grows the stack */
	if (n == 0)
		__builtin_unreachable(); /* the callers come here with locks held */
	/* The outermost lock's key is made when a second lock needs it. */
	c = n == 1 ? lh_chain_mix(0, h[-1].lock->salt, h[-1].mode) : h[-1].chain;
	c = lh_chain_mix(c, lk->salt, LH_TOOK_MODE(htm));
	*chain = c;
	if (LH_TOOK_HOW(htm) == LH_TRY) {
		/* A trylock's order is not checked: look for a re-entry. */
		for (const struct lh_held *o = h; o-- != t->held;)
			if (LH_UNLIKELY(o->addr == addr))
				return CHAIN_SLOW;
		return CHAIN_OK;
	}
	/* Else no re-entry either: a chain in the cache or the set was
	 * validated, and validation (lh_before_lock) comes after the re-entry
	 * check; the key names the whole held sequence with this lock last. */
	if (LH_LIKELY(lh_chain_cached(t, c)))
		return CHAIN_OK;
	if (!ask)
		return CHAIN_ASK;
	if (!lh_chainset_contains(c))
		return CHAIN_SLOW;
	t->chain_cache[c & (LH_CHAIN_CACHE - 1)] = c;
	return CHAIN_OK;
}

/* The slot path of a normal mutex's call site without an own site takes
 * the general path at every LH_OWN_LOOK-th acquisition there, to look for a
 * place (own_place). */
#define LH_OWN_LOOK 64

/* lh_took() of thread t (lh_self, maybe NULL); direct: a normal mutex that
 * t took inline (a constant). */
static inline __attribute__((always_inline)) int
took(struct lh_thread *t, const void *addr, uintptr_t pc, uintptr_t cfa, uint64_t htm,
     bool direct)
{
	struct lh_stat_slot *st;
	struct lh_lock *lk;

	if (LH_UNLIKELY(!t) || LH_UNLIKELY(t->busy))
		goto slow;
	st = &t->stats[lh_stat_index((uintptr_t)addr, pc)];
	if (LH_UNLIKELY(st->addr != (uintptr_t)addr) || LH_UNLIKELY(st->site != pc))
		goto miss;
	lk = st->lock;
	if (LH_UNLIKELY(lk->id != st->id)) /* stats=hold: the slot's addr never matches */
		goto slow;
	if (direct && LH_UNLIKELY(st->acq % LH_OWN_LOOK == LH_OWN_LOOK - 1))
		goto slow;
	if (t->nheld != 0) /* an order to check: out of line, to keep this a leaf */
		return took_nested(t, st, addr, pc, cfa, htm);
	/* The outermost lock: no re-entry possible, room for it (held_cap is
	 * at least LH_HELD_INLINE), its chain key not stored. */
	st->acq++;
	took_push(t, t->held, 0, lk, st->id, (uintptr_t)addr, 0, pc, cfa, htm);
	return 0;
miss:
	if (!direct) /* (a direct mutex's own site was not there) */
		return took_own(addr, pc, cfa, htm, t);
slow:
	return lh_took_slow(addr, pc, cfa, htm);
}

LH_NO_SLP int
lh_took(const void *addr, uintptr_t pc, uintptr_t cfa, uint64_t htm)
{
	return took(lh_self, addr, pc, cfa, htm, false);
}

static int took_nested_ask(struct lh_thread *t, struct lh_stat_slot *st, const void *addr,
			   uintptr_t pc, uintptr_t cfa, uint64_t htm);

/* lh_took() with locks held: re-entry, room, the chain in the cache (or,
 * with ask, in the global set). */
static inline __attribute__((always_inline)) int
took_nested_body(struct lh_thread *t, struct lh_stat_slot *st, const void *addr, uintptr_t pc,
		 uintptr_t cfa, uint64_t htm, bool ask)
{
	uint32_t n = t->nheld;
	uint64_t chain;

	switch (took_chain(t, st->lock, (uintptr_t)addr, htm, ask, &chain)) {
	case CHAIN_SLOW:
		goto slow;
	case CHAIN_ASK:
		return took_nested_ask(t, st, addr, pc, cfa, htm);
	default:
		break;
	}
	st->acq++;
	took_push(t, &t->held[n], n, st->lock, st->id, (uintptr_t)addr, chain, pc, cfa, htm);
	return 0;
slow:
	return lh_took_slow(addr, pc, cfa, htm);
}

static __attribute__((noinline)) LH_NO_SLP int
took_nested(struct lh_thread *t, struct lh_stat_slot *st, const void *addr, uintptr_t pc,
	    uintptr_t cfa, uint64_t htm)
{
	return took_nested_body(t, st, addr, pc, cfa, htm, false);
}

static __attribute__((noinline)) LH_NO_SLP int
took_nested_ask(struct lh_thread *t, struct lh_stat_slot *st, const void *addr, uintptr_t pc,
		uintptr_t cfa, uint64_t htm)
{
	return took_nested_body(t, st, addr, pc, cfa, htm, true);
}

static int took_own_nested(const void *lock, uintptr_t pc, uintptr_t cfa, uint64_t htm,
			   struct lh_thread *t, struct lh_lock *lk);
static int took_shared_nested(const void *lock, uintptr_t pc, uintptr_t cfa, uint64_t htm,
			      struct lh_thread *t, struct lh_lock *lk);

/* lk's own site of call site pc, or NULL. */
static inline __attribute__((always_inline)) struct lh_lock_own *
own_of(struct lh_lock *lk, uintptr_t pc)
{
	_Static_assert(LH_LOCK_OWN == 2, "two own sites");
	if (LH_LIKELY(atomic_load_explicit(&lk->own[0].pc, memory_order_relaxed) == pc))
		return &lk->own[0];
	if (LH_LIKELY(atomic_load_explicit(&lk->own[1].pc, memory_order_relaxed) == pc))
		return &lk->own[1];
	return NULL;
}

/* One more acquisition at an own site, by the lock's holder: a plain
 * increment if it holds the lock alone, else (shared: a read lock) an
 * atomic one. */
static inline __attribute__((always_inline)) void
own_count(struct lh_lock_own *own, bool shared)
{
	if (shared)
		atomic_fetch_add_explicit(&own->n, 1, memory_order_relaxed);
	else
		atomic_store_explicit(&own->n,
				      atomic_load_explicit(&own->n, memory_order_relaxed) + 1,
				      memory_order_relaxed);
}

/*
 * lh_took() of a normal mutex t took inline (direct.h): the mutex names its
 * node, and the acquisition counts in the node (lh_lock_own), under the
 * hold: no statistics slot, whose table of a few hundred (lock, call site)
 * pairs a program that takes many locks in turn keeps missing. A call site
 * without an own site (the lock's third, or any with stats=hold, which
 * claims none) takes the slot path of lh_took(). t comes last, so that
 * the tail calls find their arguments in place.
 */
LH_NO_SLP int
lh_took_direct(pthread_mutex_t *m, uintptr_t pc, uintptr_t cfa, uint64_t htm,
	       struct lh_thread *t)
{
	struct lh_lock_own *own;
	struct lh_lock *lk;
	uint64_t id;

	if (LH_UNLIKELY(t->busy) || LH_UNLIKELY(!lh_direct_decode(m, &lk, &id)) ||
	    LH_UNLIKELY(lk->id != id))
		return lh_took_slow(m, pc, cfa, htm);
	if (LH_UNLIKELY(!(own = own_of(lk, pc))))
		return took(t, m, pc, cfa, htm, true);
	if (t->nheld != 0)
		return took_own_nested(m, pc, cfa, htm, t, lk);
	took_push(t, t->held, 0, lk, id, (uintptr_t)m, 0, pc, cfa, htm);
	own_count(own, false);
	return 0;
}

/*
 * lh_took() of any other lock whose statistics slot for this call site
 * holds another (lock, site): the lock's node, named by the lock itself
 * (most mutexes and read-write locks, direct.h) or found in the table, counts it at the
 * call site's own place there (lh_count claimed it the first time), so
 * that a program taking many locks in turn does not evict a slot (and
 * write another lock's node) at every acquisition. A read lock counts
 * with an atomic add: its holders share it. t comes last, as in
 * lh_took_direct().
 */
static __attribute__((noinline)) LH_NO_SLP int
took_own(const void *addr, uintptr_t pc, uintptr_t cfa, uint64_t htm, struct lh_thread *t)
{
	struct lh_lock_own *own;
	struct lh_lock *lk;
	lh_word *w0, *w1;
	uint64_t id;

	if (lh_name_words(addr, LH_TOOK_TYPE(htm), &w0, &w1)) {
		if (!lh_name_get(w0, w1, addr, &lk, &id))
			goto slow;
	} else if ((lk = lh_locktab_find(addr)) != NULL) {
		id = lk->id;
	} else {
		goto slow;
	}
	if (LH_UNLIKELY(lk->id != id) || !(own = own_of(lk, pc)))
		goto slow;
	if (t->nheld != 0)
		return LH_TOOK_MODE(htm) == LH_MODE_READ
			       ? took_shared_nested(addr, pc, cfa, htm, t, lk)
			       : took_own_nested(addr, pc, cfa, htm, t, lk);
	took_push(t, t->held, 0, lk, id, (uintptr_t)addr, 0, pc, cfa, htm);
	own_count(own, LH_TOOK_MODE(htm) == LH_MODE_READ);
	return 0;
slow:
	return lh_took_slow(addr, pc, cfa, htm);
}

static int took_own_nested_ask(const void *lock, uintptr_t pc, uintptr_t cfa, uint64_t htm,
			       struct lh_thread *t, struct lh_lock *lk);
static int took_shared_nested_ask(const void *lock, uintptr_t pc, uintptr_t cfa, uint64_t htm,
				  struct lh_thread *t, struct lh_lock *lk);

/* The own-site paths with locks held; shared: a read lock (an atomic
 * count), else the holder's alone. */
static inline __attribute__((always_inline)) int
took_own_nested_body(const void *lock, uintptr_t pc, uintptr_t cfa, uint64_t htm,
		     struct lh_thread *t, struct lh_lock *lk, bool ask, bool shared)
{
	uint32_t n = t->nheld;
	uint64_t chain;

	switch (took_chain(t, lk, (uintptr_t)lock, htm, ask, &chain)) {
	case CHAIN_SLOW:
		goto slow;
	case CHAIN_ASK:
		return shared ? took_shared_nested_ask(lock, pc, cfa, htm, t, lk)
			      : took_own_nested_ask(lock, pc, cfa, htm, t, lk);
	default:
		break;
	}
	took_push(t, &t->held[n], n, lk, lk->id, (uintptr_t)lock, chain, pc, cfa, htm);
	own_count(own_of(lk, pc), shared); /* lh_took_direct() or took_own() found it */
	return 0;
slow:
	return lh_took_slow(lock, pc, cfa, htm);
}

/* The four instances: own or shared count, with or without asking. */
#define TOOK_OWN_NESTED(name, ask, shared)                                               \
	static __attribute__((noinline)) LH_NO_SLP int name(                             \
		const void *lock, uintptr_t pc, uintptr_t cfa, uint64_t htm,             \
		struct lh_thread *t, struct lh_lock *lk)                                 \
	{                                                                                \
		return took_own_nested_body(lock, pc, cfa, htm, t, lk, ask, shared);     \
	}
TOOK_OWN_NESTED(took_own_nested, false, false)
TOOK_OWN_NESTED(took_own_nested_ask, true, false)
TOOK_OWN_NESTED(took_shared_nested, false, true)
TOOK_OWN_NESTED(took_shared_nested_ask, true, true)
#undef TOOK_OWN_NESTED

/*
 * A place among lk's own sites for the call site of h, which has none, or
 * NULL (count it in a slot): a free one, else one that nobody used between
 * the last three times a call site looked for a place (own_mark: the
 * count's low bits at the last look, above a bit that says whether it was
 * idle then). So a site that stopped (set-up code) gives its place to one
 * that goes on, within two looks, while sites taken in turn, more than
 * there are places, do not take them from each other: the extra site is
 * counted in its slot, and looks again now and then (lh_took_direct). A
 * site given away is cleared, then its count handed in (own_collect in
 * stats.c).
 */
static inline __attribute__((always_inline)) struct lh_lock_own *
own_place(struct lh_thread *t, struct lh_lock *lk, const struct lh_held *h)
{
	int pick = -1, free_ = -1;
	struct lh_lock_own *own;
	uintptr_t was;
	uint64_t n;

	for (int k = 0; k < LH_LOCK_OWN; k++) {
		uint16_t low = (uint16_t)(atomic_load_explicit(&lk->own[k].n, memory_order_relaxed) << 1);
		uint16_t mark = atomic_load_explicit(&lk->own_mark[k], memory_order_relaxed);
		bool idle = (mark & ~1u) == low;

		if (atomic_load_explicit(&lk->own[k].pc, memory_order_relaxed) == 0)
			free_ = free_ < 0 ? k : free_;
		else if (idle && (mark & 1u) && pick < 0)
			pick = k;
		atomic_store_explicit(&lk->own_mark[k], (uint16_t)(low | idle), memory_order_relaxed);
	}
	if (free_ >= 0)
		pick = free_;
	else if (pick < 0)
		return NULL;
	own = &lk->own[pick];
	was = atomic_load_explicit(&own->pc, memory_order_relaxed);
	n = atomic_load_explicit(&own->n, memory_order_relaxed);
	atomic_store_explicit(&own->n, 0, memory_order_relaxed);
	atomic_store_explicit(&own->pc, h->pc, memory_order_release);
	atomic_store_explicit(&lk->own_mark[pick], 0, memory_order_relaxed);
	if (was && n) {
		atomic_thread_fence(memory_order_seq_cst);
		lh_stat_hand_in(t, lk, h->id, was, n);
	}
	return own;
}

/*
 * lh_count() of a normal mutex that t holds exclusively: counted at one of
 * the node's own sites, which lh_took_direct() looks at, if its call site
 * has or gets one. False (count it in a slot) otherwise, with stats=hold,
 * which claims none, or if the node is not h's lock's any more.
 */
bool
lh_count_own(struct lh_thread *t, struct lh_held *h)
{
	struct lh_lock *lk = h->lock;
	struct lh_lock_own *own;

	if (LH_UNLIKELY(lk->id != h->id) || LH_UNLIKELY(lh_opt.stats == LH_STATS_HOLD))
		return false;
	if (!(own = own_of(lk, h->pc)) && !(own = own_place(t, lk, h)))
		return false;
	own_count(own, false);
	return true;
}

/*
 * lh_count() of any other lock (counted in t's slot): gives h's call site
 * a place among the node's own sites if it has none, for took_own() to
 * count at when the slot holds another pair. A holder alone may move
 * another site's place (own_place); a reader, who shares the lock with
 * other readers counting there, only takes a free one.
 */
void
lh_own_claim(struct lh_thread *t, const struct lh_held *h)
{
	struct lh_lock *lk = h->lock;

	if (LH_UNLIKELY(lk->id != h->id) || lh_opt.stats == LH_STATS_HOLD || own_of(lk, h->pc))
		return;
	if (h->mode != LH_MODE_READ) {
		own_place(t, lk, h);
		return;
	}
	for (int k = 0; k < LH_LOCK_OWN; k++) {
		uintptr_t free_ = 0;

		if (atomic_compare_exchange_strong_explicit(&lk->own[k].pc, &free_, h->pc,
							    memory_order_release,
							    memory_order_relaxed))
			return;
	}
}

/* lh_took() for everything but the common case: the general path. */
int
lh_took_slow(const void *addr, uintptr_t pc, uintptr_t cfa, uint64_t htm)
{
	struct lh_thread *t = lh_fast_self();
	enum lh_how how = (enum lh_how)LH_TOOK_HOW(htm);
	int slot;

	if (!t)
		return 0;
	/* The lock is taken: its order is checked as a blocking one would be,
	 * unless it was a trylock (a timed lock's order counts once taken). */
	slot = lh_before_lock(t, addr, (enum lh_lock_type)LH_TOOK_TYPE(htm),
			      (enum lh_mode)LH_TOOK_MODE(htm), how == LH_TIMED ? LH_BLOCKING : how, pc,
			      cfa);
	lh_after_lock(t, slot, addr);
	return 0;
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
			lh_count(t, h);
		}
		return;
	}
	if ((uint32_t)slot != n || h->addr != (uintptr_t)addr)
		return; /* overwritten in between: this hold goes untracked */
	if (h->how == LH_TIMED && n > 0 && !lh_chain_cached(t, h->chain))
		lh_validate(t, h);
	t->nheld = n + 1;
	lh_count(t, h);
	if (lh_opt.stats == LH_STATS_HOLD)
		h->since_ns = lh_now_ns();
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
			t->held[k].chain = lh_chain_mix(k ? lh_chain_at(t, k - 1) : 0,
							t->held[k].lock->salt, t->held[k].mode);
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
		lh_chainset_forget(); /* its chains are dead keys now */
		lh_graph_unlock();
	}
	if (lh_opt.stats != LH_STATS_OFF)
		lh_stats_retire(lk);
	lh_locktab_remove(lk);
	errno = err;
}
