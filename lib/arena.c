/*
 * The runtime's allocator: size classes carved from 1 MiB mmap'd chunks, with
 * a free list per class; requests above the largest class get their own
 * mapping. It never calls malloc, so an allocator that takes locks (jemalloc,
 * tcmalloc) cannot re-enter the runtime through it. One internal mutex
 * guards it; callers are on slow paths only. Memory is zeroed on return.
 */
#include "config.h"

#include <string.h>
#include <sys/mman.h>

#include "lockhound-private.h"

#define CHUNK_SIZE (1u << 20)
#define MIN_SHIFT 4  /* 16 bytes */
#define MAX_SHIFT 16 /* 64 KiB */
#define NCLASSES (MAX_SHIFT - MIN_SHIFT + 1)

struct free_obj {
	struct free_obj *next;
};

static lh_mutex_t arena_mu = LH_MUTEX_INIT;
static struct free_obj *free_lists[NCLASSES];
static char *chunk_cur, *chunk_end;
static _Atomic size_t mapped;

static int
size_class(size_t size)
{
	int c = 0;
	size_t s = (size_t)1 << MIN_SHIFT;

	while (s < size) {
		s <<= 1;
		c++;
	}
	return c;
}

static void *
map_pages(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	atomic_fetch_add_explicit(&mapped, size, memory_order_relaxed);
	return p;
}

static size_t
page_round(size_t size)
{
	return (size + 4095) & ~(size_t)4095;
}

/*
 * Returns zeroed memory of at least size bytes, or NULL when the system is out
 * of memory (callers degrade). Not async-signal-safe.
 */
void *
lh_alloc(size_t size)
{
	void *p;
	int c;
	size_t csize;

	if (size == 0)
		size = 1;
	if (size > ((size_t)1 << MAX_SHIFT))
		return map_pages(page_round(size));
	c = size_class(size);
	csize = (size_t)1 << (c + MIN_SHIFT);
	lh_mutex_lock(&arena_mu);
	if (free_lists[c]) {
		p = free_lists[c];
		free_lists[c] = free_lists[c]->next;
		lh_mutex_unlock(&arena_mu);
		memset(p, 0, csize);
		return p;
	}
	if ((size_t)(chunk_end - chunk_cur) < csize) {
		/* The tail of the old chunk is lost; at most 64 KiB per MiB. */
		char *chunk = map_pages(CHUNK_SIZE);

		if (!chunk) {
			lh_mutex_unlock(&arena_mu);
			return NULL;
		}
		chunk_cur = chunk;
		chunk_end = chunk + CHUNK_SIZE;
	}
	p = chunk_cur;
	chunk_cur += csize;
	lh_mutex_unlock(&arena_mu);
	return p; /* fresh mmap'd memory is zero */
}

void
lh_free(void *p, size_t size)
{
	int c;

	if (!p)
		return;
	if (size == 0)
		size = 1;
	if (size > ((size_t)1 << MAX_SHIFT)) {
		munmap(p, page_round(size));
		atomic_fetch_sub_explicit(&mapped, page_round(size), memory_order_relaxed);
		return;
	}
	c = size_class(size);
	lh_mutex_lock(&arena_mu);
	((struct free_obj *)p)->next = free_lists[c];
	free_lists[c] = p;
	lh_mutex_unlock(&arena_mu);
}

/* Like realloc, but the caller passes the old size. New bytes are zero. */
void *
lh_realloc(void *p, size_t old_size, size_t new_size)
{
	void *q;

	if (p && old_size >= new_size)
		return p;
	q = lh_alloc(new_size);
	if (!q)
		return NULL;
	if (p) {
		memcpy(q, p, old_size);
		lh_free(p, old_size);
	}
	return q;
}

char *
lh_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = lh_alloc(n);

	if (p)
		memcpy(p, s, n);
	return p;
}

size_t
lh_arena_mapped(void)
{
	return atomic_load_explicit(&mapped, memory_order_relaxed);
}

void
lh_arena_atfork_prepare(void)
{
	lh_mutex_lock(&arena_mu);
}

void
lh_arena_atfork_parent(void)
{
	lh_mutex_unlock(&arena_mu);
}

void
lh_arena_atfork_child(void)
{
	lh_mutex_reset(&arena_mu);
}
