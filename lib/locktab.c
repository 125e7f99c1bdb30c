/*
 * The lock table: user lock address -> struct lh_lock. Readers (every lock
 * call) walk a bucket chain with acquire loads and take no lock; insertion
 * and removal happen under table_mu. Nodes are type-stable (see
 * lockhound-private.h): a removed node goes to a free list and is reused for
 * another lock, so a reader that raced with the removal may follow it into
 * another chain and miss; a miss always falls back to lh_locktab_get(), which
 * looks again under the mutex. Lookup costs one hash and, typically, one node.
 *
 * The bucket array starts at MIN_BITS and doubles whenever it holds more
 * locks than buckets (up to MAX_BITS), so that 10,000 locks use 16,384
 * buckets (128 KiB) instead of a fixed 512 KiB that their lookups would
 * spread over. The new array chains the nodes through their other next[]
 * link: a reader still in the old array walks intact chains (it may miss a
 * lock made since, as any reader may). Old arrays stay mapped; they add up
 * to less than the current one.
 */
#include "config.h"

#include <string.h>

#include "lockhound-private.h"

#define NODES_PER_SLAB 1024
#define MIN_BITS 10 /* 1024 buckets, 8 KiB */
#define MAX_BITS 22 /* 4M buckets, 32 MiB */

_Atomic(struct lh_locktab *) lh_locktab_cur;
static lh_mutex_t table_mu = LH_MUTEX_INIT;
static struct lh_lock *free_nodes;
static _Atomic uint64_t next_id = 1;
static size_t live;
static _Atomic int oom_warned;

static struct lh_lock *
node_alloc(void)
{
	struct lh_lock *lk = free_nodes;

	if (lk) {
		free_nodes = lk->free_next;
		return lk;
	}
	lk = lh_alloc(NODES_PER_SLAB * sizeof(*lk));
	if (!lk)
		return NULL;
	for (int i = 1; i < NODES_PER_SLAB; i++) {
		lk[i].free_next = free_nodes;
		free_nodes = &lk[i];
	}
	return lk;
}

static struct lh_locktab *
table_make(unsigned bits, unsigned link)
{
	struct lh_locktab *t =
		lh_alloc(sizeof(*t) + ((size_t)1 << bits) * sizeof(t->buckets[0]));

	if (t) {
		t->bits = bits;
		t->link = link;
	}
	return t;
}

/* The current array, made on first use; caller holds table_mu. */
static struct lh_locktab *
table_cur(void)
{
	struct lh_locktab *t = atomic_load_explicit(&lh_locktab_cur, memory_order_relaxed);

	if (!t && (t = table_make(MIN_BITS, 0)) != NULL)
		atomic_store_explicit(&lh_locktab_cur, t, memory_order_release);
	return t;
}

/* Pushes lk onto its chain in t; caller holds table_mu. */
static void
chain_push(struct lh_locktab *t, struct lh_lock *lk)
{
	_Atomic(struct lh_lock *) *head = &t->buckets[lh_locktab_bucket(
		t, atomic_load_explicit(&lk->addr, memory_order_relaxed))];

	atomic_store_explicit(&lk->next[t->link], atomic_load_explicit(head, memory_order_relaxed),
			      memory_order_relaxed);
	/* Publishes the node (and its fields) to lock-free readers. */
	atomic_store_explicit(head, lk, memory_order_release);
}

/* Doubles the array once it holds more locks than buckets; caller holds
 * table_mu. Out of memory or at MAX_BITS it stays: chains grow longer. */
static void
table_grow(struct lh_locktab *old)
{
	size_t n = (size_t)1 << old->bits;
	struct lh_locktab *t;

	if (live <= n || old->bits >= MAX_BITS || !(t = table_make(old->bits + 1, old->link ^ 1)))
		return;
	for (size_t b = 0; b < n; b++)
		for (struct lh_lock *lk = atomic_load_explicit(&old->buckets[b], memory_order_relaxed);
		     lk; lk = atomic_load_explicit(&lk->next[old->link], memory_order_relaxed))
			chain_push(t, lk);
	t->older = old;
	atomic_store_explicit(&lh_locktab_cur, t, memory_order_release);
}

/*
 * Returns the node for addr, making one if there is none. A made node takes
 * type, kind and init_pc; from_init says it comes from an init call. Returns
 * NULL when out of memory (said once; the lock goes untracked).
 */
struct lh_lock *
lh_locktab_get(const void *addr, enum lh_lock_type type, int kind, uintptr_t init_pc,
	       bool from_init)
{
	uintptr_t a = (uintptr_t)addr;
	struct lh_locktab *t;
	struct lh_lock *lk;

	lh_mutex_lock(&table_mu);
	if ((t = table_cur()) != NULL)
		for (lk = atomic_load_explicit(&t->buckets[lh_locktab_bucket(t, a)],
					       memory_order_relaxed);
		     lk; lk = atomic_load_explicit(&lk->next[t->link], memory_order_relaxed))
			if (atomic_load_explicit(&lk->addr, memory_order_relaxed) == a)
				goto out;
	lk = t ? node_alloc() : NULL;
	if (!lk) {
		lh_mutex_unlock(&table_mu);
		lh_warn_once(&oom_warned, "out of memory for lock nodes; new locks are not "
					  "tracked");
		return NULL;
	}
	lk->id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
	lk->salt = lh_lock_salt(lk->id);
	lk->type = (uint8_t)type;
	lk->kind = (uint8_t)kind;
	lk->from_init = from_init;
	lk->init_pc = init_pc;
	lk->gnode = NULL;
	lk->name = NULL;
	lk->free_next = NULL;
	lk->stats = NULL;
	atomic_store_explicit(&lk->wait_hint, lh_hint_idle(), memory_order_relaxed);
	lh_stats_node_init(lk);
	atomic_store_explicit(&lk->addr, a, memory_order_relaxed);
	chain_push(t, lk);
	live++;
	table_grow(t);
out:
	lh_mutex_unlock(&table_mu);
	return lk;
}

/*
 * Unlinks lk and puts it on the free list. The caller retired its graph state
 * already. A reader standing on lk keeps a valid next pointer until reuse.
 */
void
lh_locktab_remove(struct lh_lock *lk)
{
	uintptr_t a = atomic_load_explicit(&lk->addr, memory_order_relaxed);
	_Atomic(struct lh_lock *) *pp;
	struct lh_locktab *t;
	struct lh_lock *cur;

	lh_mutex_lock(&table_mu);
	if (!(t = atomic_load_explicit(&lh_locktab_cur, memory_order_relaxed))) {
		lh_mutex_unlock(&table_mu);
		return;
	}
	pp = &t->buckets[lh_locktab_bucket(t, a)];
	while ((cur = atomic_load_explicit(pp, memory_order_relaxed)) != NULL) {
		if (cur == lk) {
			atomic_store_explicit(pp, atomic_load_explicit(&lk->next[t->link],
								       memory_order_relaxed),
					      memory_order_release);
			atomic_store_explicit(&lk->addr, 0, memory_order_relaxed);
			lk->id = 0; /* no (node, id) names it any more: see struct lh_lock */
			lk->free_next = free_nodes;
			free_nodes = lk;
			live--;
			break;
		}
		pp = &cur->next[t->link];
	}
	lh_mutex_unlock(&table_mu);
}

/* Calls fn for every lock in the table, under the table mutex: no node is
 * made or reused meanwhile. fn must not use the lock table. */
void
lh_locktab_each(void (*fn)(struct lh_lock *lk, void *arg), void *arg)
{
	struct lh_locktab *t;

	lh_mutex_lock(&table_mu);
	if ((t = atomic_load_explicit(&lh_locktab_cur, memory_order_relaxed)) != NULL)
		for (size_t b = 0; b < (size_t)1 << t->bits; b++)
			for (struct lh_lock *lk = atomic_load_explicit(&t->buckets[b],
								       memory_order_relaxed);
			     lk; lk = atomic_load_explicit(&lk->next[t->link], memory_order_relaxed))
				fn(lk, arg);
	lh_mutex_unlock(&table_mu);
}

size_t
lh_locktab_count(void)
{
	return live;
}

void
lh_locktab_atfork_prepare(void)
{
	lh_mutex_lock(&table_mu);
}

void
lh_locktab_atfork_parent(void)
{
	lh_mutex_unlock(&table_mu);
}

void
lh_locktab_atfork_child(void)
{
	lh_mutex_reset(&table_mu);
}
