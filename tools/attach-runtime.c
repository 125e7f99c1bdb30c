/*
 * The tables of a liblockhound loaded in the target, for lockhound attach:
 * which locks each thread holds, since when and where it took them (the
 * stacks glibc's owner fields cannot give), the readers of rwlocks,
 * annotations, and the threads that exited holding locks.
 *
 * They are read from the target's memory while its threads are stopped, at
 * addresses from the library's own .symtab (thread.c's `threads`, stack.c's
 * `dir`, sync.c's `lh_tick_origin_ns`) and with the struct layouts of
 * lib/lockhound-private.h as this lockhound was compiled with them. That is
 * only right for the very same build: the GNU build-id of the library in
 * the target's memory must equal the one of the runtime this lockhound
 * belongs to (found as `lockhound run` finds it). Any other build, or a
 * stripped one, is said in a note and the diagnosis goes on from glibc's
 * fields alone. Asking the runtime itself (a signal, a socket) was not
 * chosen: a deadlocked process may never answer, and its runtime may hold
 * the locks a dump would need.
 *
 * Every read is bounded (threads, held locks, frames, string lengths) and
 * checked: the target's memory is data, never trusted to be well formed.
 */
#include "config.h"

#include <elf.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/lockhound-private.h"
#include "attach.h"
#include "lockhound-cli.h"

struct want {
	const char *name;
	const char *file; /* the source file of a local symbol, or NULL */
	uint64_t addr;
};

static const char *
base_name(const char *p)
{
	const char *s = p ? strrchr(p, '/') : NULL;

	return s && s[1] ? s + 1 : p;
}

static int
find_lib(Dwfl_Module *mod, void **ud, const char *name, Dwarf_Addr start, void *arg)
{
	(void)ud;
	(void)start;
	if (name && strncmp(base_name(name), "liblockhound.so", 15) == 0) {
		*(Dwfl_Module **)arg = mod;
		return DWARF_CB_ABORT;
	}
	return DWARF_CB_OK;
}

bool
cli_find_runtime(char *buf, size_t size)
{
	const char *env = getenv("LOCKHOUND_LIBRARY");
	char self[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		snprintf(buf, size, "%s", env);
		return access(buf, R_OK) == 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			/* In the build tree, tools/lockhound sits next to lib/. */
			if ((size_t)snprintf(buf, size, "%s/../lib/.libs/liblockhound.so", self) <
				    size &&
			    access(buf, R_OK) == 0)
				return true;
		}
	}
	snprintf(buf, size, "%s/liblockhound.so", LH_LIBDIR);
	return access(buf, R_OK) == 0;
}

static void
hex(const unsigned char *b, size_t n, char *out, size_t size)
{
	out[0] = '\0';
	for (size_t i = 0; i < n && 2 * i + 2 < size; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static bool
file_build_id(const char *path, char *out, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf;
	const void *id;
	ssize_t n = -1;

	if (fd < 0)
		return false;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf) {
		n = dwelf_elf_gnu_build_id(elf, &id);
		if (n > 0)
			hex(id, (size_t)n, out, size);
		elf_end(elf);
	}
	close(fd);
	return n > 0;
}

/* The GNU build-id of the ELF object mapped at base in the target, read
 * from its memory: what is loaded, whatever is on disk now. */
static bool
memory_build_id(const struct target *t, uint64_t base, char *out, size_t size)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	uint64_t bias = base;

	if (!target_read(t, base, &eh, sizeof(eh)) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phnum > 256)
		return false;
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < eh.e_phnum; i++) {
			unsigned char notes[1024];
			size_t len, off = 0;

			if (!target_read(t, base + eh.e_phoff + (uint64_t)i * sizeof(ph), &ph,
					 sizeof(ph)))
				return false;
			if (pass == 0) {
				/* The bias: base is where the first PT_LOAD's page went. */
				if (ph.p_type == PT_LOAD) {
					bias = base - (ph.p_vaddr & ~(uint64_t)4095);
					break;
				}
				continue;
			}
			if (ph.p_type != PT_NOTE)
				continue;
			len = ph.p_filesz < sizeof(notes) ? ph.p_filesz : sizeof(notes);
			if (!target_read(t, bias + ph.p_vaddr, notes, len))
				continue;
			while (off + 12 <= len) {
				uint32_t namesz, descsz, type;
				size_t name_off = off + 12, desc_off;

				memcpy(&namesz, notes + off, 4);
				memcpy(&descsz, notes + off + 4, 4);
				memcpy(&type, notes + off + 8, 4);
				desc_off = name_off + ((namesz + 3) & ~3u);
				if (desc_off + descsz > len)
					break;
				if (type == NT_GNU_BUILD_ID && namesz == 4 &&
				    memcmp(notes + name_off, "GNU", 4) == 0) {
					hex(notes + desc_off, descsz, out, size);
					return true;
				}
				off = desc_off + ((descsz + 3) & ~3u);
			}
		}
	}
	return false;
}

/* Addresses of the wanted symbols, from the module's .symtab. */
static bool
find_symbols(Dwfl_Module *mod, struct want *w, size_t nw)
{
	int n = dwfl_module_getsymtab(mod);
	const char *file = NULL;
	size_t found = 0;

	for (int i = 1; i < n && found < nw; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		const char *name = dwfl_module_getsym_info(mod, i, &sym, &addr, NULL, NULL, NULL);

		if (!name)
			continue;
		if (GELF_ST_TYPE(sym.st_info) == STT_FILE) {
			file = name;
			continue;
		}
		if (GELF_ST_TYPE(sym.st_info) != STT_OBJECT)
			continue;
		for (size_t k = 0; k < nw; k++) {
			if (w[k].addr || strcmp(name, w[k].name) != 0)
				continue;
			if (w[k].file && (!file || strcmp(base_name(file), w[k].file) != 0))
				continue;
			w[k].addr = addr;
			found++;
		}
	}
	return found == nw;
}

static bool
read_u64(const struct target *t, uint64_t addr, uint64_t *v)
{
	return target_read(t, addr, v, sizeof(*v));
}

/* A stack of the depot, by id. */
static bool
read_stack(const struct target *t, uint64_t dir, uint32_t id, uint64_t **pcs, int *n,
	   bool *partial)
{
	uint64_t leaf, rec;
	struct lh_stack_rec hdr;

	if (id == 0 || (id >> LH_DEPOT_LEAF_BITS) >= LH_DEPOT_DIR_SIZE)
		return false;
	if (!read_u64(t, dir + 8 * (uint64_t)(id >> LH_DEPOT_LEAF_BITS), &leaf) || !leaf ||
	    !read_u64(t, leaf + 8 * (uint64_t)(id & ((1u << LH_DEPOT_LEAF_BITS) - 1)), &rec) ||
	    !rec || !target_read(t, rec, &hdr, sizeof(hdr)) || hdr.n == 0 ||
	    hdr.n > RT_MAX_FRAMES)
		return false;
	*pcs = calloc(hdr.n, sizeof(**pcs));
	if (!*pcs)
		return false;
	if (!target_read(t, rec + offsetof(struct lh_stack_rec, pcs), *pcs,
			 hdr.n * sizeof(**pcs))) {
		free(*pcs);
		*pcs = NULL;
		return false;
	}
	*n = (int)hdr.n;
	*partial = hdr.flags & LH_STACK_PARTIAL;
	return true;
}

static char *
read_string(const struct target *t, uint64_t addr)
{
	char buf[129];

	if (!addr || !target_read(t, addr, buf, 1))
		return NULL;
	for (size_t i = 0; i + 1 < sizeof(buf); i++) {
		if (!target_read(t, addr + i, buf + i, 1))
			return NULL;
		if (!buf[i])
			return strdup(buf);
	}
	buf[sizeof(buf) - 1] = '\0';
	return strdup(buf);
}

static void
read_held(const struct target *t, uint64_t dir, uint64_t origin_ns, const struct lh_held *h,
	  struct rt_held *o)
{
	struct lh_lock lk;

	memset(o, 0, sizeof(*o));
	o->addr = h->addr;
	o->id = h->id;
	o->mode = h->mode;
	o->count = h->count;
	o->held_ms = -1;
	if (h->since_ms && origin_ns && t->stop_ns > origin_ns) {
		uint64_t now_ms = (t->stop_ns - origin_ns) / 1000000;

		if (now_ms >= h->since_ms)
			o->held_ms = (int64_t)(now_ms - h->since_ms);
	}
	if (h->lock && target_read(t, (uint64_t)(uintptr_t)h->lock, &lk, sizeof(lk)) &&
	    lk.id == h->id) {
		o->type = lk.type;
		o->kind = lk.kind;
		o->init_pc = lk.init_pc;
		o->annotation = read_string(t, (uint64_t)(uintptr_t)lk.name);
	}
	if (!read_stack(t, dir, h->stack, &o->pcs, &o->npcs, &o->partial) && h->pc) {
		/* Like the runtime: only the acquisition's caller is known. */
		o->pcs = malloc(sizeof(*o->pcs));
		if (o->pcs) {
			o->pcs[0] = h->pc;
			o->npcs = 1;
			o->partial = true;
		}
	}
}

void
runtime_read(const struct target *t, struct Dwfl *dwfl, struct rt_tables *rt)
{
	Dwfl_Module *mod = NULL;
	char own[PATH_MAX], own_id[129] = "", target_id[129] = "";
	struct want w[] = {{"threads", "thread.c", 0},
			   {"dir", "stack.c", 0},
			   {"lh_tick_origin_ns", NULL, 0}};
	Dwarf_Addr start;
	const char *path;
	uint64_t node, origin = 0;
	struct lh_thread *buf;

	memset(rt, 0, sizeof(*rt));
	dwfl_getmodules(dwfl, find_lib, &mod, 0);
	if (!mod)
		return;
	rt->present = true;
	path = dwfl_module_info(mod, NULL, &start, NULL, NULL, NULL, NULL, NULL);
	rt->lib = strdup(path ? path : "liblockhound.so");
	if (!cli_find_runtime(own, sizeof(own)) || !file_build_id(own, own_id, sizeof(own_id))) {
		snprintf(rt->note, sizeof(rt->note),
			 "the process has %.200s loaded, but this lockhound cannot find its own "
			 "runtime to compare builds with (set LOCKHOUND_LIBRARY): its records "
			 "are not read",
			 rt->lib);
		return;
	}
	if (!memory_build_id(t, start, target_id, sizeof(target_id)) ||
	    strcmp(own_id, target_id) != 0) {
		snprintf(rt->note, sizeof(rt->note),
			 "the process's %.120s (build-id %.40s) is another build than this "
			 "lockhound's %.120s (%.40s): its records are not read; locks and owners "
			 "come from glibc alone",
			 rt->lib, target_id[0] ? target_id : "unknown", own, own_id);
		return;
	}
	if (!find_symbols(mod, w, sizeof(w) / sizeof(w[0]))) {
		snprintf(rt->note, sizeof(rt->note),
			 "%.300s has no symbol table (stripped): its records are not read",
			 rt->lib);
		return;
	}
	read_u64(t, w[2].addr, &origin);
	if (!read_u64(t, w[0].addr, &node)) {
		snprintf(rt->note, sizeof(rt->note), "cannot read the runtime's thread registry");
		return;
	}
	buf = malloc(sizeof(*buf));
	if (!buf)
		return;
	rt->used = true;
	for (size_t count = 0; node && count < RT_MAX_THREADS; count++) {
		struct rt_thread *o, *grown;
		uint32_t nheld;

		if (!target_read(t, node, buf, sizeof(*buf))) {
			snprintf(rt->note, sizeof(rt->note),
				 "the runtime's thread registry could not be read to its end");
			break;
		}
		grown = realloc(rt->th, (rt->n + 1) * sizeof(*grown));
		if (!grown)
			break;
		rt->th = grown;
		o = &rt->th[rt->n++];
		memset(o, 0, sizeof(*o));
		o->tid = buf->tid;
		o->dead = buf->dead;
		o->wait_kind = buf->wait_kind;
		o->wait_addr = buf->wait_addr;
		o->wait_mode = buf->wait_mode;
		o->wait_type = buf->wait_type;
		o->waited_ms = -1;
		if (o->wait_addr && buf->wait_since_ns && t->stop_ns > buf->wait_since_ns)
			o->waited_ms = (int64_t)((t->stop_ns - buf->wait_since_ns) / 1000000);
		nheld = buf->nheld < RT_MAX_HELD ? buf->nheld : RT_MAX_HELD;
		if (nheld && buf->held) {
			struct lh_held *held = calloc(nheld, sizeof(*held));

			o->held = calloc(nheld, sizeof(*o->held));
			if (held && o->held &&
			    target_read(t, (uint64_t)(uintptr_t)buf->held, held,
					nheld * sizeof(*held))) {
				for (uint32_t k = 0; k < nheld; k++)
					read_held(t, w[1].addr, origin, &held[k], &o->held[k]);
				o->nheld = (int)nheld;
			}
			free(held);
		}
		node = (uint64_t)(uintptr_t)buf->next;
	}
	free(buf);
}

const struct rt_thread *
runtime_thread(const struct rt_tables *rt, pid_t tid)
{
	for (size_t i = 0; rt->used && i < rt->n; i++)
		if (rt->th[i].tid == tid)
			return &rt->th[i];
	return NULL;
}

void
runtime_free(struct rt_tables *rt)
{
	for (size_t i = 0; i < rt->n; i++) {
		for (int k = 0; k < rt->th[i].nheld; k++) {
			free(rt->th[i].held[k].pcs);
			free(rt->th[i].held[k].annotation);
		}
		free(rt->th[i].held);
	}
	free(rt->th);
	free(rt->lib);
	memset(rt, 0, sizeof(*rt));
}
