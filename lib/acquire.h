/*
 * The hot path of every lock call, inline in the wrappers (intercept.c).
 *
 * A lock taken in an order this thread has seen costs (lh_took, acquire.c):
 * one TLS load, one probe of the thread's statistics slots, which name the
 * lock's node (no lock-table lookup), an add and a multiply for the chain
 * key and one probe of the thread's chain cache; then a push onto the held
 * stack. A normal mutex (lh_took_direct) names its node itself and counts
 * the acquisition in the node's first line, which its holder alone writes,
 * as it writes the mutex: no slot. No lock, no write to a line that
 * threads using other locks share, and errno is not touched (only the slow
 * paths can change it; they save it). The general path below (before and
 * after the real call) serves everything else.
 */
#ifndef LOCKHOUND_ACQUIRE_H
#define LOCKHOUND_ACQUIRE_H

#include "lockhound-private.h"
#include "direct.h"

struct lh_thread *lh_enter_slow(void);
struct lh_lock *lh_lock_slow(struct lh_thread *t, const void *addr, enum lh_lock_type type);
bool lh_held_grow_slow(struct lh_thread *t);
void lh_validate(struct lh_thread *t, struct lh_held *h);
void lh_after_slow(struct lh_thread *t, int slot, const void *addr);
void lh_unlock_slow(struct lh_thread *t, const void *addr, uint32_t n,
		    enum lh_lock_type type, uintptr_t pc, uintptr_t cfa);

/*
 * Marks the calling thread busy and returns its state, or NULL if its lock
 * calls must pass straight through: re-entry from the runtime itself (or a
 * signal handler that interrupted it), start-up, or an untracked thread.
 * For the slow paths (init, destroy, annotations); the acquisition and
 * release fast paths use lh_fast_self() and mark nothing.
 */
static inline struct lh_thread *
lh_enter(void)
{
	struct lh_thread *t = lh_self;

	if (LH_LIKELY(t != NULL)) {
		if (LH_UNLIKELY(t->busy))
			return NULL;
		t->busy = 1;
		return t;
	}
	return lh_enter_slow();
}

static inline void
lh_leave(struct lh_thread *t)
{
	t->busy = 0;
}

struct lh_thread *lh_fast_self_slow(void);

/*
 * The calling thread's state for an acquisition or a release, without
 * marking it busy: the fast path calls nothing that locks, and every
 * out-of-line function that takes a runtime mutex marks the thread busy
 * itself (LH_BUSY_BEGIN), so that a signal handler's lock call passes
 * through. NULL: pass through.
 */
static inline struct lh_thread *
lh_fast_self(void)
{
	struct lh_thread *t = lh_self;

	if (LH_LIKELY(t != NULL) && LH_LIKELY(!t->busy))
		return t;
	return lh_fast_self_slow();
}

#define LH_BUSY_BEGIN(t)                                                                 \
	int lh_busy_saved_ = (t)->busy;                                                  \
	(t)->busy = 1
#define LH_BUSY_END(t) ((t)->busy = lh_busy_saved_)

static inline bool
lh_chain_cached(const struct lh_thread *t, uint64_t chain)
{
	return t->chain_cache[chain & (LH_CHAIN_CACHE - 1)] == chain;
}

/* The chain key of held[i]. The outermost lock's is not stored (its entry's
 * chain field is stale): it is made when a second lock needs it, from the
 * lock alone; every other entry gets its key when it is pushed or moved. */
static inline uint64_t
lh_chain_at(const struct lh_thread *t, uint32_t i)
{
	const struct lh_held *h = &t->held[i];

	return i == 0 ? lh_chain_mix(0, h->lock->salt, h->mode) : h->chain;
}

/*
 * Whether the lock at addr (of type) names its node in itself (direct.h):
 * most mutexes (C11's too: a pthread_mutex_t inside) and process-private
 * read-write locks; then *w0 and *w1 are the two words that do (else
 * NULL). Spin locks have no room.
 */
static inline bool
lh_name_words(const void *addr, unsigned type, lh_word **w0, lh_word **w1)
{
	const pthread_mutex_t *m = addr;
	const pthread_rwlock_t *rw = addr;

	if ((type == LH_TYPE_MUTEX || type == LH_TYPE_MTX) && lh_mutex_named(m)) {
		*w0 = LH_MUTEX_W0(m);
		*w1 = LH_MUTEX_W1(m);
		return true;
	}
	if (type == LH_TYPE_RWLOCK && lh_rw_named(rw)) {
		*w0 = LH_RW_W0(rw);
		*w1 = LH_RW_W1(rw);
		return true;
	}
	*w0 = *w1 = NULL;
	return false;
}

/*
 * The node of the lock at addr and its id (*id), made if it is new; NULL:
 * untracked. A lock that names its node (lh_name_words) spares the lock
 * table's two dependent cache misses when a program takes many locks in
 * turn.
 */
static inline struct lh_lock *
lh_lock_of(struct lh_thread *t, const void *addr, enum lh_lock_type type, uint64_t *id)
{
	lh_word *w0, *w1;
	bool named = lh_name_words(addr, type, &w0, &w1);
	struct lh_lock *lk;

	/* A name whose node has another id now is stale: the table knows. */
	if (named && lh_name_get(w0, w1, addr, &lk, id) && LH_LIKELY(lk->id == *id))
		return lk;
	lk = lh_locktab_find(addr);
	if (LH_UNLIKELY(!lk) && !(lk = lh_lock_slow(t, addr, type)))
		return NULL;
	*id = lk->id;
	if (named)
		lh_name_set(w0, w1, addr, lk, *id);
	return lk;
}

/*
 * Before the real acquisition, which may block. Fills the next held slot
 * (not yet counted in nheld), notices a re-entry, and for a blocking
 * acquisition with locks held makes sure the graph knows this order, so that
 * an inversion is reported even if this very call then deadlocks. Returns
 * the slot for lh_after_lock: nheld for a new hold, a lower index for a
 * counted re-entry, or LH_SLOT_NONE, LH_SLOT_HANGS, LH_SLOT_FAILS.
 */
static inline __attribute__((always_inline)) int
lh_before_lock(struct lh_thread *t, const void *addr, enum lh_lock_type type,
	       enum lh_mode mode, enum lh_how how, uintptr_t pc, uintptr_t cfa)
{
	uint32_t n = t->nheld;
	struct lh_held *h;
	struct lh_lock *lk;
	uint64_t id;

	lk = lh_lock_of(t, addr, type, &id);
	if (LH_UNLIKELY(!lk))
		return LH_SLOT_NONE;
	if (LH_UNLIKELY(n == t->held_cap) && !lh_held_grow_slow(t))
		return LH_SLOT_NONE;
	for (uint32_t i = n; i-- > 0;)
		if (LH_UNLIKELY(t->held[i].lock == lk) && t->held[i].id == id)
			return lh_misuse_reentry(t, i, type, mode, cfa);
	h = &t->held[n];
	h->lock = lk;
	h->id = id;
	h->addr = (uintptr_t)addr;
	h->pc = pc;
	h->cfa = cfa;
	h->stack = 0;
	h->mode = (uint8_t)mode;
	h->how = (uint8_t)how;
	h->count = 1;
	h->since_ms = atomic_load_explicit(&lh_tick_ms, memory_order_relaxed);
	if (n == 0)
		return 0; /* its key is made when a second lock needs it (lh_chain_at) */
	h->chain = lh_chain_mix(lh_chain_at(t, n - 1), lh_lock_salt(id), mode);
	if (how == LH_BLOCKING && LH_UNLIKELY(!lh_chain_cached(t, h->chain)))
		lh_validate(t, h);
	return (int)n;
}

int lh_took(const void *addr, uintptr_t pc, uintptr_t cfa, uint64_t how_type_mode);
int lh_took_direct(pthread_mutex_t *m, uintptr_t pc, uintptr_t cfa, uint64_t how_type_mode,
		   struct lh_thread *t);
int lh_took_slow(const void *addr, uintptr_t pc, uintptr_t cfa, uint64_t how_type_mode);

/* lh_took()'s last argument: mode, how and type in bits 32-55, where struct
 * lh_held's 8-byte word of since_ms, mode, how and pad holds them (the type
 * lands in the unused pad): the fast path stores tick | htm. */
#define LH_TOOK(how, type, mode)                                                         \
	((uint64_t)(type) << 48 | (uint64_t)(how) << 40 | (uint64_t)(mode) << 32)
#define LH_TOOK_MODE(htm) ((unsigned)((htm) >> 32 & 0xff))
#define LH_TOOK_HOW(htm) ((unsigned)((htm) >> 40 & 0xff))
#define LH_TOOK_TYPE(htm) ((unsigned)((htm) >> 48 & 0xffff))

bool lh_count_own(struct lh_thread *t, struct lh_held *h);
void lh_own_claim(struct lh_thread *t, const struct lh_held *h);

/*
 * Counts the acquisition of held entry h, just committed, where it belongs:
 * a normal mutex taken exclusively in the lock's node, at one of its own
 * sites (lh_took_direct's fast path looks there), anything else in the
 * thread's statistics slot, which also caches the node for lh_took(); its
 * call site then gets an own site too, where lh_took() counts once the
 * slot holds another pair.
 */
static inline void
lh_count(struct lh_thread *t, struct lh_held *h)
{
	if (h->lock->type == LH_TYPE_MUTEX && lh_direct((const pthread_mutex_t *)h->addr)) {
		if (h->mode == LH_MODE_WRITE && lh_count_own(t, h))
			return;
	} else {
		lh_own_claim(t, h);
	}
	lh_stat_count(t, h->lock, h->id, h->addr, h->pc);
}

/* After a successful acquisition: the filled slot joins the held stack. */
static inline __attribute__((always_inline)) void
lh_after_lock(struct lh_thread *t, int slot, const void *addr)
{
	uint32_t n = t->nheld;

	if (LH_LIKELY((uint32_t)slot == n) && LH_LIKELY(t->held[n].addr == (uintptr_t)addr) &&
	    LH_LIKELY(t->held[n].how != LH_TIMED)) {
		struct lh_held *h = &t->held[n];

		t->nheld = n + 1;
		/* With stats=off too: the slot is lh_took()'s cache of the node. */
		lh_count(t, h);
		if (LH_UNLIKELY(lh_opt.stats == LH_STATS_HOLD))
			h->since_ns = lh_now_ns();
		return;
	}
	lh_after_slow(t, slot, addr);
}

/* Before the real release: the lock leaves the held stack. pc and cfa are
 * the wrapper's: where it is released (for contention profiling) and the
 * stack of a misuse report. */
static inline __attribute__((always_inline)) void
lh_on_unlock(struct lh_thread *t, const void *addr, enum lh_lock_type type, uintptr_t pc,
	     uintptr_t cfa)
{
	uint32_t n = t->nheld;

	if (LH_LIKELY(n > 0) && t->held[n - 1].addr == (uintptr_t)addr &&
	    LH_LIKELY(t->held[n - 1].count == 1)) {
		struct lh_held *h = &t->held[n - 1];

		/* Someone waits for it (or hold times are on): say where. */
		if (LH_UNLIKELY(atomic_load_explicit(&h->lock->wait_hint, memory_order_relaxed)))
			lh_stat_released(t, h, pc);
		t->nheld = n - 1;
		return;
	}
	lh_unlock_slow(t, addr, n, type, pc, cfa);
}

#endif /* LOCKHOUND_ACQUIRE_H */
