/*
 * Symbolization with libdwfl (see symbolize.h). One Dwfl per address space;
 * each module we report carries our struct smod as its userdata, with its
 * status and, made on first data lookup, a sorted index of its variables
 * (address, size, DIE) for naming static locks. Code lookups are cached by
 * address: the same frames recur in every stack of a log.
 *
 * Cost: reporting a module opens and maps its file; the first code lookup
 * in a module reads its symbol table and line table; the first data lookup
 * walks every DIE of its DWARF once.
 */
#include "config.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <libiberty/demangle.h>
#include <unistd.h>

#include "symbolize.h"

struct var {
	uint64_t addr, size; /* file address */
	Dwarf_Off die;
};

struct smod {
	char *path;
	char *build_id;
	uint64_t base, start, end;
	enum sym_status status;
	char *problem; /* said (in problems) on the first lookup that needs it */
	bool said;
	Dwfl_Module *mod;
	struct var *vars;
	size_t nvars;
	bool vars_loaded;
};

struct cached {
	uint64_t key; /* addr << 1 | return_address */
	struct sym_frame *f;
};

struct symbolizer {
	Dwfl *dwfl;
	bool live;
	struct smod **mods;
	size_t nmods;
	char **problems;
	size_t nproblems;
	char **strings; /* owned strings handed out */
	size_t nstrings, capstrings;
	struct cached *cache;
	size_t capcache, usedcache;
};

static char *debuginfo_path; /* libdwfl default search path */

static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

static const Dwfl_Callbacks live_callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

const char *
sym_status_text(enum sym_status st)
{
	switch (st) {
	case SYM_OK: return "ok";
	case SYM_NO_MODULE: return "not in any module";
	case SYM_MISSING: return "module file missing";
	case SYM_MISMATCH: return "build-id mismatch";
	case SYM_UNREADABLE: return "module file unusable";
	}
	return "?";
}

static char *
xjoin(const char *dir, const char *file)
{
	size_t a = strlen(dir), b = strlen(file);
	char *r = malloc(a + b + 2);

	if (r) {
		memcpy(r, dir, a);
		r[a] = '/';
		memcpy(r + a + 1, file, b + 1);
	}
	return r;
}

/* Keeps s (malloc'd) until sym_free; returns it, or NULL. */
static const char *
own(struct symbolizer *s, char *str)
{
	if (!str)
		return NULL;
	if (s->nstrings == s->capstrings) {
		size_t cap = s->capstrings ? s->capstrings * 2 : 64;
		char **n = realloc(s->strings, cap * sizeof(*n));

		if (!n) {
			free(str);
			return NULL;
		}
		s->strings = n;
		s->capstrings = cap;
	}
	s->strings[s->nstrings++] = str;
	return str;
}

/* Publishes m's problem, once, when a lookup first lands in m. */
static void
say_problem(struct symbolizer *s, struct smod *m)
{
	char **n;

	if (m->said || !m->problem)
		return;
	m->said = true;
	n = realloc(s->problems, (s->nproblems + 1) * sizeof(*n));
	if (!n)
		return;
	s->problems = n;
	s->problems[s->nproblems++] = m->problem;
	m->problem = NULL;
}

static void
problem(struct smod *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
problem(struct smod *m, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	free(m->problem);
	m->problem = msg;
}

size_t
sym_problems(struct symbolizer *s, const char *const **out)
{
	*out = (const char *const *)s->problems;
	return s->nproblems;
}

static void
no_debuginfod(void)
{
	/* A lookup must never wait on the network. */
	unsetenv("DEBUGINFOD_URLS");
	elf_version(EV_CURRENT);
}

static struct symbolizer *
new_symbolizer(const Dwfl_Callbacks *cb)
{
	struct symbolizer *s = calloc(1, sizeof(*s));

	no_debuginfod();
	if (!s)
		return NULL;
	s->dwfl = dwfl_begin(cb);
	if (!s->dwfl) {
		free(s);
		return NULL;
	}
	return s;
}

/* Opens path read-only if it is a regular file; -1 otherwise (errno set). */
static int
open_regular(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

/* The GNU build-id of the ELF file open at fd, as hex; "" if none; NULL if
 * the file is not ELF. */
static char *
file_build_id(int fd)
{
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	const void *id;
	ssize_t n;
	char *hex;

	if (!elf)
		return NULL;
	if (elf_kind(elf) != ELF_K_ELF) {
		elf_end(elf);
		return NULL;
	}
	n = dwelf_elf_gnu_build_id(elf, &id);
	hex = malloc(n > 0 ? (size_t)n * 2 + 1 : 1);
	if (hex) {
		hex[0] = '\0';
		for (ssize_t i = 0; i < n; i++)
			sprintf(hex + 2 * i, "%02x", ((const unsigned char *)id)[i]);
	}
	elf_end(elf);
	return hex;
}

static const char *
base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s && s[1] ? s + 1 : p;
}

/* Reports m to libdwfl from file (the module's path or its debug file);
 * returns true on success. Caller is inside dwfl_report_begin_add/end. */
static bool
report_file(struct symbolizer *s, struct smod *m, const char *file, bool *mismatch,
	    char **disk_id)
{
	int fd = open_regular(file);
	char *id;
	Dwfl_Module *mod;
	void **ud;

	*mismatch = false;
	if (fd < 0)
		return false;
	id = file_build_id(fd);
	if (!id) {
		close(fd);
		return false;
	}
	if (m->build_id[0] && strcasecmp(id, m->build_id) != 0) {
		*mismatch = true;
		if (disk_id && !*disk_id)
			*disk_id = id;
		else
			free(id);
		close(fd);
		return false;
	}
	free(id);
	mod = dwfl_report_elf(s->dwfl, base_name(m->path), file, fd, m->base, false);
	if (!mod) {
		close(fd);
		return false;
	}
	dwfl_module_info(mod, &ud, NULL, NULL, NULL, NULL, NULL, NULL);
	*ud = m;
	m->mod = mod;
	return true;
}

static void
report_module(struct symbolizer *s, struct smod *m)
{
	char debugfile[512];
	char *disk_id = NULL;
	bool mismatch = false, mismatch2 = false;
	int err;

	if (report_file(s, m, m->path, &mismatch, &disk_id)) {
		m->status = SYM_OK;
		return;
	}
	err = errno;
	/* The separate debug file of the recorded build, if installed. */
	if (strlen(m->build_id) > 2 &&
	    (size_t)snprintf(debugfile, sizeof(debugfile), "/usr/lib/debug/.build-id/%.2s/%s.debug",
			     m->build_id, m->build_id + 2) < sizeof(debugfile) &&
	    report_file(s, m, debugfile, &mismatch2, NULL)) {
		m->status = SYM_OK;
		free(disk_id);
		return;
	}
	if (mismatch) {
		m->status = SYM_MISMATCH;
		problem(m, "%s: the file is another build than the one that ran (build-id %s "
			   "on disk, %s in the log): its frames are not symbolized",
			m->path, disk_id ? disk_id : "?", m->build_id);
	} else if (access(m->path, F_OK) != 0) {
		m->status = SYM_MISSING;
		problem(m, "%s: %s: its frames are not symbolized", m->path, strerror(err));
	} else {
		m->status = SYM_UNREADABLE;
		problem(m, "%s: not an ELF file libdwfl can use (%s): its frames are not "
			   "symbolized",
			m->path, dwfl_errmsg(-1));
	}
	free(disk_id);
}

void
sym_add_modules(struct symbolizer *s, const struct sym_module *mods, size_t n)
{
	struct smod **nm;

	if (!s || s->live || n == 0)
		return;
	nm = realloc(s->mods, (s->nmods + n) * sizeof(*nm));
	if (!nm)
		return;
	s->mods = nm;
	dwfl_report_begin_add(s->dwfl);
	for (size_t i = 0; i < n; i++) {
		struct smod *m = calloc(1, sizeof(*m));

		if (!m)
			break;
		m->path = strdup(mods[i].path ? mods[i].path : "");
		m->build_id = strdup(mods[i].build_id ? mods[i].build_id : "");
		if (!m->path || !m->build_id) {
			free(m->path);
			free(m->build_id);
			free(m);
			break;
		}
		m->base = mods[i].base;
		m->start = mods[i].start;
		m->end = mods[i].end;
		s->mods[s->nmods++] = m;
		report_module(s, m);
	}
	dwfl_report_end(s->dwfl, NULL, NULL);
}

struct symbolizer *
sym_open_modules(const struct sym_module *mods, size_t n)
{
	struct symbolizer *s = new_symbolizer(&offline_callbacks);

	if (s)
		sym_add_modules(s, mods, n);
	return s;
}

struct symbolizer *
sym_open_pid(pid_t pid, char *err, size_t errsz)
{
	struct symbolizer *s = new_symbolizer(&live_callbacks);
	int rc;

	if (!s) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	s->live = true;
	dwfl_report_begin(s->dwfl);
	rc = dwfl_linux_proc_report(s->dwfl, pid);
	dwfl_report_end(s->dwfl, NULL, NULL);
	if (rc != 0) {
		snprintf(err, errsz, "%s",
			 rc > 0 ? strerror(rc) : dwfl_errmsg(-1));
		sym_free(s);
		return NULL;
	}
	return s;
}

void
sym_free(struct symbolizer *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nmods; i++) {
		free(s->mods[i]->path);
		free(s->mods[i]->build_id);
		free(s->mods[i]->vars);
		free(s->mods[i]->problem);
		free(s->mods[i]);
	}
	free(s->mods);
	for (size_t i = 0; i < s->nproblems; i++)
		free(s->problems[i]);
	free(s->problems);
	for (size_t i = 0; i < s->nstrings; i++)
		free(s->strings[i]);
	free(s->strings);
	for (size_t i = 0; i < s->capcache; i++)
		free(s->cache[i].f);
	free(s->cache);
	dwfl_end(s->dwfl);
	free(s);
}

/* The module containing addr; with none, *failed is a module we could not
 * use whose recorded range holds addr, if any. */
static Dwfl_Module *
find_module(struct symbolizer *s, uint64_t addr, struct smod **failed)
{
	Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, addr);

	*failed = NULL;
	if (mod)
		return mod;
	for (size_t i = 0; i < s->nmods; i++) {
		struct smod *m = s->mods[i];

		if (m->status != SYM_OK && m->start < m->end && addr >= m->start && addr < m->end) {
			*failed = m;
			say_problem(s, m);
			break;
		}
	}
	return NULL;
}

static const char *
module_path(Dwfl_Module *mod)
{
	void **ud;
	const char *name, *mainfile = NULL;
	struct smod *m;

	name = dwfl_module_info(mod, &ud, NULL, NULL, NULL, NULL, &mainfile, NULL);
	m = ud ? *ud : NULL;
	if (m)
		return m->path;
	return mainfile ? mainfile : name;
}

/* The name of a DIE, through DW_AT_abstract_origin and DW_AT_specification. */
static const char *
die_name(Dwarf_Die *die)
{
	Dwarf_Attribute a;

	if (dwarf_attr_integrate(die, DW_AT_name, &a))
		return dwarf_formstring(&a);
	return NULL;
}


/* A C++ (Itanium ABI) name made readable, as gdb and eu-stack show it:
 * `_ZN4bank8transferERNS_7AccountES1_l` is
 * `bank::transfer(bank::Account&, bank::Account&, long)`. Anything else,
 * or a name the demangler refuses, comes back as it is. */
static const char *
demangle(struct symbolizer *s, const char *name)
{
	const char *d;
	char *r;

	if (!name || strncmp(name, "_Z", 2) != 0)
		return name;
	r = cplus_demangle_v3(name, DMGL_PARAMS | DMGL_ANSI);
	if (!r)
		return name;
	d = own(s, r);
	return d ? d : name;
}

/* A function's or variable's name, qualified for C++ (the demangled linkage
 * name: namespaces, classes, parameter types); for C, DW_AT_name. */
static const char *
qualified_name(struct symbolizer *s, Dwarf_Die *die)
{
	Dwarf_Attribute a;
	const char *n = NULL;

	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &a) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a))
		n = dwarf_formstring(&a);
	if (n) {
		const char *d = demangle(s, n);

		if (d != n)
			return d;
	}
	return die_name(die);
}

/* file made absolute against dir (a compilation directory). */
static const char *
abs_path(struct symbolizer *s, const char *dir, const char *file)
{
	if (!file || file[0] == '/' || !dir || dir[0] != '/')
		return file;
	while (file[0] == '.' && file[1] == '/')
		file += 2;
	return own(s, xjoin(dir, file));
}

static const char *
comp_dir(Dwarf_Die *cudie)
{
	Dwarf_Attribute a;

	return cudie && dwarf_attr(cudie, DW_AT_comp_dir, &a) ? dwarf_formstring(&a) : NULL;
}

static const char *
call_file(Dwarf_Die *cudie, Dwarf_Die *die)
{
	Dwarf_Attribute a;
	Dwarf_Word idx;
	Dwarf_Files *files;
	size_t nfiles;

	if (!dwarf_attr(die, DW_AT_call_file, &a) || dwarf_formudata(&a, &idx) != 0)
		return NULL;
	if (dwarf_getsrcfiles(cudie, &files, &nfiles) != 0 || idx >= nfiles)
		return NULL;
	return dwarf_filesrc(files, idx, NULL, NULL);
}

static int
attr_int(Dwarf_Die *die, int name)
{
	Dwarf_Attribute a;
	Dwarf_Word w;

	if (!dwarf_attr(die, name, &a) || dwarf_formudata(&a, &w) != 0 || w > INT32_MAX)
		return 0;
	return (int)w;
}

/*
 * The compilation unit whose code holds addr, found through the units' own
 * address ranges. libdw 0.188 finds a unit by address only through
 * .debug_aranges, which clang does not emit unless asked
 * (-gdwarf-aranges): without this, code built by clang has no lines.
 */
static Dwarf_Die *
cu_by_ranges(Dwfl_Module *mod, Dwarf_Addr addr, Dwarf_Addr *bias)
{
	Dwarf_Die *cu = NULL;

	while ((cu = dwfl_module_nextcu(mod, cu, bias)) != NULL)
		if (dwarf_haspc(cu, addr - *bias) == 1)
			return cu;
	return NULL;
}

static void
lookup_code(struct symbolizer *s, uint64_t addr, bool ret, struct sym_frame *f)
{
	uint64_t look = ret && addr ? addr - 1 : addr;
	struct smod *failed;
	Dwfl_Module *mod;
	GElf_Off off = 0;
	GElf_Sym sym;
	Dwarf_Addr bias = 0, dbias = 0;
	Dwarf_Die *cudie, *scopes = NULL;
	Dwfl_Line *line;
	struct sym_line pos = {0};
	const char *raw;
	int nscopes;

	memset(f, 0, sizeof(*f));
	f->addr = addr;
	mod = find_module(s, look, &failed);
	if (!mod) {
		f->status = failed ? failed->status : SYM_NO_MODULE;
		if (failed) {
			f->module = failed->path;
			f->module_offset = addr - failed->base;
		}
		return;
	}
	f->status = SYM_OK;
	f->module = module_path(mod);
	if (dwfl_module_getelf(mod, &bias))
		f->module_offset = addr - bias;
	raw = dwfl_module_addrinfo(mod, look, &off, &sym, NULL, NULL, NULL);
	f->symbol = demangle(s, raw);
	if (f->symbol)
		f->symbol_offset = off + (look != addr);
	line = dwfl_module_getsrc(mod, look);
	if (line)
		pos.file = dwfl_lineinfo(line, NULL, &pos.line, &pos.column, NULL, NULL);
	cudie = dwfl_module_addrdie(mod, look, &dbias);
	if (!cudie && (cudie = cu_by_ranges(mod, look, &dbias)) != NULL && !line) {
		Dwarf_Line *dl = dwarf_getsrc_die(cudie, look - dbias);

		if (dl) {
			pos.file = dwarf_linesrc(dl, NULL, NULL);
			dwarf_lineno(dl, &pos.line);
			dwarf_linecol(dl, &pos.column);
		}
	}
	pos.file = abs_path(s, line ? dwfl_line_comp_dir(line) : comp_dir(cudie), pos.file);
	nscopes = cudie ? dwarf_getscopes(cudie, look - dbias, &scopes) : -1;
	for (int i = 0; i < nscopes; i++) {
		int tag = dwarf_tag(&scopes[i]);
		Dwarf_Die *chain = NULL;
		int nchain;

		if (tag != DW_TAG_subprogram && tag != DW_TAG_inlined_subroutine)
			continue;
		/* The innermost function; its callers through the concrete tree (as
		 * eu-addr2line -i: dwarf_getscopes follows abstract origins). */
		nchain = dwarf_getscopes_die(&scopes[i], &chain);
		for (int k = 0; k < nchain && f->ninl < SYM_INLINE_MAX; k++) {
			int t = dwarf_tag(&chain[k]);

			if (t != DW_TAG_subprogram && t != DW_TAG_inlined_subroutine)
				continue;
			pos.function = qualified_name(s, &chain[k]);
			f->inl[f->ninl++] = pos;
			if (t == DW_TAG_subprogram)
				break;
			pos.file = abs_path(s, comp_dir(cudie), call_file(cudie, &chain[k]));
			pos.line = attr_int(&chain[k], DW_AT_call_line);
			pos.column = attr_int(&chain[k], DW_AT_call_column);
		}
		free(chain);
		break;
	}
	free(scopes);
	if (f->ninl == 0 && (f->symbol || pos.file)) {
		pos.function = f->symbol;
		f->inl[f->ninl++] = pos;
	}
	/* The real function's name: the ELF symbol knows it best, and for C++
	 * fully (DWARF leaves the qualification out of some: lambdas, members
	 * of templates). */
	if (f->ninl > 0 && (!f->inl[f->ninl - 1].function || (f->symbol && f->symbol != raw)))
		f->inl[f->ninl - 1].function = f->symbol;
}

void
sym_code(struct symbolizer *s, uint64_t addr, bool return_address, struct sym_frame *out)
{
	uint64_t key = addr << 1 | return_address;
	size_t i;

	if (s->capcache) {
		for (i = (key * 0x9e3779b97f4a7c15ull >> 20) & (s->capcache - 1); s->cache[i].f;
		     i = (i + 1) & (s->capcache - 1)) {
			if (s->cache[i].key == key) {
				*out = *s->cache[i].f;
				return;
			}
		}
	}
	lookup_code(s, addr, return_address, out);
	if ((s->usedcache + 1) * 2 > s->capcache) {
		size_t ncap = s->capcache ? s->capcache * 2 : 256;
		struct cached *n = calloc(ncap, sizeof(*n));

		if (!n)
			return;
		for (size_t j = 0; j < s->capcache; j++) {
			if (!s->cache[j].f)
				continue;
			for (i = (s->cache[j].key * 0x9e3779b97f4a7c15ull >> 20) & (ncap - 1);
			     n[i].f; i = (i + 1) & (ncap - 1))
				;
			n[i] = s->cache[j];
		}
		free(s->cache);
		s->cache = n;
		s->capcache = ncap;
	}
	for (i = (key * 0x9e3779b97f4a7c15ull >> 20) & (s->capcache - 1); s->cache[i].f;
	     i = (i + 1) & (s->capcache - 1))
		;
	s->cache[i].f = malloc(sizeof(*out));
	if (!s->cache[i].f)
		return;
	*s->cache[i].f = *out;
	s->cache[i].key = key;
	s->usedcache++;
}

/* ---- data: variables from DWARF ---------------------------------------- */

static bool
type_of(Dwarf_Die *die, Dwarf_Die *out)
{
	Dwarf_Attribute a;

	return dwarf_attr_integrate(die, DW_AT_type, &a) && dwarf_formref_die(&a, out);
}

static void
add_var(struct smod *m, size_t *cap, Dwarf_Die *die)
{
	Dwarf_Attribute a;
	Dwarf_Op *expr;
	size_t len;
	Dwarf_Die type;
	Dwarf_Word size = 1;

	if (dwarf_hasattr(die, DW_AT_declaration) || !dwarf_attr(die, DW_AT_location, &a))
		return;
	if (dwarf_getlocation(&a, &expr, &len) != 0 || len != 1 || expr[0].atom != DW_OP_addr)
		return;
	if (type_of(die, &type) && dwarf_aggregate_size(&type, &size) != 0)
		size = 1;
	if (m->nvars == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		struct var *n = realloc(m->vars, ncap * sizeof(*n));

		if (!n)
			return;
		m->vars = n;
		*cap = ncap;
	}
	m->vars[m->nvars++] = (struct var){expr[0].number, size ? size : 1, dwarf_dieoffset(die)};
}

/* Variables in die's children: file scope, and static locals of functions. */
static void
walk_vars(struct smod *m, size_t *cap, Dwarf_Die *parent, int depth)
{
	Dwarf_Die child;

	if (depth > 8 || dwarf_child(parent, &child) != 0)
		return;
	do {
		switch (dwarf_tag(&child)) {
		case DW_TAG_variable:
			add_var(m, cap, &child);
			break;
		case DW_TAG_subprogram:
		case DW_TAG_lexical_block:
		case DW_TAG_namespace:
			walk_vars(m, cap, &child, depth + 1);
			break;
		default:
			break;
		}
	} while (dwarf_siblingof(&child, &child) == 0);
}

static int
var_cmp(const void *a, const void *b)
{
	const struct var *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void
load_vars(struct smod *m)
{
	Dwarf_Die *cu = NULL;
	Dwarf_Addr bias;
	size_t cap = 0;

	m->vars_loaded = true;
	while ((cu = dwfl_module_nextcu(m->mod, cu, &bias)) != NULL)
		walk_vars(m, &cap, cu, 0);
	if (m->nvars) /* a module without DWARF has none, and vars is NULL */
		qsort(m->vars, m->nvars, sizeof(*m->vars), var_cmp);
}

static const struct var *
find_var(const struct smod *m, uint64_t faddr)
{
	size_t lo = 0, hi = m->nvars;

	/* The last variable starting at or below faddr. */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (m->vars[mid].addr <= faddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t k = lo; k-- > 0 && lo - k <= 8;)
		if (faddr < m->vars[k].addr + m->vars[k].size)
			return &m->vars[k];
	return NULL;
}

static bool
is_lock_type_name(const char *n)
{
	static const char *const names[] = {"pthread_mutex_t", "pthread_rwlock_t",
					    "pthread_spinlock_t", "mtx_t", "sem_t"};

	for (size_t i = 0; n && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(n, names[i]) == 0)
			return true;
	return false;
}

static void
append(char *buf, size_t sz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
append(char *buf, size_t sz, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	if (len + 1 >= sz)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + len, sz - len, fmt, ap);
	va_end(ap);
}

/* Appends the member path of offset off inside a value of type t. */
static void
member_path(Dwarf_Die *t, uint64_t off, char *buf, size_t sz)
{
	Dwarf_Die type = *t, child;

	for (int depth = 0; depth < 32; depth++) {
		int tag = dwarf_tag(&type);

		if (tag == DW_TAG_typedef || tag == DW_TAG_const_type ||
		    tag == DW_TAG_volatile_type || tag == DW_TAG_restrict_type ||
		    tag == DW_TAG_atomic_type) {
			if (off == 0 && tag == DW_TAG_typedef && is_lock_type_name(die_name(&type)))
				return;
			if (!type_of(&type, &type))
				break;
			continue;
		}
		if (tag == DW_TAG_structure_type || tag == DW_TAG_class_type) {
			bool found = false;

			if (dwarf_child(&type, &child) != 0)
				break;
			do {
				Dwarf_Attribute a;
				Dwarf_Word mo, msize;
				Dwarf_Die mt;

				if (dwarf_tag(&child) != DW_TAG_member ||
				    !dwarf_attr(&child, DW_AT_data_member_location, &a) ||
				    dwarf_formudata(&a, &mo) != 0 || !type_of(&child, &mt) ||
				    dwarf_aggregate_size(&mt, &msize) != 0)
					continue;
				if (off >= mo && off < mo + msize) {
					const char *n = die_name(&child);

					append(buf, sz, ".%s", n ? n : "?");
					off -= mo;
					type = mt;
					found = true;
					break;
				}
			} while (dwarf_siblingof(&child, &child) == 0);
			if (!found)
				break;
			continue;
		}
		if (tag == DW_TAG_array_type) {
			Dwarf_Die et;
			Dwarf_Word esize;

			if (!type_of(&type, &et) || dwarf_aggregate_size(&et, &esize) != 0 ||
			    esize == 0)
				break;
			append(buf, sz, "[%" PRIu64 "]", off / esize);
			off %= esize;
			type = et;
			continue;
		}
		break; /* a union (the lock itself), a base type: stop here */
	}
	if (off)
		append(buf, sz, "+0x%" PRIx64, off);
}

/* Our record of mod; a live module gets one on first use. */
static struct smod *
module_record(struct symbolizer *s, Dwfl_Module *mod, const char *path)
{
	void **ud;
	struct smod *m;

	dwfl_module_info(mod, &ud, NULL, NULL, NULL, NULL, NULL, NULL);
	m = ud ? *ud : NULL;
	if (!m) {
		struct smod **n;

		m = calloc(1, sizeof(*m));
		n = m ? realloc(s->mods, (s->nmods + 1) * sizeof(*n)) : NULL;
		if (!n) {
			free(m);
			return NULL;
		}
		s->mods = n;
		s->mods[s->nmods++] = m;
		m->path = strdup(path ? path : "");
		m->build_id = strdup("");
		m->mod = mod;
		*ud = m;
	}
	return m;
}

void
sym_data(struct symbolizer *s, uint64_t addr, struct sym_data *out)
{
	struct smod *failed, *m = NULL;
	Dwfl_Module *mod;
	GElf_Off off = 0;
	GElf_Sym sym;
	Dwarf_Addr bias = 0;

	memset(out, 0, sizeof(*out));
	mod = find_module(s, addr, &failed);
	if (!mod) {
		out->status = failed ? failed->status : SYM_NO_MODULE;
		out->module = failed ? failed->path : NULL;
		return;
	}
	out->module = module_path(mod);
	out->symbol = demangle(s, dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL));
	out->symbol_offset = off;
	m = module_record(s, mod, out->module);
	if (m && !m->vars_loaded)
		load_vars(m);
	if (m && dwfl_module_getdwarf(mod, &bias)) {
		const struct var *v = find_var(m, addr - bias);
		Dwarf *dw = dwfl_module_getdwarf(mod, &bias);
		Dwarf_Die die, type;

		if (v && dwarf_offdie(dw, v->die, &die)) {
			char buf[512];
			const char *n = qualified_name(s, &die);
			Dwarf_Attribute a;
			Dwarf_Files *files;
			size_t nf;
			Dwarf_Die cu;

			snprintf(buf, sizeof(buf), "%s", n ? n : "?");
			if (type_of(&die, &type))
				member_path(&type, addr - bias - v->addr, buf, sizeof(buf));
			out->name = own(s, strdup(buf));
			out->decl_line = attr_int(&die, DW_AT_decl_line);
			if (dwarf_attr_integrate(&die, DW_AT_decl_file, &a) && dwarf_diecu(&die, &cu, NULL, NULL)) {
				Dwarf_Word idx;

				if (dwarf_formudata(&a, &idx) == 0 &&
				    dwarf_getsrcfiles(&cu, &files, &nf) == 0 && idx < nf)
					out->decl_file = dwarf_filesrc(files, idx, NULL, NULL);
			}
		}
	}
	out->status = SYM_OK;
}

struct Dwfl *
sym_dwfl(struct symbolizer *s)
{
	return s->dwfl;
}

/* ---- every static lock ------------------------------------------------- */

struct lock_walk {
	void (*fn)(void *arg, uint64_t addr, enum sym_lock_kind kind);
	void *arg;
	size_t found, max;
};

/* Reports the locks inside a value of type t at addr. */
static void
walk_locks(Dwarf_Die *t, uint64_t addr, int depth, struct lock_walk *w)
{
	Dwarf_Die type = *t, child;

	for (int hops = 0; hops < 32 && depth < 16 && w->found < w->max; hops++) {
		int tag = dwarf_tag(&type);

		if (tag == DW_TAG_typedef) {
			const char *n = die_name(&type);

			if (n && (strcmp(n, "pthread_mutex_t") == 0 || strcmp(n, "mtx_t") == 0)) {
				w->found++;
				if (w->fn)
					w->fn(w->arg, addr, SYM_LOCK_MUTEX);
				return;
			}
			if (n && strcmp(n, "pthread_rwlock_t") == 0) {
				w->found++;
				if (w->fn)
					w->fn(w->arg, addr, SYM_LOCK_RWLOCK);
				return;
			}
		}
		if (tag == DW_TAG_typedef || tag == DW_TAG_const_type ||
		    tag == DW_TAG_volatile_type || tag == DW_TAG_atomic_type) {
			if (!type_of(&type, &type))
				return;
			continue;
		}
		if (tag == DW_TAG_structure_type || tag == DW_TAG_class_type) {
			if (dwarf_child(&type, &child) != 0)
				return;
			do {
				Dwarf_Attribute a;
				Dwarf_Word mo;
				Dwarf_Die mt;

				if (dwarf_tag(&child) == DW_TAG_member &&
				    dwarf_attr(&child, DW_AT_data_member_location, &a) &&
				    dwarf_formudata(&a, &mo) == 0 && type_of(&child, &mt))
					walk_locks(&mt, addr + mo, depth + 1, w);
			} while (w->found < w->max && dwarf_siblingof(&child, &child) == 0);
			return;
		}
		if (tag == DW_TAG_array_type) {
			Dwarf_Die et;
			Dwarf_Word esize, total;
			struct lock_walk probe = {NULL, NULL, 0, 1};

			if (!type_of(&type, &et) || dwarf_aggregate_size(&et, &esize) != 0 ||
			    esize == 0 || dwarf_aggregate_size(&type, &total) != 0)
				return;
			/* An array of things without locks costs one look. */
			walk_locks(&et, addr, depth + 1, &probe);
			if (!probe.found)
				return;
			for (Dwarf_Word k = 0; k < total / esize && k < 65536 && w->found < w->max;
			     k++)
				walk_locks(&et, addr + k * esize, depth + 1, w);
			return;
		}
		return; /* unions, pointers, base types */
	}
}

struct mod_list {
	Dwfl_Module **v;
	size_t n, cap;
};

static int
list_module(Dwfl_Module *mod, void **ud, const char *name, Dwarf_Addr start, void *arg)
{
	struct mod_list *l = arg;

	(void)ud;
	(void)name;
	(void)start;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		Dwfl_Module **n = realloc(l->v, cap * sizeof(*n));

		if (!n)
			return DWARF_CB_ABORT;
		l->v = n;
		l->cap = cap;
	}
	l->v[l->n++] = mod;
	return DWARF_CB_OK;
}

size_t
sym_static_locks(struct symbolizer *s, bool (*skip)(const char *path),
		 void (*fn)(void *arg, uint64_t addr, enum sym_lock_kind kind), void *arg,
		 size_t max)
{
	struct mod_list l = {0};
	struct lock_walk w = {fn, arg, 0, max};

	dwfl_getmodules(s->dwfl, list_module, &l, 0);
	for (size_t i = 0; i < l.n && w.found < max; i++) {
		const char *path = module_path(l.v[i]);
		struct smod *m;
		Dwarf_Addr bias;
		Dwarf *dw;

		if (!path || (skip && skip(path)))
			continue;
		m = module_record(s, l.v[i], path);
		if (!m)
			continue;
		if (!m->vars_loaded)
			load_vars(m);
		dw = dwfl_module_getdwarf(l.v[i], &bias);
		for (size_t k = 0; dw && k < m->nvars && w.found < max; k++) {
			Dwarf_Die die, type;

			if (dwarf_offdie(dw, m->vars[k].die, &die) && type_of(&die, &type))
				walk_locks(&type, m->vars[k].addr + bias, 0, &w);
		}
	}
	free(l.v);
	return w.found;
}
