/*
 * The global set of validated lock chains. A chain key (lh_chain_mix over the
 * held locks and the lock being taken) is inserted once the graph knows every
 * edge that chain implies; after that any thread that meets the same chain
 * skips the graph. Readers probe without a lock, with relaxed loads: a key
 * seen only lets a thread skip the graph, it reads nothing else the writer
 * published. The only writer is the graph's slow path, under the graph
 * mutex.
 *
 * Its size is what a lookup costs when chains are many: a program that
 * walks a million orders at random misses the cache on every probe, and on
 * the 2-core machine of the README's table a random load costs 18 ns within
 * 8 MiB and 60 to 140 ns beyond 12 MiB (bench/README). So the set is dense:
 * a key is stored as a 32-bit fingerprint (its low half) in a bucket of 16
 * (one cache line) chosen by its high half, which buckets fill to 7/8 before
 * the set grows by a quarter: 4.6 to 5.7 bytes a chain, a million chains in
 * under 6 MiB, where 64-bit keys in a half-full table took 16 MiB. A full
 * bucket spills into the next ones.
 *
 * The price of a fingerprint: a chain that was never validated reads as
 * known if its bucket holds another key with the same low 32 bits, about
 * once in 2^28 lookups of a new chain (14 fingerprints to compare, on
 * average). That chain's orders are then not recorded from it; the same
 * orders met under any other chain still are.
 *
 * A fingerprint does not tell its key's bucket in a table of another size,
 * so the writer also keeps every key in full in a list of its own, which
 * only growth reads (8 bytes a chain, never touched by a lookup).
 *
 * Growth fills a new table, then publishes it. Readers may still be probing
 * the old one, whose slots are then given back to the kernel: a late reader
 * reads zeros there, which mean "not known", and looks again under the graph
 * mutex in the current table. Past MAX_BUCKETS the set stops growing:
 * lookups still work, new chains just keep taking the slow path.
 *
 * A key names its locks by their ids, which are never reused: the chains of
 * destroyed locks stay in the set for nothing. A program that makes and
 * destroys locks all the time (one per request, taken under a global lock)
 * would grow it by a key (13 bytes) a lock, to the cap. So the graph says
 * when a lock it knew retires (lh_chainset_forget), and once more of those
 * came since the set was last emptied than half the keys it holds, the next
 * insertion empties it, in place: readers meet zeros, as in a retired
 * table, and the live chains come back through the slow path, once each
 * (threads that cache them do not even ask). Emptying costs at most one
 * slow path per live key, and comes only after at least half as many
 * retirements as there are keys, each of which cost a slow path of its own
 * (its lock's first order).
 */
#include "config.h"

#include <sys/mman.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "lockhound-private.h"

#define BUCKET 16		 /* fingerprints per bucket, one 64-byte line */
#define MIN_BUCKETS 256		 /* 4,096 chains, 16 KiB */
#define MAX_BUCKETS (1u << 19) /* 8 M chains, 32 MiB */
#define MAX_PROBE 8		 /* buckets */
#define HEADER 4096		 /* the header's page: it outlives the slots */
#define FORGET_MIN 4096		 /* keys below which the set is never emptied */

struct bucket {
	_Atomic uint32_t fp[BUCKET];
} __attribute__((aligned(64)));

/* A retired table keeps its header mapped (late readers read it). */
struct table {
	uint32_t nbuckets;
	size_t size; /* of the mapping */
	struct bucket *buckets;
};

_Static_assert(sizeof(struct bucket) == 64, "a bucket is a cache line");
_Static_assert(sizeof(struct table) <= HEADER, "the header fits its page");

static _Atomic(struct table *) current;
/* Under the graph mutex: every key in the set, for growth. */
static uint64_t *keys;
static size_t used, keys_cap;
/* Under the graph mutex: locks with orders retired since the set was last
 * emptied. */
static size_t forgotten;

static struct table *
make_table(uint32_t nbuckets)
{
	size_t size = HEADER + (size_t)nbuckets * sizeof(struct bucket);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct table *t;

	if (p == MAP_FAILED)
		return NULL;
	t = p;
	t->nbuckets = nbuckets;
	t->size = size;
	t->buckets = (struct bucket *)((char *)p + HEADER);
	return t;
}

void
lh_chainset_init(void)
{
	if (!atomic_load_explicit(&current, memory_order_acquire))
		atomic_store_explicit(&current, make_table(MIN_BUCKETS), memory_order_release);
}

/* The high half picks the bucket (a multiply, not a power-of-two mask, so
 * that the table can grow by a quarter); the low half is the fingerprint,
 * never 0, which marks a free slot. */
static uint32_t
home(const struct table *t, uint64_t key)
{
	return (uint32_t)(((key >> 32) * t->nbuckets) >> 32);
}

static uint32_t
fingerprint(uint64_t key)
{
	uint32_t fp = (uint32_t)key;

	return fp ? fp : 1;
}

/*
 * Whether bucket bk holds fp (*room: whether it has a free slot), testing
 * all 16 slots at once: a loop that stops at the match mispredicts on where
 * it sits. With SSE2 (every x86-64), four 16-byte loads, each of which reads
 * its four aligned slots whole (the single writer stores each slot with one
 * 4-byte store); elsewhere, 16 relaxed loads.
 */
static inline bool
bucket_has(const struct bucket *bk, uint32_t fp, bool *room)
{
#ifdef __SSE2__
	const __m128i *v = (const __m128i *)(const void *)bk;
	__m128i p = _mm_set1_epi32((int)fp), z = _mm_setzero_si128();
	__m128i a = _mm_load_si128(v), b = _mm_load_si128(v + 1);
	__m128i c = _mm_load_si128(v + 2), d = _mm_load_si128(v + 3);
	__m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi32(a, p), _mm_cmpeq_epi32(b, p)),
				   _mm_or_si128(_mm_cmpeq_epi32(c, p), _mm_cmpeq_epi32(d, p)));

	if (_mm_movemask_epi8(hit))
		return true;
	*room = _mm_movemask_epi8(_mm_cmpeq_epi32(d, z)) != 0; /* slots fill in order */
	return false;
#else
	bool hit = false;

	for (int i = 0; i < BUCKET; i++)
		hit |= atomic_load_explicit(&bk->fp[i], memory_order_relaxed) == fp;
	*room = atomic_load_explicit(&bk->fp[BUCKET - 1], memory_order_relaxed) == 0;
	return hit;
#endif
}

/* Lock-free. The loads are relaxed: a key seen here only lets the caller
 * skip the graph; it reads nothing else the graph's writer published. */
bool
lh_chainset_contains(uint64_t key)
{
	struct table *t = atomic_load_explicit(&current, memory_order_acquire);
	uint32_t fp = fingerprint(key), b;

	if (!t)
		return false;
	b = home(t, key);
	for (int n = 0; n < MAX_PROBE; n++) {
		bool room;

		if (bucket_has(&t->buckets[b], fp, &room))
			return true;
		if (room)
			return false; /* buckets fill in order: the key would be here */
		b = b + 1 == t->nbuckets ? 0 : b + 1;
	}
	return false;
}

/* Adds fp in t; false if it was there or there is no room near its home. */
static bool
put(struct table *t, uint32_t fp, uint32_t b)
{
	for (int n = 0; n < MAX_PROBE; n++) {
		struct bucket *bk = &t->buckets[b];

		for (int i = 0; i < BUCKET; i++) {
			uint32_t k = atomic_load_explicit(&bk->fp[i], memory_order_relaxed);

			if (k == fp)
				return false;
			if (k == 0) {
				atomic_store_explicit(&bk->fp[i], fp, memory_order_relaxed);
				return true;
			}
		}
		b = b + 1 == t->nbuckets ? 0 : b + 1;
	}
	return false; /* a long run: leave it out, it stays a slow-path chain */
}

/* Appends key to the writer's list; false if it cannot grow. */
static bool
keep(uint64_t key)
{
	if (used == keys_cap) {
		size_t cap = keys_cap ? keys_cap * 2 : 4096;
		void *p = keys ? mremap(keys, keys_cap * sizeof(*keys), cap * sizeof(*keys),
					MREMAP_MAYMOVE)
			       : mmap(NULL, cap * sizeof(*keys), PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			return false;
		keys = p;
		keys_cap = cap;
	}
	keys[used++] = key;
	return true;
}

/* Grows the table by a quarter; caller holds the graph mutex. False if it
 * cannot (then the old table stays). */
static bool
grow(struct table *old)
{
	uint32_t nb = old->nbuckets + old->nbuckets / 4;
	struct table *t;

	if (old->nbuckets >= MAX_BUCKETS)
		return false;
	if (nb > MAX_BUCKETS)
		nb = MAX_BUCKETS;
	if (!(t = make_table(nb)))
		return false;
	for (size_t i = 0; i < used; i++)
		put(t, fingerprint(keys[i]), home(t, keys[i]));
	atomic_store_explicit(&current, t, memory_order_release);
	/* Late readers of the old slots read zeros now: "not known". */
	madvise(old->buckets, old->size - HEADER, MADV_DONTNEED);
	return true;
}

/* A lock the graph knew (in chain keys, maybe) is retired; caller holds
 * the graph mutex. */
void
lh_chainset_forget(void)
{
	forgotten++;
}

/* Empties t in place; caller holds the graph mutex. */
static void
empty(struct table *t)
{
	size_t size = (size_t)t->nbuckets * sizeof(struct bucket);

	if (madvise(t->buckets, size, MADV_DONTNEED) != 0)
		for (uint32_t b = 0; b < t->nbuckets; b++)
			for (int i = 0; i < BUCKET; i++)
				atomic_store_explicit(&t->buckets[b].fp[i], 0,
						      memory_order_relaxed);
	used = 0;
	forgotten = 0;
}

/* Caller holds the graph mutex. */
void
lh_chainset_insert(uint64_t key)
{
	struct table *t = atomic_load_explicit(&current, memory_order_relaxed);

	if (!t)
		return;
	if (used >= FORGET_MIN && forgotten > used / 2)
		empty(t);
	/* Grow past 7/8 full. */
	if ((used + 1) * 8 > (size_t)t->nbuckets * BUCKET * 7 && grow(t))
		t = atomic_load_explicit(&current, memory_order_relaxed);
	if (used * 8 >= (size_t)t->nbuckets * BUCKET * 7)
		return; /* full at the largest size */
	/* If the list cannot grow, a growth forgets this key, which is then
	 * validated again: harmless. */
	if (put(t, fingerprint(key), home(t, key)))
		(void)keep(key);
}

/* The keys in the set, dead or alive (for tests). */
size_t
lh_chainset_count(void)
{
	return used;
}
