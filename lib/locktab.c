/*
 * The lock table: user lock address -> struct lh_lock. Readers (every lock
 * call) walk a bucket chain with acquire loads and take no lock; insertion
 * and removal happen under table_mu. Nodes are type-stable (see
 * lockhound-private.h): a removed node goes to a free list and is reused for
 * another lock, so a reader that raced with the removal may follow it into
 * another chain and miss; a miss always falls back to lh_locktab_get(), which
 * looks again under the mutex. Lookup costs one hash and, typically, one node.
 */
#include "config.h"

#include <string.h>

#include "lockhound-private.h"

#define NODES_PER_SLAB 1024

/* In .bss: its pages are touched only as locks hash into them. */
_Atomic(struct lh_lock *) lh_locktab_buckets[LH_LOCKTAB_BUCKETS];
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
	struct lh_lock *lk;
	size_t b;

	b = lh_locktab_bucket(a);
	lh_mutex_lock(&table_mu);
	for (lk = atomic_load_explicit(&lh_locktab_buckets[b], memory_order_relaxed); lk;
	     lk = atomic_load_explicit(&lk->next, memory_order_relaxed))
		if (atomic_load_explicit(&lk->addr, memory_order_relaxed) == a)
			goto out;
	lk = node_alloc();
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
	atomic_store_explicit(&lk->next, atomic_load_explicit(&lh_locktab_buckets[b], memory_order_relaxed),
			      memory_order_relaxed);
	/* Publishes the initialized node to lock-free readers. */
	atomic_store_explicit(&lh_locktab_buckets[b], lk, memory_order_release);
	live++;
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
	struct lh_lock *cur;

	lh_mutex_lock(&table_mu);
	pp = &lh_locktab_buckets[lh_locktab_bucket(a)];
	while ((cur = atomic_load_explicit(pp, memory_order_relaxed)) != NULL) {
		if (cur == lk) {
			atomic_store_explicit(pp, atomic_load_explicit(&lk->next,
								       memory_order_relaxed),
					      memory_order_release);
			atomic_store_explicit(&lk->addr, 0, memory_order_relaxed);
			lk->id = 0; /* no (node, id) names it any more: see struct lh_lock */
			lk->free_next = free_nodes;
			free_nodes = lk;
			live--;
			break;
		}
		pp = &cur->next;
	}
	lh_mutex_unlock(&table_mu);
}

/* Calls fn for every lock in the table, under the table mutex: no node is
 * made or reused meanwhile. fn must not use the lock table. */
void
lh_locktab_each(void (*fn)(struct lh_lock *lk, void *arg), void *arg)
{
	lh_mutex_lock(&table_mu);
	for (size_t b = 0; b < LH_LOCKTAB_BUCKETS; b++)
		for (struct lh_lock *lk = atomic_load_explicit(&lh_locktab_buckets[b],
							       memory_order_relaxed);
		     lk; lk = atomic_load_explicit(&lk->next, memory_order_relaxed))
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
