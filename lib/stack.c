/*
 * Stacks: capture with libgcc's unwinder and intern in a depot.
 *
 * lh_unwind() walks the caller's stack with _Unwind_Backtrace, which on gcc 12
 * finds unwind tables through glibc's lock-free _dl_find_object; it is primed
 * once at start-up (its first call takes a lock). Frames inside liblockhound
 * are dropped from the top. It runs only on slow paths: 3-5 us for 15 frames.
 *
 * The depot stores each distinct stack once and names it by a 32-bit id.
 * Interning takes depot_mu; reading by id is lock-free (a two-level table
 * whose slots are published with release stores and never move).
 */
#include "config.h"

#include <string.h>
#include <unwind.h>

#include "lockhound-private.h"

uintptr_t lh_self_lo, lh_self_hi;

struct unwind_state {
	struct lh_frame *out;
	int max, n;
	uintptr_t from_cfa; /* drop frames below this stack pointer */
	bool in_self;	    /* still in our own frames at the top */
};

static _Unwind_Reason_Code
unwind_cb(struct _Unwind_Context *ctx, void *arg)
{
	struct unwind_state *st = arg;
	int before = 0;
	uintptr_t pc = _Unwind_GetIPInfo(ctx, &before);

	if (pc == 0)
		return _URC_END_OF_STACK;
	/* A signal frame's pc is the interrupted instruction: make it look like a
	 * return address, so that every stored pc is looked up at pc - 1. */
	if (before)
		pc++;
	if (st->from_cfa) {
		if (_Unwind_GetCFA(ctx) < st->from_cfa)
			return _URC_NO_REASON;
		st->from_cfa = 0;
	} else if (st->in_self) {
		if (pc >= lh_self_lo && pc < lh_self_hi)
			return _URC_NO_REASON;
		st->in_self = false;
	}
	if (st->n >= st->max)
		return _URC_END_OF_STACK;
	st->out[st->n].pc = pc;
	st->out[st->n].cfa = _Unwind_GetCFA(ctx);
	st->out[st->n].start = _Unwind_GetRegionStart(ctx);
	st->n++;
	return _URC_NO_REASON;
}

/*
 * Fills out with the caller's frames, innermost first; returns how many.
 * With from_cfa (a wrapper's __builtin_dwarf_cfa()), the first frame is the
 * one that called that wrapper; without, the first outside liblockhound.
 * When that caller was built with -fsanitize=thread, the shadow call stack
 * of race.c gives the frames without unwinding.
 */
int
lh_unwind(struct lh_frame *out, int max, uintptr_t from_cfa)
{
	struct unwind_state st = {out, max, 0, from_cfa, lh_self_hi != 0};
	int n = from_cfa ? lh_shadow_unwind(out, max, from_cfa) : -1;

	if (n >= 0)
		return n;
	_Unwind_Backtrace(unwind_cb, &st);
	return st.n;
}

/* The start of the function containing the return address pc, or 0. */
uintptr_t
lh_function_start(uintptr_t pc)
{
	return (uintptr_t)_Unwind_FindEnclosingFunction((void *)(pc - 1));
}

void
lh_stack_set_self_range(uintptr_t lo, uintptr_t hi)
{
	lh_self_lo = lo;
	lh_self_hi = hi;
}

/* ---- the depot --------------------------------------------------------- */

/* struct lh_stack_rec and the directory's shape are in lockhound-private.h:
 * lockhound attach reads the depot of a process from outside. */
#define LEAF_BITS LH_DEPOT_LEAF_BITS
#define LEAF_SIZE (1u << LEAF_BITS)
#define DIR_SIZE LH_DEPOT_DIR_SIZE

static lh_mutex_t depot_mu = LH_MUTEX_INIT;
static _Atomic(struct lh_stack_rec **) dir[DIR_SIZE];
static uint32_t nstacks = 1; /* id 0 is "none" */
static uint32_t *index_tab;   /* open addressing: hash -> id */
static size_t index_cap;
static _Atomic int full_warned;

static uint64_t
hash_pcs(const uintptr_t *pcs, int n, unsigned flags)
{
	uint64_t h = 0xcbf29ce484222325ull ^ flags;

	for (int i = 0; i < n; i++) {
		h ^= pcs[i];
		h *= 0x100000001b3ull;
		h ^= h >> 29;
	}
	return h ? h : 1;
}

static struct lh_stack_rec *
rec_of(lh_stack_id id)
{
	struct lh_stack_rec **leaf;

	if (id == 0 || id >= (uint64_t)DIR_SIZE * LEAF_SIZE)
		return NULL;
	leaf = atomic_load_explicit(&dir[id >> LEAF_BITS], memory_order_acquire);
	if (!leaf)
		return NULL;
	return __atomic_load_n(&leaf[id & (LEAF_SIZE - 1)], __ATOMIC_ACQUIRE);
}

static bool
index_grow(void)
{
	size_t cap = index_cap ? index_cap * 2 : 4096;
	uint32_t *tab = lh_alloc(cap * sizeof(*tab));

	if (!tab)
		return false;
	for (size_t i = 0; i < index_cap; i++) {
		uint32_t id = index_tab[i];
		size_t j;

		if (!id)
			continue;
		j = (size_t)rec_of(id)->hash & (cap - 1);
		while (tab[j])
			j = (j + 1) & (cap - 1);
		tab[j] = id;
	}
	lh_free(index_tab, index_cap * sizeof(*index_tab));
	index_tab = tab;
	index_cap = cap;
	return true;
}

/*
 * Returns the id of the stack pcs[0..n) with flags, adding it if new; 0 when
 * out of memory or space (said once). Takes depot_mu.
 */
lh_stack_id
lh_stack_intern(const uintptr_t *pcs, int n, unsigned flags)
{
	uint64_t h = hash_pcs(pcs, n, flags);
	struct lh_stack_rec *r, **leaf;
	lh_stack_id id = 0;
	size_t j;

	if (n <= 0)
		return 0;
	lh_mutex_lock(&depot_mu);
	if ((nstacks + 1) * 2 > index_cap && !index_grow())
		goto out;
	for (j = (size_t)h & (index_cap - 1); index_tab[j]; j = (j + 1) & (index_cap - 1)) {
		r = rec_of(index_tab[j]);
		if (r->hash == h && r->n == (uint32_t)n && r->flags == flags &&
		    memcmp(r->pcs, pcs, (size_t)n * sizeof(*pcs)) == 0) {
			id = index_tab[j];
			goto out;
		}
	}
	if (nstacks >= (uint64_t)DIR_SIZE * LEAF_SIZE)
		goto out;
	leaf = atomic_load_explicit(&dir[nstacks >> LEAF_BITS], memory_order_relaxed);
	if (!leaf) {
		leaf = lh_alloc(LEAF_SIZE * sizeof(*leaf));
		if (!leaf)
			goto out;
		atomic_store_explicit(&dir[nstacks >> LEAF_BITS], leaf, memory_order_release);
	}
	r = lh_alloc(sizeof(*r) + (size_t)n * sizeof(*pcs));
	if (!r)
		goto out;
	r->hash = h;
	r->n = (uint32_t)n;
	r->flags = flags;
	memcpy(r->pcs, pcs, (size_t)n * sizeof(*pcs));
	id = nstacks++;
	__atomic_store_n(&leaf[id & (LEAF_SIZE - 1)], r, __ATOMIC_RELEASE);
	index_tab[j] = id;
out:
	lh_mutex_unlock(&depot_mu);
	if (!id)
		lh_warn_once(&full_warned, "stack depot full or out of memory; some stacks "
					   "are missing from reports");
	return id;
}

/* Lock-free. Returns the frames of id and their count, or NULL. */
const uintptr_t *
lh_stack_get(lh_stack_id id, int *n, unsigned *flags)
{
	struct lh_stack_rec *r = rec_of(id);

	if (!r) {
		*n = 0;
		return NULL;
	}
	*n = (int)r->n;
	if (flags)
		*flags = r->flags;
	return r->pcs;
}

/* Runs the unwinder once so that its one-time initialization (which locks)
 * happens here, at start-up, and not in a report path. */
void
lh_stack_init(void)
{
	struct lh_frame f[4];

	lh_unwind(f, 4, 0);
	(void)lh_function_start((uintptr_t)lh_stack_init + 1);
}

void
lh_stack_atfork_prepare(void)
{
	lh_mutex_lock(&depot_mu);
}

void
lh_stack_atfork_parent(void)
{
	lh_mutex_unlock(&depot_mu);
}

void
lh_stack_atfork_child(void)
{
	lh_mutex_reset(&depot_mu);
}
