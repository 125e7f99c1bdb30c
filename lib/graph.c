/*
 * Lock-order graph. An edge A->B means some thread took B while holding A.
 * Callers hold graph_mu, a runtime mutex (never interposed); the hot path
 * never comes here: it stops at the chain caches of acquire.c and chain.c.
 *
 * Nodes keep a topological order (Pearce and Kelly, "A dynamic topological
 * sort algorithm for directed acyclic graphs"): an edge that agrees with the
 * order costs O(1); otherwise two searches bounded by the ranks of its ends
 * either reorder the affected nodes or find that the edge closes a cycle.
 * An edge that closes a cycle is kept as a "back" edge, outside the order.
 *
 * A cycle is reported only if it can deadlock:
 *  - gate locks (Bensalem and Havelund): if one lock was held, exclusively,
 *    whenever each edge of the cycle was made, the threads cannot be in the
 *    cycle at once. Each edge keeps the intersection of the other locks held
 *    over all its occurrences (at most LH_GATE_MAX of them);
 *  - read locks (lockdep's "strong path" rule): a cycle is not a deadlock if
 *    at some lock it needs a recursive-read acquisition followed by that lock
 *    being held shared (glibc's default rwlocks let readers in past readers).
 * The search for a reportable path is a breadth-first search over states
 * (node, gate mask, "arrived by a recursive read"), so it finds the shortest
 * reportable cycle if any exists. Back edges whose cycles were all excused
 * wait in a pending list and are searched again when a new edge, a shrunken
 * gate set or a new mode combination could open a reportable path.
 *
 * XXX: the search does not go through back edges, so a cycle that needs an
 * inversion already reported is not reported again as a separate cycle.
 *
 * Memory: a node is 104 bytes plus its adjacency arrays; an edge is 112 bytes
 * plus a slot in the edge table and two adjacency slots.
 */
#include "config.h"

#include <string.h>

#include "lockhound-private.h"

static lh_mutex_t graph_mu = LH_MUTEX_INIT;
static struct lh_graph_ops ops;
static int64_t next_rank;
static uint64_t stamp, next_seq = 1;
static size_t nnodes, nedges;
static _Atomic int oom_warned;

/* Edge table: open addressing keyed by (from id, to id). */
#define TOMB ((struct lh_edge *)1)
static struct lh_edge **etab;
static size_t ecap, eused; /* eused counts tombstones too */

/* Back edges whose cycles were excused so far. */
static struct lh_edge **pending;
static size_t npending, cappending;

/* Scratch arrays reused by searches, under graph_mu. */
static struct lh_gnode **scratch_f, **scratch_b;
static size_t capf, capb;
static int64_t *scratch_ranks;
static size_t capranks;

struct bfs_item {
	struct lh_gnode *node;
	struct lh_edge *via; /* edge that led here */
	int32_t parent;	     /* index of the previous item, -1 at the start */
	uint8_t mask;	     /* gates of the new edge common to every edge so far */
	uint8_t rr;	     /* arrived through a recursive-read acquisition */
	uint8_t cfr;	     /* the closing edge's held lock is held shared */
};
static struct bfs_item *queue;
static size_t capqueue;

static void
oom(void)
{
	lh_warn_once(&oom_warned, "out of memory in the lock-order graph; some lock orders "
				  "are not checked");
}

static bool
grow(void *pp, size_t *cap, size_t elem, size_t need)
{
	void **p = pp;
	size_t ncap = *cap ? *cap : 64;
	void *n;

	if (need <= *cap)
		return true;
	while (ncap < need)
		ncap *= 2;
	n = lh_realloc(*p, *cap * elem, ncap * elem);
	if (!n) {
		oom();
		return false;
	}
	*p = n;
	*cap = ncap;
	return true;
}

void
lh_graph_init(const struct lh_graph_ops *o)
{
	ops = *o;
}

void
lh_graph_lock(void)
{
	lh_mutex_lock(&graph_mu);
}

void
lh_graph_unlock(void)
{
	lh_mutex_unlock(&graph_mu);
}

/* ---- edge table -------------------------------------------------------- */

static size_t
ehash(uint64_t from, uint64_t to)
{
	uint64_t h = from * 0x9e3779b97f4a7c15ull ^ (to + 0x632be59bd9b4e019ull) *
							0xbf58476d1ce4e5b9ull;

	return (size_t)(h ^ (h >> 31));
}

static struct lh_edge *
efind(uint64_t from, uint64_t to)
{
	size_t i;

	if (!ecap)
		return NULL;
	for (i = ehash(from, to) & (ecap - 1); etab[i]; i = (i + 1) & (ecap - 1))
		if (etab[i] != TOMB && etab[i]->from->id == from && etab[i]->to->id == to)
			return etab[i];
	return NULL;
}

/* Rebuilds the table for `need` edges at most 40% full, dropping tombstones. */
static bool
rehash(size_t need)
{
	size_t ncap = 1024, live = 0, i;
	struct lh_edge **n;

	while (need * 10 > ncap * 4)
		ncap *= 2;
	n = lh_alloc(ncap * sizeof(*n));
	if (!n) {
		oom();
		return false;
	}
	for (size_t j = 0; j < ecap; j++) {
		struct lh_edge *x = etab[j];

		if (!x || x == TOMB)
			continue;
		for (i = ehash(x->from->id, x->to->id) & (ncap - 1); n[i]; i = (i + 1) & (ncap - 1))
			;
		n[i] = x;
		live++;
	}
	lh_free(etab, ecap * sizeof(*etab));
	etab = n;
	ecap = ncap;
	eused = live;
	return true;
}

static bool
einsert(struct lh_edge *e)
{
	size_t i;

	if ((eused + 1) * 10 > ecap * 7 && !rehash(nedges + 1))
		return false;
	for (i = ehash(e->from->id, e->to->id) & (ecap - 1); etab[i] && etab[i] != TOMB;
	     i = (i + 1) & (ecap - 1))
		;
	if (!etab[i])
		eused++;
	etab[i] = e;
	return true;
}

static void
eremove(struct lh_edge *e)
{
	for (size_t i = ehash(e->from->id, e->to->id) & (ecap - 1); etab[i];
	     i = (i + 1) & (ecap - 1)) {
		if (etab[i] == e) {
			etab[i] = TOMB;
			return;
		}
	}
}

/* ---- nodes ------------------------------------------------------------- */

/* The graph node of lk, made on first use; NULL when out of memory. */
struct lh_gnode *
lh_graph_node(struct lh_lock *lk)
{
	struct lh_gnode *g = lk->gnode;

	if (g)
		return g;
	g = lh_alloc(sizeof(*g));
	if (!g) {
		oom();
		return NULL;
	}
	g->id = lk->id;
	g->addr = atomic_load_explicit(&lk->addr, memory_order_relaxed);
	g->init_pc = lk->init_pc;
	g->type = lk->type;
	g->kind = lk->kind;
	g->from_init = lk->from_init;
	g->rr = lk->type == LH_TYPE_RWLOCK && lk->kind != LH_RWLOCK_WRITER_NONRECURSIVE;
	g->name = lk->name;
	g->rank = next_rank++;
	lk->gnode = g;
	nnodes++;
	return g;
}

static bool
adj_add(struct lh_edge ***arr, uint32_t *n, uint32_t *cap, struct lh_edge *e)
{
	if (*n == *cap) {
		uint32_t ncap = *cap ? *cap * 2 : 4;
		struct lh_edge **p = lh_realloc(*arr, *cap * sizeof(**arr), ncap * sizeof(**arr));

		if (!p) {
			oom();
			return false;
		}
		*arr = p;
		*cap = ncap;
	}
	(*arr)[(*n)++] = e;
	return true;
}

static void
adj_del(struct lh_edge **arr, uint32_t *n, struct lh_edge *e)
{
	for (uint32_t i = 0; i < *n; i++) {
		if (arr[i] == e) {
			arr[i] = arr[--*n];
			return;
		}
	}
}

/* ---- searches ---------------------------------------------------------- */

/* Depth-first from start over order edges, ranks strictly inside the bound.
 * forward: follow out-edges to ranks < bound (returns true on reaching stop);
 * backward: follow in-edges to ranks > bound. Visited nodes go to *out. */
static struct lh_gnode **dfs_stack;
static size_t capdfs;

static bool
dfs(struct lh_gnode *start, struct lh_gnode *stop, int64_t bound, bool forward,
    struct lh_gnode ***out, size_t *cap, size_t *nout)
{
	size_t top = 0;

	*nout = 0;
	if (!grow(&dfs_stack, &capdfs, sizeof(*dfs_stack), 1))
		return false;
	dfs_stack[top++] = start;
	start->visit = stamp;
	while (top) {
		struct lh_gnode *g = dfs_stack[--top];
		uint32_t n = forward ? g->nout : g->nin;

		if (!grow(out, cap, sizeof(**out), *nout + 1))
			return false;
		(*out)[(*nout)++] = g;
		for (uint32_t i = 0; i < n; i++) {
			struct lh_edge *e = forward ? g->out[i] : g->in[i];
			struct lh_gnode *w = forward ? e->to : e->from;

			if (e->back || w->visit == stamp)
				continue;
			if (forward && w == stop)
				return true;
			if (forward ? w->rank >= bound : w->rank <= bound)
				continue;
			w->visit = stamp;
			if (!grow(&dfs_stack, &capdfs, sizeof(*dfs_stack), top + 1))
				return false;
			dfs_stack[top++] = w;
		}
	}
	return false;
}

static void
sort_by_rank(struct lh_gnode **a, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct lh_gnode *t = a[i];
		size_t j = i;

		while (j > 0 && a[j - 1]->rank > t->rank) {
			a[j] = a[j - 1];
			j--;
		}
		a[j] = t;
	}
}

static void
sort_ranks(int64_t *a, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		int64_t t = a[i];
		size_t j = i;

		while (j > 0 && a[j - 1] > t) {
			a[j] = a[j - 1];
			j--;
		}
		a[j] = t;
	}
}

/* Pearce-Kelly: the nodes that must precede (deltab) take the lowest of the
 * freed ranks, in their old order, then those that must follow (deltaf). */
static void
reorder(size_t nb, size_t nf)
{
	size_t n = nb + nf, k = 0;

	if (!grow(&scratch_ranks, &capranks, sizeof(*scratch_ranks), n))
		return;
	sort_by_rank(scratch_b, nb);
	sort_by_rank(scratch_f, nf);
	for (size_t i = 0; i < nb; i++)
		scratch_ranks[k++] = scratch_b[i]->rank;
	for (size_t i = 0; i < nf; i++)
		scratch_ranks[k++] = scratch_f[i]->rank;
	sort_ranks(scratch_ranks, n);
	k = 0;
	for (size_t i = 0; i < nb; i++)
		scratch_b[i]->rank = scratch_ranks[k++];
	for (size_t i = 0; i < nf; i++)
		scratch_f[i]->rank = scratch_ranks[k++];
}

static bool
has_gate(const struct lh_edge *e, uint64_t id)
{
	for (int i = 0; i < e->ngates; i++)
		if (e->gates[i] == id)
			return true;
	return false;
}

/* Bits of the closing edge's gates that edge f also had. */
static uint8_t
gate_mask(const struct lh_edge *closing, const struct lh_edge *f, uint8_t mask)
{
	for (int i = 0; i < closing->ngates; i++)
		if ((mask & (1u << i)) && !has_gate(f, closing->gates[i]))
			mask &= (uint8_t)~(1u << i);
	return mask;
}

/* Mode combinations seen on an edge: bit (held shared << 1 | taken shared). */
#define COMBO(from_read, to_read) (1u << ((from_read) << 1 | (to_read)))

/*
 * Can the cycle closing->path->closing deadlock with the combination of modes
 * available? Breadth-first from closing->to back to closing->from over order
 * edges, ranks within the closing edge's window. On success fills c (closing
 * edge first) and returns true.
 */
static bool
find_cycle(struct lh_edge *closing, struct lh_cycle *c)
{
	struct lh_gnode *x = closing->from, *y = closing->to;
	size_t head = 0, tail = 0;
	uint8_t full = (uint8_t)((1u << closing->ngates) - 1);

	stamp++;
	for (unsigned combo = 0; combo < 4; combo++) {
		unsigned from_read = combo >> 1, to_read = combo & 1;

		if (!(closing->combos & (1u << combo)))
			continue;
		if (!grow(&queue, &capqueue, sizeof(*queue), tail + 1))
			return false;
		queue[tail++] = (struct bfs_item){y, closing, -1, full,
						  (uint8_t)(to_read && y->rr), (uint8_t)from_read};
	}
	while (head < tail) {
		struct bfs_item it = queue[head];
		int32_t self = (int32_t)head++;

		if (it.node == x) {
			int len = 0, keep, idx;
			int32_t k;

			/* Closing the circle: x must not be entered by a recursive
			 * read and then held shared by the closing edge. */
			if (it.mask != 0 || (it.rr && it.cfr))
				continue;
			for (k = self; queue[k].parent >= 0; k = queue[k].parent)
				len++;
			keep = len < LH_CYCLE_MAX - 1 ? len : LH_CYCLE_MAX - 1;
			c->truncated = keep < len;
			c->edges[0] = closing;
			for (k = self, idx = len; queue[k].parent >= 0; k = queue[k].parent, idx--)
				if (idx <= keep)
					c->edges[idx] = queue[k].via;
			c->n = keep + 1;
			return true;
		}
		for (uint32_t i = 0; i < it.node->nout; i++) {
			struct lh_edge *f = it.node->out[i];
			struct lh_gnode *w = f->to;

			if (f->back || (w != x && (w->rank > x->rank || w->rank < y->rank)))
				continue;
			for (unsigned combo = 0; combo < 4; combo++) {
				unsigned from_read = combo >> 1, to_read = combo & 1;
				uint8_t mask, rr;
				uint64_t bit;

				if (!(f->combos & (1u << combo)))
					continue;
				if (it.rr && from_read)
					continue; /* not a strong path */
				mask = gate_mask(closing, f, it.mask);
				rr = (uint8_t)(to_read && w->rr);
				bit = 1ull << (((unsigned)mask << 2) | (unsigned)rr << 1 | it.cfr);
				if (w->visit != stamp) {
					w->visit = stamp;
					w->seen = 0;
				}
				if (w->seen & bit)
					continue;
				w->seen |= bit;
				if (!grow(&queue, &capqueue, sizeof(*queue), tail + 1))
					return false;
				queue[tail++] = (struct bfs_item){w, f, self, mask, rr, it.cfr};
			}
		}
	}
	return false;
}

static void
pending_add(struct lh_edge *e)
{
	if (grow(&pending, &cappending, sizeof(*pending), npending + 1))
		pending[npending++] = e;
}

static void
pending_del(struct lh_edge *e)
{
	for (size_t i = 0; i < npending; i++) {
		if (pending[i] == e) {
			pending[i] = pending[--npending];
			return;
		}
	}
}

/* Searches for a reportable cycle closed by back edge e; reports it once. */
static bool
try_report(struct lh_edge *e)
{
	struct lh_cycle c;

	if (e->reported || !find_cycle(e, &c))
		return false;
	e->reported = true;
	if (ops.cycle)
		ops.cycle(&c, ops.arg);
	return true;
}

/* Order edge f was added or weakened: pending back edges whose window holds
 * it may now close a reportable cycle. */
static void
recheck_pending(const struct lh_edge *f)
{
	for (size_t i = 0; i < npending;) {
		struct lh_edge *p = pending[i];

		if (p->to->rank <= f->from->rank && f->to->rank <= p->from->rank &&
		    try_report(p)) {
			pending[i] = pending[--npending];
			continue;
		}
		i++;
	}
}

/* Places a new edge in the order, or finds that it closes a cycle. */
static void
order_edge(struct lh_edge *e)
{
	struct lh_gnode *x = e->from, *y = e->to;
	size_t nf, nb;

	if (x->rank < y->rank) {
		if (npending)
			recheck_pending(e);
		return;
	}
	stamp++;
	if (dfs(y, x, x->rank, true, &scratch_f, &capf, &nf)) {
		e->back = true;
		if (!try_report(e))
			pending_add(e);
		return;
	}
	dfs(x, NULL, y->rank, false, &scratch_b, &capb, &nb);
	reorder(nb, nf);
	if (npending)
		recheck_pending(e);
}

/* The edge changed in a way that can only open new reportable paths. */
static void
weakened(struct lh_edge *e)
{
	if (ops.new_edge)
		ops.new_edge(e, ops.arg);
	if (e->back) {
		if (!e->reported && try_report(e))
			pending_del(e);
	} else if (npending) {
		recheck_pending(e);
	}
}

/*
 * Records that info->tid took `to` while holding `from`. Returns the edge, and
 * sets *is_new for an edge not seen before; NULL when out of memory. May call
 * ops.new_edge (before the cycle check) and ops.cycle.
 */
struct lh_edge *
lh_graph_add_edge(struct lh_gnode *from, struct lh_gnode *to,
		  const struct lh_edge_info *info, bool *is_new)
{
	struct lh_edge *e = efind(from->id, to->id);
	uint8_t combo = (uint8_t)COMBO(info->from_mode == LH_MODE_READ,
				       info->to_mode == LH_MODE_READ);

	*is_new = false;
	if (e) {
		bool weaker = false;
		int k = 0;

		e->count++;
		for (int i = 0; i < e->ngates; i++) {
			bool keep = false;

			for (int j = 0; j < info->ngates; j++)
				keep |= info->gates[j] == e->gates[i];
			if (keep)
				e->gates[k++] = e->gates[i];
		}
		weaker = k < e->ngates;
		e->ngates = (uint8_t)k;
		if (!(e->combos & combo)) {
			e->combos |= combo;
			weaker = true;
		}
		if (weaker)
			weakened(e);
		return e;
	}
	e = lh_alloc(sizeof(*e));
	if (!e) {
		oom();
		return NULL;
	}
	e->from = from;
	e->to = to;
	e->ngates = (uint8_t)(info->ngates < LH_GATE_MAX ? info->ngates : LH_GATE_MAX);
	memcpy(e->gates, info->gates, e->ngates * sizeof(e->gates[0]));
	e->combos = combo;
	e->from_mode = (uint8_t)info->from_mode;
	e->to_mode = (uint8_t)info->to_mode;
	e->tid = info->tid;
	e->thread_serial = info->thread_serial;
	if (info->thread_name)
		strncpy(e->thread_name, info->thread_name, sizeof(e->thread_name) - 1);
	e->from_stack = info->from_stack;
	e->to_stack = info->to_stack;
	e->seq = next_seq++;
	e->count = 1;
	e->time_us = lh_realtime_us();
	if (!einsert(e)) {
		lh_free(e, sizeof(*e));
		return NULL;
	}
	if (!adj_add(&from->out, &from->nout, &from->capout, e)) {
		eremove(e);
		lh_free(e, sizeof(*e));
		return NULL;
	}
	if (!adj_add(&to->in, &to->nin, &to->capin, e)) {
		adj_del(from->out, &from->nout, e);
		eremove(e);
		lh_free(e, sizeof(*e));
		return NULL;
	}
	nedges++;
	*is_new = true;
	if (ops.new_edge)
		ops.new_edge(e, ops.arg);
	order_edge(e);
	return e;
}

struct lh_edge *
lh_graph_find_edge(const struct lh_gnode *from, const struct lh_gnode *to)
{
	return efind(from->id, to->id);
}

static void
drop_edge(struct lh_edge *e)
{
	if (e->back && !e->reported)
		pending_del(e);
	eremove(e);
	nedges--;
	lh_free(e, sizeof(*e));
}

/* The lock is destroyed: its node and every edge to or from it go. No future
 * cycle can pass through a lock that no longer exists. */
void
lh_graph_retire(struct lh_lock *lk)
{
	struct lh_gnode *g = lk->gnode;

	if (!g)
		return;
	for (uint32_t i = 0; i < g->nout; i++) {
		adj_del(g->out[i]->to->in, &g->out[i]->to->nin, g->out[i]);
		drop_edge(g->out[i]);
	}
	for (uint32_t i = 0; i < g->nin; i++) {
		adj_del(g->in[i]->from->out, &g->in[i]->from->nout, g->in[i]);
		drop_edge(g->in[i]);
	}
	lh_free(g->out, g->capout * sizeof(*g->out));
	lh_free(g->in, g->capin * sizeof(*g->in));
	lh_free(g, sizeof(*g));
	lk->gnode = NULL;
	nnodes--;
	/* Tombstones pile up in a table of many retirements: rebuild. */
	if (ecap > 1024 && eused > ecap / 2 && nedges < eused / 2)
		rehash(nedges);
}

size_t
lh_graph_edge_count(void)
{
	return nedges;
}

size_t
lh_graph_node_count(void)
{
	return nnodes;
}

size_t
lh_graph_pending_count(void)
{
	return npending;
}

/* For tests: every order edge goes up in rank. */
bool
lh_graph_check_order(void)
{
	for (size_t i = 0; i < ecap; i++) {
		struct lh_edge *e = etab[i];

		if (e && e != TOMB && !e->back && e->from->rank >= e->to->rank)
			return false;
	}
	return true;
}

void
lh_graph_atfork_prepare(void)
{
	lh_mutex_lock(&graph_mu);
}

void
lh_graph_atfork_parent(void)
{
	lh_mutex_unlock(&graph_mu);
}

void
lh_graph_atfork_child(void)
{
	lh_mutex_reset(&graph_mu);
}
