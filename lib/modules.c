/*
 * The modules (executable and shared objects) of this process, read from
 * /proc/self/maps with plain open/read: dl_iterate_phdr and dladdr take the
 * loader lock, which a thread running a library constructor inside dlopen
 * holds, maybe while it waits for a lock one of our callers owns. Each module
 * gets a stable index, its load bias (file address = pc - bias) and its GNU
 * build-id, read from the file, so that records can be symbolized offline.
 * The list only grows; modules_mu guards it. Refreshed when a lookup misses,
 * unless it looks up a lock's address that was in a mapping of no module
 * at the last reread.
 */
#include "config.h"

#include <elf.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "lockhound-private.h"

static lh_mutex_t modules_mu = LH_MUTEX_INIT;
static struct lh_module **mods;
static int nmods, capmods;

/*
 * The mappings that were no module's at the last reread (heap, stacks,
 * anonymous and data-file mappings), sorted, adjacent ones merged: a lookup
 * of a lock's address that misses the modules in one of them is answered
 * without reading the maps again. A report names every lock it lists, and
 * a program's heap locks are in no module: a reread for each (one open and
 * a few reads of /proc/self/maps) made the report at exit of 100,000 heap
 * mutexes take 12 seconds. Code addresses still reread on a miss (rare:
 * JIT code): a library is often mapped into the hole an unmapped anonymous
 * mapping left, and its frames must be named. The price for locks: a
 * library's static lock there is named by its address until a lookup
 * elsewhere rereads the maps, which replaces these. Past OTHERS_MAX,
 * lookups in the rest reread, as before.
 */
struct range {
	uintptr_t lo, hi;
};
#define OTHERS_MAX 65536 /* vm.max_map_count's default is 65,530 */
static struct range *others, *others_next;
static size_t nothers, cap_others, nnext, cap_next;

struct elf_facts {
	uintptr_t first_vaddr; /* page-aligned p_vaddr of the PT_LOAD at offset 0 */
	char build_id[41];
};

static bool
read_at(int fd, void *buf, size_t n, off_t off)
{
	return pread(fd, buf, n, off) == (ssize_t)n;
}

static void
hexify(const unsigned char *p, size_t n, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n && 2 * i + 2 < outsz; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[2 * i] = '\0';
}

static bool
elf_facts(const char *path, struct elf_facts *f)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int fd;
	bool have_load = false;

	memset(f, 0, sizeof(*f));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (!read_at(fd, &eh, sizeof(eh), 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(ph) ||
	    eh.e_phnum > 512) {
		close(fd);
		return false;
	}
	for (int i = 0; i < eh.e_phnum; i++) {
		if (!read_at(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * sizeof(ph))))
			break;
		if (ph.p_type == PT_LOAD && !have_load) {
			uint64_t align = ph.p_align > 1 ? ph.p_align : 4096;

			f->first_vaddr = (uintptr_t)((ph.p_vaddr - ph.p_offset) & ~(align - 1));
			have_load = true;
		} else if (ph.p_type == PT_NOTE && !f->build_id[0] && ph.p_filesz < 65536) {
			unsigned char notes[4096];
			size_t len = ph.p_filesz < sizeof(notes) ? ph.p_filesz : sizeof(notes);
			size_t off = 0;

			if (!read_at(fd, notes, len, (off_t)ph.p_offset))
				continue;
			while (off + sizeof(Elf64_Nhdr) <= len) {
				Elf64_Nhdr nh;
				size_t name_off, desc_off;

				memcpy(&nh, notes + off, sizeof(nh));
				name_off = off + sizeof(nh);
				desc_off = name_off + ((nh.n_namesz + 3u) & ~3u);
				if (desc_off + nh.n_descsz > len)
					break;
				if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
				    memcmp(notes + name_off, "GNU", 4) == 0) {
					hexify(notes + desc_off, nh.n_descsz, f->build_id,
					       sizeof(f->build_id));
					break;
				}
				off = desc_off + ((nh.n_descsz + 3u) & ~3u);
			}
		}
	}
	close(fd);
	return have_load;
}

/* The GNU build-id of the ELF file at path, as hex; 0 or -1. */
int
lh_elf_build_id(const char *path, char *hex, size_t hexsz)
{
	struct elf_facts f;

	if (!elf_facts(path, &f) || !f.build_id[0])
		return -1;
	if (strlen(f.build_id) >= hexsz)
		return -1;
	strcpy(hex, f.build_id);
	return 0;
}

/* Adds [lo, hi) to the ranges being built (others_next); caller holds
 * modules_mu. */
static void
other_add(uintptr_t lo, uintptr_t hi)
{
	size_t i = nnext;

	if (nnext && others_next[nnext - 1].hi == lo) {
		others_next[nnext - 1].hi = hi;
		return;
	}
	if (nnext == cap_next) {
		size_t cap = cap_next ? cap_next * 2 : 64;
		struct range *n;

		if (cap > OTHERS_MAX || !(n = lh_realloc(others_next, cap_next * sizeof(*n),
							   cap * sizeof(*n))))
			return;
		others_next = n;
		cap_next = cap;
	}
	/* In order, but for a file that turned out not to be a module, which
	 * comes when its group ends. */
	while (i > 0 && others_next[i - 1].lo > lo)
		i--;
	memmove(&others_next[i + 1], &others_next[i], (nnext - i) * sizeof(*others_next));
	others_next[i] = (struct range){lo, hi};
	nnext++;
}

/* Whether addr was in a mapping of no module at the last reread; caller
 * holds modules_mu. */
static bool
in_others(uintptr_t addr)
{
	size_t lo = 0, hi = nothers;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < others[mid].lo)
			hi = mid;
		else if (addr >= others[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

static uintptr_t
parse_hex(const char **s)
{
	uintptr_t v = 0;

	for (;; (*s)++) {
		char c = **s;

		if (c >= '0' && c <= '9')
			v = v * 16 + (uintptr_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (uintptr_t)(c - 'a' + 10);
		else
			return v;
	}
}

static struct lh_module *
known(const char *path, uintptr_t lo)
{
	for (int i = nmods - 1; i >= 0; i--)
		if (mods[i]->lo == lo && strcmp(mods[i]->path, path) == 0)
			return mods[i];
	return NULL;
}

/* Adds the module mapped at [lo, hi) unless known; false if path is not
 * one (or there is no memory for it). */
static bool
add_module(const char *path, uintptr_t lo, uintptr_t hi, uintptr_t off0_start)
{
	struct lh_module *m, *old;
	struct elf_facts f;

	if ((old = known(path, lo)) != NULL) {
		if (hi > old->hi)
			old->hi = hi;
		return true;
	}
	if (!off0_start || !elf_facts(path, &f))
		return false;
	if (nmods == capmods) {
		int cap = capmods ? capmods * 2 : 64;
		struct lh_module **n = lh_realloc(mods, (size_t)capmods * sizeof(*mods),
						  (size_t)cap * sizeof(*mods));

		if (!n)
			return false;
		mods = n;
		capmods = cap;
	}
	m = lh_alloc(sizeof(*m));
	if (!m || !(m->path = lh_strdup(path))) {
		lh_free(m, sizeof(*m));
		return false;
	}
	m->lo = lo;
	m->hi = hi;
	m->bias = off0_start - f.first_vaddr;
	memcpy(m->build_id, f.build_id, sizeof(m->build_id));
	m->index = nmods;
	mods[nmods++] = m;
	return true;
}

/*
 * Rereads /proc/self/maps and adds modules not seen before, and notes the
 * mappings of none (others). Returns how many were added. Caller holds
 * modules_mu.
 */
static int
refresh_locked(void)
{
	char chunk[4096], line[LH_PATH_MAX + 128];
	size_t linelen = 0;
	int fd, before = nmods;
	ssize_t got;
	/* The group being built: consecutive mappings of one file. */
	char gpath[LH_PATH_MAX] = "";
	uintptr_t glo = 0, ghi = 0, goff0 = 0;
	bool gbss = false; /* the group took its .bss mapping already */

	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	nnext = 0;
	while ((got = read(fd, chunk, sizeof(chunk))) > 0) {
		for (ssize_t i = 0; i < got; i++) {
			const char *s, *path;
			uintptr_t lo, hi, off;

			if (chunk[i] != '\n') {
				if (linelen < sizeof(line) - 1)
					line[linelen++] = chunk[i];
				continue;
			}
			line[linelen] = '\0';
			linelen = 0;
			s = line;
			lo = parse_hex(&s);
			s++;
			hi = parse_hex(&s);
			s++;
			s += 5; /* perms and a space */
			off = parse_hex(&s);
			path = strchr(s, '/');
			if (!path && !strchr(s, '[') && gpath[0] && lo == ghi && !gbss) {
				/* The one unnamed mapping right after a module is its
				 * .bss, where zero-initialized static locks live; what
				 * follows it is heap or another mapping. */
				ghi = hi;
				gbss = true;
				continue;
			}
			if (!path || strstr(path, " (deleted)")) {
				other_add(lo, hi);
				continue;
			}
			if (strcmp(path, gpath) == 0 && lo >= ghi && !gbss) {
				ghi = hi;
				if (off == 0 && !goff0)
					goff0 = lo;
				continue;
			}
			if (gpath[0] && !add_module(gpath, glo, ghi, goff0))
				other_add(glo, ghi);
			gpath[0] = '\0';
			if (strlen(path) >= sizeof(gpath)) {
				other_add(lo, hi);
				continue;
			}
			strcpy(gpath, path);
			glo = lo;
			ghi = hi;
			goff0 = off == 0 ? lo : 0;
			gbss = false;
		}
	}
	if (gpath[0] && !add_module(gpath, glo, ghi, goff0))
		other_add(glo, ghi);
	close(fd);
	{ /* the new ranges replace the old; their buffer is the next one */
		struct range *r = others;
		size_t cap = cap_others;

		others = others_next;
		nothers = nnext;
		cap_others = cap_next;
		others_next = r;
		cap_next = cap;
	}
	return nmods - before;
}

int
lh_modules_refresh(void)
{
	int n;

	lh_mutex_lock(&modules_mu);
	n = refresh_locked();
	lh_mutex_unlock(&modules_mu);
	return n;
}

void
lh_modules_init(void)
{
	const struct lh_module *self;

	lh_modules_refresh();
	self = lh_module_find((uintptr_t)lh_modules_init);
	if (self)
		lh_stack_set_self_range(self->lo, self->hi);
}

static const struct lh_module *
find_locked(uintptr_t addr)
{
	for (int i = nmods - 1; i >= 0; i--)
		if (addr >= mods[i]->lo && addr < mods[i]->hi)
			return mods[i];
	return NULL;
}

static const struct lh_module *
find(uintptr_t addr, bool data)
{
	const struct lh_module *m;

	lh_mutex_lock(&modules_mu);
	m = find_locked(addr);
	if (!m && !(data && in_others(addr)) && refresh_locked() > 0)
		m = find_locked(addr);
	lh_mutex_unlock(&modules_mu);
	return m;
}

/* The module containing code address addr, rereading the maps once on a
 * miss (a library loaded since); or NULL. */
const struct lh_module *
lh_module_find(uintptr_t addr)
{
	return find(addr, false);
}

/* The module containing data address addr (a lock), or NULL: as
 * lh_module_find(), but an address in a mapping of no module at the last
 * reading (the heap) is answered from that. */
const struct lh_module *
lh_module_find_data(uintptr_t addr)
{
	return find(addr, true);
}

/*
 * The module containing addr if the module list is free right now, else
 * NULL; never rereads the maps. async-signal-safe: for the dump signal's
 * handler, which must not wait for a lock the thread it interrupted holds.
 */
const struct lh_module *
lh_module_find_try(uintptr_t addr)
{
	const struct lh_module *m;

	if (!lh_mutex_trylock(&modules_mu))
		return NULL;
	m = find_locked(addr);
	lh_mutex_unlock(&modules_mu);
	return m;
}

const struct lh_module *
lh_module_at(int index)
{
	const struct lh_module *m = NULL;

	lh_mutex_lock(&modules_mu);
	if (index >= 0 && index < nmods)
		m = mods[index];
	lh_mutex_unlock(&modules_mu);
	return m;
}

int
lh_module_count(void)
{
	int n;

	lh_mutex_lock(&modules_mu);
	n = nmods;
	lh_mutex_unlock(&modules_mu);
	return n;
}

void
lh_modules_atfork_prepare(void)
{
	lh_mutex_lock(&modules_mu);
}

void
lh_modules_atfork_parent(void)
{
	lh_mutex_unlock(&modules_mu);
}

void
lh_modules_atfork_child(void)
{
	lh_mutex_reset(&modules_mu);
}
