/*
 * The global set of validated lock chains. A chain key (lh_chain_mix over the
 * held locks and the lock being taken) is inserted once the graph knows every
 * edge that chain implies; after that any thread that meets the same chain
 * skips the graph. Readers probe without a lock; the only writer is the
 * graph's slow path, under the graph mutex, so a plain release store
 * publishes a key. Open addressing with linear probing in an mmap'd table
 * that the kernel fills on demand; at 3/4 full it stops growing (lookups
 * still work, new chains just keep taking the slow path).
 */
#include "config.h"

#include <sys/mman.h>

#include "lockhound-private.h"

#define SET_BITS 21 /* 2M slots, 16 MiB of address space, touched as used */
#define SET_SIZE (1u << SET_BITS)
#define MAX_PROBE 32

static _Atomic uint64_t *set;
static size_t used;

void
lh_chainset_init(void)
{
	void *p;

	if (set)
		return;
	p = mmap(NULL, SET_SIZE * sizeof(*set), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p != MAP_FAILED)
		set = p;
}

/* Lock-free. */
bool
lh_chainset_contains(uint64_t key)
{
	size_t i;

	if (!set)
		return false;
	i = (size_t)(key >> (64 - SET_BITS));
	for (int n = 0; n < MAX_PROBE; n++) {
		uint64_t k = atomic_load_explicit(&set[i], memory_order_acquire);

		if (k == key)
			return true;
		if (k == 0)
			return false;
		i = (i + 1) & (SET_SIZE - 1);
	}
	return false;
}

/* Caller holds the graph mutex. */
void
lh_chainset_insert(uint64_t key)
{
	size_t i;

	if (!set || used >= SET_SIZE / 4 * 3)
		return;
	i = (size_t)(key >> (64 - SET_BITS));
	for (int n = 0; n < MAX_PROBE; n++) {
		uint64_t k = atomic_load_explicit(&set[i], memory_order_relaxed);

		if (k == key)
			return;
		if (k == 0) {
			atomic_store_explicit(&set[i], key, memory_order_release);
			used++;
			return;
		}
		i = (i + 1) & (SET_SIZE - 1);
	}
}
