/*
 * The global set of validated lock chains. A chain key (lh_chain_mix over the
 * held locks and the lock being taken) is inserted once the graph knows every
 * edge that chain implies; after that any thread that meets the same chain
 * skips the graph. Readers probe without a lock; the only writer is the
 * graph's slow path, under the graph mutex, so release stores publish.
 *
 * Open addressing with linear probing. The table starts small (a few cache
 * misses' worth: its size is what a lookup costs when chains are many) and
 * doubles at half full: the writer fills a new table, then publishes it.
 * Readers may still be probing an old one, so old tables stay mapped; they
 * add up to less than the current one. Past MAX_BITS it stops growing:
 * lookups still work, new chains just keep taking the slow path.
 */
#include "config.h"

#include <sys/mman.h>

#include "lockhound-private.h"

#define MIN_BITS 12 /* 4096 slots, 32 KiB */
#define MAX_BITS 22 /* 4M slots, 32 MiB */
#define MAX_PROBE 64

struct table {
	unsigned bits;
	struct table *older; /* retired, still mapped */
	_Atomic uint64_t slots[];
};

static _Atomic(struct table *) current;
static size_t used; /* under the graph mutex */

static struct table *
make_table(unsigned bits)
{
	size_t size = sizeof(struct table) + ((size_t)1 << bits) * sizeof(uint64_t);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct table *t;

	if (p == MAP_FAILED)
		return NULL;
	t = p;
	t->bits = bits;
	return t;
}

void
lh_chainset_init(void)
{
	if (!atomic_load_explicit(&current, memory_order_acquire))
		atomic_store_explicit(&current, make_table(MIN_BITS), memory_order_release);
}

static size_t
home(const struct table *t, uint64_t key)
{
	return (size_t)(key >> (64 - t->bits));
}

/* Lock-free. */
bool
lh_chainset_contains(uint64_t key)
{
	struct table *t = atomic_load_explicit(&current, memory_order_acquire);
	size_t mask, i;

	if (!t)
		return false;
	mask = ((size_t)1 << t->bits) - 1;
	i = home(t, key);
	for (int n = 0; n < MAX_PROBE; n++) {
		uint64_t k = atomic_load_explicit(&t->slots[i], memory_order_acquire);

		if (k == key)
			return true;
		if (k == 0)
			return false;
		i = (i + 1) & mask;
	}
	return false;
}

static bool
put(struct table *t, uint64_t key)
{
	size_t mask = ((size_t)1 << t->bits) - 1, i = home(t, key);

	for (int n = 0; n < MAX_PROBE; n++) {
		uint64_t k = atomic_load_explicit(&t->slots[i], memory_order_relaxed);

		if (k == key)
			return false;
		if (k == 0) {
			atomic_store_explicit(&t->slots[i], key, memory_order_release);
			return true;
		}
		i = (i + 1) & mask;
	}
	return false; /* a long run: leave it out, it stays a slow-path chain */
}

/* Doubles the table; caller holds the graph mutex. False if it cannot. */
static bool
grow(struct table *old)
{
	struct table *t;
	size_t n = (size_t)1 << old->bits;

	if (old->bits >= MAX_BITS || !(t = make_table(old->bits + 1)))
		return false;
	for (size_t i = 0; i < n; i++) {
		uint64_t k = atomic_load_explicit(&old->slots[i], memory_order_relaxed);

		if (k)
			put(t, k);
	}
	t->older = old;
	atomic_store_explicit(&current, t, memory_order_release);
	return true;
}

/* Caller holds the graph mutex. */
void
lh_chainset_insert(uint64_t key)
{
	struct table *t = atomic_load_explicit(&current, memory_order_relaxed);

	if (!t)
		return;
	if ((used + 1) * 2 > ((size_t)1 << t->bits) && grow(t))
		t = atomic_load_explicit(&current, memory_order_relaxed);
	if (used * 4 >= ((size_t)3 << t->bits))
		return; /* full at the largest size */
	if (put(t, key))
		used++;
}
