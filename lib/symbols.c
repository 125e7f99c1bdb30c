/*
 * In-process names for addresses, from the modules' ELF symbol tables
 * (.symtab, else the separate debug file found by build-id under
 * /usr/lib/debug/.build-id, else .dynsym). Used for the text on stderr and
 * to name static locks by their variable (`accounts_lock`); file:line and
 * inlined frames are the CLI's job, offline, with libdw. It never calls
 * dladdr (the loader lock) or malloc: files are mmap'd, tables live in the
 * arena. Tables are built on first use per module under symbols_mu and kept.
 */
#include "config.h"

#include <elf.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libiberty/demangle.h>

#include "lockhound-private.h"

struct sym {
	uintptr_t addr; /* file address */
	uintptr_t size;
	const char *name;
	const char *pretty; /* name demangled (C++), made on first use; or NULL */
};

struct symtab {
	struct sym *funcs, *objs;
	size_t nfuncs, nobjs;
	bool loaded;
};

static lh_mutex_t symbols_mu = LH_MUTEX_INIT;

/*
 * C++ names are shown demangled, as gdb and the CLI show them, with
 * libiberty's demangler (the one inside libstdc++) in its callback form: it
 * works on the stack and calls back with the pieces, no malloc, which an
 * allocator that locks could not take here. Its stack grows with the name
 * (about 72 bytes per character) and this runs on the program's thread,
 * whose stack may be small: longer names stay mangled.
 */
#define DEMANGLE_MAX 200
struct piece_buf {
	char p[1024];
	size_t n;
	bool over;
};

static void
add_piece(const char *s, size_t len, void *arg)
{
	struct piece_buf *b = arg;

	if (b->over || b->n + len >= sizeof(b->p)) {
		b->over = true;
		return;
	}
	memcpy(b->p + b->n, s, len);
	b->n += len;
}

/* s's name for people: demangled once into the arena. Caller holds
 * symbols_mu. */
static const char *
pretty_name(struct sym *s)
{
	struct piece_buf b;
	char *p;

	if (s->pretty)
		return s->pretty;
	if (strncmp(s->name, "_Z", 2) != 0 || strnlen(s->name, DEMANGLE_MAX + 1) > DEMANGLE_MAX)
		return s->name;
	b.n = 0;
	b.over = false;
	if (!cplus_demangle_v3_callback(s->name, DMGL_PARAMS | DMGL_ANSI, add_piece, &b) ||
	    b.over || b.n == 0 ||
	    !(p = lh_alloc(b.n + 1))) {
		s->pretty = s->name; /* as it is, from now on */
		return s->name;
	}
	memcpy(p, b.p, b.n);
	p[b.n] = '\0';
	s->pretty = p;
	return p;
}
static struct symtab **tabs;
static int ntabs;

static void
sort_syms(struct sym *a, size_t n)
{
	/* Shell sort: no recursion, no allocation (qsort may malloc). */
	static const size_t gaps[] = {1750, 701, 301, 132, 57, 23, 10, 4, 1};

	for (size_t g = 0; g < LH_ARRAY_SIZE(gaps); g++) {
		size_t gap = gaps[g];

		for (size_t i = gap; i < n; i++) {
			struct sym t = a[i];
			size_t j = i;

			while (j >= gap && a[j - gap].addr > t.addr) {
				a[j] = a[j - gap];
				j -= gap;
			}
			a[j] = t;
		}
	}
}

/* Maps path; returns the mapping and its size, or NULL. */
static const unsigned char *
map_file(const char *path, size_t *size)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	*size = (size_t)st.st_size;
	return p;
}

/* Finds the section of type want; returns its header or NULL. */
static const Elf64_Shdr *
find_section(const unsigned char *img, size_t size, uint32_t want)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;
	const Elf64_Shdr *sh;

	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff == 0 ||
	    eh->e_shoff > size || (size - eh->e_shoff) / sizeof(Elf64_Shdr) < eh->e_shnum)
		return NULL;
	sh = (const Elf64_Shdr *)(img + eh->e_shoff);
	for (int i = 0; i < eh->e_shnum; i++)
		if (sh[i].sh_type == want && sh[i].sh_offset < size &&
		    sh[i].sh_size <= size - sh[i].sh_offset && sh[i].sh_link < eh->e_shnum)
			return &sh[i];
	return NULL;
}

/* Collects FUNC and OBJECT symbols of one symbol table section into t. */
static bool
load_table(struct symtab *t, const unsigned char *img, size_t size, const Elf64_Shdr *symsh)
{
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(img + ((const Elf64_Ehdr *)img)->e_shoff);
	const Elf64_Shdr *strsh = &sh[symsh->sh_link];
	const Elf64_Sym *syms = (const Elf64_Sym *)(img + symsh->sh_offset);
	size_t n = symsh->sh_size / sizeof(Elf64_Sym), nf = 0, no = 0;
	const char *strs = (const char *)(img + strsh->sh_offset);

	if (strsh->sh_offset >= size || strsh->sh_size > size - strsh->sh_offset)
		return false;
	for (size_t i = 0; i < n; i++) {
		int type = ELF64_ST_TYPE(syms[i].st_info);

		if (syms[i].st_shndx == SHN_UNDEF || syms[i].st_value == 0 ||
		    syms[i].st_name >= strsh->sh_size)
			continue;
		if (type == STT_FUNC || type == STT_GNU_IFUNC)
			nf++;
		else if (type == STT_OBJECT || type == STT_TLS)
			no += type == STT_OBJECT;
	}
	t->funcs = lh_alloc((nf + 1) * sizeof(struct sym));
	t->objs = lh_alloc((no + 1) * sizeof(struct sym));
	if (!t->funcs || !t->objs)
		return false;
	for (size_t i = 0; i < n; i++) {
		int type = ELF64_ST_TYPE(syms[i].st_info);
		struct sym s;

		if (syms[i].st_shndx == SHN_UNDEF || syms[i].st_value == 0 ||
		    syms[i].st_name >= strsh->sh_size)
			continue;
		s.addr = syms[i].st_value;
		s.size = syms[i].st_size;
		s.name = strs + syms[i].st_name;
		s.pretty = NULL;
		if (memchr(s.name, '\0', strsh->sh_size - syms[i].st_name) == NULL)
			continue;
		if (type == STT_FUNC || type == STT_GNU_IFUNC)
			t->funcs[t->nfuncs++] = s;
		else if (type == STT_OBJECT)
			t->objs[t->nobjs++] = s;
	}
	sort_syms(t->funcs, t->nfuncs);
	sort_syms(t->objs, t->nobjs);
	return true;
}

static void
load_module(struct symtab *t, const struct lh_module *m)
{
	const unsigned char *img;
	const Elf64_Shdr *sh;
	size_t size;

	t->loaded = true;
	img = map_file(m->path, &size);
	if (img && (sh = find_section(img, size, SHT_SYMTAB)) != NULL &&
	    load_table(t, img, size, sh))
		return;
	if (m->build_id[0] && m->build_id[1]) {
		char dbg[128] = "/usr/lib/debug/.build-id/";
		const unsigned char *dimg;
		size_t dsize, l = strlen(dbg);

		dbg[l++] = m->build_id[0];
		dbg[l++] = m->build_id[1];
		dbg[l++] = '/';
		dbg[l] = '\0';
		if (strlen(m->build_id + 2) + l + 7 < sizeof(dbg)) {
			strcat(dbg, m->build_id + 2);
			strcat(dbg, ".debug");
			dimg = map_file(dbg, &dsize);
			if (dimg && (sh = find_section(dimg, dsize, SHT_SYMTAB)) != NULL &&
			    load_table(t, dimg, dsize, sh))
				return;
		}
	}
	if (img && (sh = find_section(img, size, SHT_DYNSYM)) != NULL)
		load_table(t, img, size, sh);
}

static struct sym *
search(struct sym *a, size_t n, uintptr_t addr, bool exact_size)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	/* Prefer a symbol whose extent covers addr among equal start addresses. */
	for (size_t i = lo; i > 0; i--) {
		struct sym *s = &a[i - 1];

		if (addr < s->addr + s->size)
			return s;
		if (s->addr != a[lo - 1].addr)
			break;
	}
	return exact_size ? NULL : &a[lo - 1];
}

/*
 * Names addr: the function containing it (data: the object containing it).
 * On success sets *name (valid for the life of the process), *off from the
 * symbol start and *mod. Takes symbols_mu; not async-signal-safe.
 */
bool
lh_symbolize(uintptr_t addr, bool data, const char **name, uintptr_t *off,
	     const struct lh_module **mod)
{
	const struct lh_module *m = data ? lh_module_find_data(addr) : lh_module_find(addr);
	struct sym *s = NULL;
	struct symtab *t;

	*mod = m;
	if (!m)
		return false;
	lh_mutex_lock(&symbols_mu);
	if (m->index >= ntabs) {
		int cap = m->index + 16;
		struct symtab **n = lh_realloc(tabs, (size_t)ntabs * sizeof(*tabs),
					       (size_t)cap * sizeof(*tabs));

		if (!n)
			goto out;
		tabs = n;
		ntabs = cap;
	}
	t = tabs[m->index];
	if (!t) {
		t = lh_alloc(sizeof(*t));
		if (!t)
			goto out;
		tabs[m->index] = t;
	}
	if (!t->loaded)
		load_module(t, m);
	if (data)
		s = search(t->objs, t->nobjs, addr - m->bias, true);
	else
		s = search(t->funcs, t->nfuncs, addr - m->bias, false);
	if (s)
		*name = pretty_name(s);
out:
	lh_mutex_unlock(&symbols_mu);
	if (!s)
		return false;
	*off = addr - m->bias - s->addr;
	return true;
}

void
lh_symbols_atfork_prepare(void)
{
	lh_mutex_lock(&symbols_mu);
}

void
lh_symbols_atfork_parent(void)
{
	lh_mutex_unlock(&symbols_mu);
}

void
lh_symbols_atfork_child(void)
{
	lh_mutex_reset(&symbols_mu);
}
