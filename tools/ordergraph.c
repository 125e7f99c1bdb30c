/*
 * The lock-order graph of logs (see ordergraph.h): identities for locks,
 * one edge per identity pair, and lib/graph.c to find the cycles. graph.c
 * keeps global state: og_build() leaves it empty again (og_free retires
 * every node), and only one ordergraph may be built at a time.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "finding.h"
#include "ordergraph.h"

/* ---- an index: key string -> lock, (from, to) -> edge -------------------- */

struct slot {
	uint64_t h;
	const char *key; /* NULL for an edge slot */
	size_t a, b;	 /* edge: from, to */
	size_t val;	 /* index + 1; 0 = empty */
};

struct index {
	struct slot *slots;
	size_t cap, used;
};

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static uint64_t
hash_pair(size_t a, size_t b)
{
	uint64_t h = (uint64_t)a * 0x9e3779b97f4a7c15ull ^ ((uint64_t)b + 0x632be59bd9b4e019ull) *
								0xbf58476d1ce4e5b9ull;

	return h ^ (h >> 31) ^ 1;
}

static bool
slot_is(const struct slot *s, uint64_t h, const char *key, size_t a, size_t b)
{
	if (s->h != h)
		return false;
	if (key)
		return s->key && strcmp(s->key, key) == 0;
	return !s->key && s->a == a && s->b == b;
}

static size_t
index_get(struct index *x, uint64_t h, const char *key, size_t a, size_t b)
{
	if (!x->cap)
		return 0;
	for (size_t i = h & (x->cap - 1); x->slots[i].val; i = (i + 1) & (x->cap - 1))
		if (slot_is(&x->slots[i], h, key, a, b))
			return x->slots[i].val;
	return 0;
}

static void
index_put(struct index *x, uint64_t h, const char *key, size_t a, size_t b, size_t val)
{
	size_t i;

	if ((x->used + 1) * 2 > x->cap) {
		size_t ncap = x->cap ? x->cap * 2 : 256;
		struct slot *n = xcalloc(ncap, sizeof(*n));

		for (size_t j = 0; j < x->cap; j++) {
			if (!x->slots[j].val)
				continue;
			for (i = x->slots[j].h & (ncap - 1); n[i].val; i = (i + 1) & (ncap - 1))
				;
			n[i] = x->slots[j];
		}
		free(x->slots);
		x->slots = n;
		x->cap = ncap;
	}
	for (i = h & (x->cap - 1); x->slots[i].val; i = (i + 1) & (x->cap - 1))
		;
	x->slots[i] = (struct slot){h, key, a, b, val};
	x->used++;
}

/* ---- identities ------------------------------------------------------------ */

static const char *
module_path(const struct logproc *p, int index)
{
	const struct logmodule *m = index >= 0 ? logproc_module(p, index) : NULL;

	return m ? m->path : "?";
}

/* The identity of lk, without a class rank (added by the caller). */
static char *
base_key(const struct logproc *p, const struct loglock *lk, bool *is_class)
{
	*is_class = false;
	if (lk->annotation && lk->annotation[0])
		return xasprintf("N:%s", lk->annotation);
	if (lk->sym_name)
		return xasprintf("S:%s:%s+%" PRIu64, module_path(p, lk->sym_module), lk->sym_name,
				 lk->sym_offset);
	/* The class before a bare module offset: a heap lock can carry a module
	 * offset when the module's recorded range is too wide, and two locks
	 * made at one address one after the other must stay two locks. */
	if (lk->has_init && lk->init.module >= 0) {
		*is_class = true;
		return xasprintf("C:%s+0x%" PRIx64, module_path(p, lk->init.module),
				 lk->init.offset);
	}
	if (lk->sym_module >= 0)
		return xasprintf("A:%s+0x%" PRIx64, module_path(p, lk->sym_module),
				 lk->sym_module_offset);
	return xasprintf("P:%s#%u:%" PRIu64 ":%" PRIu64, p->file->path, p->index, lk->pid, lk->id);
}

struct keyed {
	char *key;
	const struct loglock *lk;
	bool is_class;
};

static int
keyed_cmp(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	if (x->lk->pid != y->lk->pid)
		return x->lk->pid < y->lk->pid ? -1 : 1;
	return x->lk->id < y->lk->id ? -1 : x->lk->id > y->lk->id;
}

static size_t
lock_index(struct ordergraph *g, struct logproc *p, const struct loglock *lk, char *key)
{
	struct index *x = g->index;
	uint64_t h = hash_str(key);
	size_t v = index_get(x, h, key, 0, 0);
	struct og_lock *ol;

	if (v) {
		ol = &g->locks[v - 1];
		if (!ol->first && lk) {
			ol->first = lk;
			ol->proc = p;
		}
		if (ol->last_proc != p) {
			ol->last_proc = p;
			ol->nprocs++;
		}
		free(key);
		return v - 1;
	}
	if (g->nlocks == g->caplocks) {
		g->caplocks = g->caplocks ? g->caplocks * 2 : 64;
		g->locks = realloc(g->locks, g->caplocks * sizeof(*g->locks));
		if (!g->locks) {
			fputs("lockhound: out of memory\n", stderr);
			exit(2);
		}
	}
	ol = &g->locks[g->nlocks];
	memset(ol, 0, sizeof(*ol));
	ol->key = key;
	ol->proc = p;
	ol->first = lk;
	ol->nprocs = 1;
	ol->last_proc = p;
	index_put(x, h, ol->key, 0, 0, ++g->nlocks);
	return g->nlocks - 1;
}

/* ---- building ------------------------------------------------------------------ */

static struct ordergraph *building;

static size_t
edge_index(struct ordergraph *g, size_t from, size_t to)
{
	uint64_t h = hash_pair(from, to);
	size_t v = index_get(g->index, h, NULL, from, to);
	struct og_edge *e;

	if (v)
		return v - 1;
	if (g->nedges == g->capedges) {
		g->capedges = g->capedges ? g->capedges * 2 : 64;
		g->edges = realloc(g->edges, g->capedges * sizeof(*g->edges));
		if (!g->edges) {
			fputs("lockhound: out of memory\n", stderr);
			exit(2);
		}
	}
	e = &g->edges[g->nedges];
	memset(e, 0, sizeof(*e));
	e->from = from;
	e->to = to;
	index_put(g->index, h, NULL, from, to, ++g->nedges);
	return g->nedges - 1;
}

/* Does some process have an origin in every edge of the cycle? */
static bool
one_process(const struct ordergraph *g, const struct og_cycle *c)
{
	const struct og_edge *e0 = &g->edges[c->edges[0]];

	for (size_t k = 0; k < e0->norigins; k++) {
		const struct logproc *p = e0->origins[k].proc;
		bool all = true;

		for (size_t i = 1; i < c->n && all; i++) {
			const struct og_edge *e = &g->edges[c->edges[i]];
			bool has = false;

			for (size_t j = 0; j < e->norigins; j++)
				has |= e->origins[j].proc == p;
			all = has;
		}
		if (all)
			return true;
	}
	return false;
}

static void
on_cycle(const struct lh_cycle *c, void *arg)
{
	struct ordergraph *g = building;
	struct og_cycle *oc;

	(void)arg;
	if (g->ncycles >= OG_MAX_CYCLES) {
		g->capped = true;
		return;
	}
	g->cycles = realloc(g->cycles, (g->ncycles + 1) * sizeof(*g->cycles));
	if (!g->cycles) {
		fputs("lockhound: out of memory\n", stderr);
		exit(2);
	}
	oc = &g->cycles[g->ncycles++];
	oc->n = (size_t)c->n;
	oc->truncated = c->truncated;
	oc->edges = xcalloc(oc->n, sizeof(*oc->edges));
	for (int i = 0; i < c->n; i++) {
		size_t from = (size_t)c->edges[i]->from->id - 1, to = (size_t)c->edges[i]->to->id - 1;

		size_t ei = edge_index(g, from, to);

		oc->edges[i] = ei;
		g->edges[oc->edges[i]].in_cycle = true;
		g->locks[from].in_cycle = true;
	}
	oc->across = !one_process(g, oc);
}

static const struct lh_graph_ops og_ops = {.cycle = on_cycle};

static struct lh_gnode *
gnode_of(struct ordergraph *g, size_t i)
{
	struct og_lock *ol = &g->locks[i];

	if (!ol->lk.gnode) {
		const struct loglock *r = ol->first;

		ol->lk.id = i + 1;
		atomic_store(&ol->lk.addr, (uintptr_t)(i + 1));
		ol->lk.type = LH_TYPE_MUTEX;
		if (!r) {
			/* a gate lock known only by its id */
		} else if (r->type && strcmp(r->type, "rwlock") == 0) {
			ol->lk.type = LH_TYPE_RWLOCK;
			ol->lk.kind = r->rwlock_kind && strstr(r->rwlock_kind, "nonrecursive")
					      ? LH_RWLOCK_WRITER_NONRECURSIVE
					      : LH_RWLOCK_READER_PREFERRED;
		} else if (r->type && strcmp(r->type, "spinlock") == 0) {
			ol->lk.type = LH_TYPE_SPIN;
		} else if (r->mutex_kind && strcmp(r->mutex_kind, "recursive") == 0) {
			ol->lk.kind = LH_KIND_RECURSIVE;
		}
	}
	return lh_graph_node(&ol->lk);
}

/* Identity indexes of every lock of p, in p->locks order. */
static size_t *
proc_identities(struct ordergraph *g, struct logproc *p)
{
	struct keyed *k = xcalloc(p->nlocks, sizeof(*k));
	size_t *ids = xcalloc(p->nlocks, sizeof(*ids));
	size_t *order = xcalloc(p->nlocks, sizeof(*order));

	for (size_t i = 0; i < p->nlocks; i++) {
		k[i].key = base_key(p, p->locks[i], &k[i].is_class);
		k[i].lk = p->locks[i];
	}
	/* Rank the locks of each class by (pid, id): creation order. */
	qsort(k, p->nlocks, sizeof(*k), keyed_cmp);
	for (size_t i = 0, rank = 0; i < p->nlocks; i++) {
		char *key;
		size_t j;

		rank = i > 0 && strcmp(k[i].key, k[i - 1].key) == 0 ? rank + 1 : 1;
		key = k[i].is_class ? xasprintf("%s#%zu", k[i].key, rank) : xstrdup0(k[i].key);
		for (j = 0; j < p->nlocks && p->locks[j] != k[i].lk; j++)
			;
		order[j] = lock_index(g, p, k[i].lk, key);
	}
	for (size_t i = 0; i < p->nlocks; i++) {
		ids[i] = order[i];
		free(k[i].key);
	}
	free(k);
	free(order);
	return ids;
}

static size_t
find_lock(const struct logproc *p, const size_t *ids, uint64_t pid, uint64_t id)
{
	const struct loglock *lk = logproc_lock(p, pid, id);

	for (size_t i = 0; lk && i < p->nlocks; i++)
		if (p->locks[i] == lk)
			return ids[i];
	return SIZE_MAX;
}

static void
add_orders(struct ordergraph *g, struct logproc *p)
{
	size_t *ids = proc_identities(g, p);

	for (size_t i = 0; i < p->norders; i++) {
		const struct logorder *o = &p->orders[i];
		size_t from = find_lock(p, ids, o->pid, o->from), to = find_lock(p, ids, o->pid, o->to);
		uint64_t gates[LH_GATE_MAX];
		int ngates = 0;
		struct og_edge *e;
		size_t ei;
		bool is_new;

		if (from == SIZE_MAX || to == SIZE_MAX || from == to)
			continue;
		for (size_t k = 0; k < o->ngates && ngates < LH_GATE_MAX; k++) {
			size_t gi = find_lock(p, ids, o->pid, o->gates[k]);

			if (gi == SIZE_MAX) {
				/* A gate the log never described: this process only. */
				gi = lock_index(g, p, NULL,
						xasprintf("P:%s#%u:%" PRIu64 ":%" PRIu64,
							  p->file->path, p->index, o->pid,
							  o->gates[k]));
			}
			if (gi != from && gi != to)
				gates[ngates++] = gi + 1;
		}
		ei = edge_index(g, from, to); /* may move g->edges */
		e = &g->edges[ei];
		if (e->norigins < OG_MAX_ORIGINS)
			e->origins[e->norigins++] = (struct og_origin){p, o};
		e->nseen++;
		for (unsigned combo = 0; combo < 4; combo++) {
			struct lh_gnode *gf, *gt;
			struct lh_edge_info info = {
				.gates = gates,
				.ngates = ngates,
				.from_mode = combo >> 1,
				.to_mode = combo & 1,
				.tid = (pid_t)o->tid,
				.thread_name = o->thread_name,
			};

			if (!(o->combos & (1u << combo)))
				continue;
			gf = gnode_of(g, from);
			gt = gnode_of(g, to);
			if (gf && gt)
				lh_graph_add_edge(gf, gt, &info, &is_new);
		}
	}
	free(ids);
}

struct ordergraph *
og_build(struct logfile *const *logs, size_t n)
{
	struct ordergraph *g = xcalloc(1, sizeof(*g));

	g->index = xcalloc(1, sizeof(struct index));
	building = g;
	lh_graph_init(&og_ops);
	lh_graph_lock();
	for (size_t l = 0; l < n; l++) {
		for (size_t k = 0; k < logs[l]->nprocs; k++) {
			add_orders(g, logs[l]->procs[k]);
			g->nprocs++;
		}
	}
	/* Leave graph.c empty for the next build (the fuzzer builds many). */
	for (size_t i = 0; i < g->nlocks; i++)
		lh_graph_retire(&g->locks[i].lk);
	lh_graph_unlock();
	building = NULL;
	return g;
}

void
og_free(struct ordergraph *g)
{
	struct index *x;

	if (!g)
		return;
	x = g->index;
	for (size_t i = 0; i < g->nlocks; i++)
		free(g->locks[i].key);
	free(g->locks);
	free(g->edges);
	for (size_t i = 0; i < g->ncycles; i++)
		free(g->cycles[i].edges);
	free(g->cycles);
	free(x->slots);
	free(x);
	free(g);
}

char *
og_lock_name(const struct ordergraph *g, size_t i)
{
	const struct og_lock *l = &g->locks[i];
	const char *hash = strrchr(l->key, '#');
	struct finding tmp = {0};
	char *where, *r;

	if (!l->first)
		return xasprintf("lock %s", l->key);
	if (strncmp(l->key, "C:", 2) != 0 || !hash || !l->first->has_init)
		return lock_display(l->proc, l->first);
	finding_add_stack(&tmp, l->proc, "", &l->first->init, 1);
	where = fframe_where(tmp.nstacks && tmp.stacks[0].n
				     ? &tmp.stacks[0].frames[tmp.stacks[0].n - 1]
				     : NULL,
			     true);
	r = xasprintf("%s %s made at %s", l->first->type && l->first->type[0] ? l->first->type
									       : "lock",
		      hash, where);
	free(where);
	finding_free(&tmp);
	return r;
}
