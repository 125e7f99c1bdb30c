/*
 * Helpers that turn records into findings (see finding.h): symbolized
 * stacks, lock names, sites, and the text layout every subcommand prints.
 * A process's symbolizer is made on first use and kept with the process
 * (logproc.sym) until proc_symbolizers_free().
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finding.h"
#include "../lib/lockhound-private.h"

bool finding_symbolize = true;

static void
oom(void)
{
	fputs("lockhound: out of memory\n", stderr);
	exit(2);
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		oom();
	va_end(ap);
	return s;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

char *
xstrdup0(const char *s)
{
	char *r = strdup(s ? s : "");

	if (!r)
		oom();
	return r;
}

static const char *
base_name(const char *p)
{
	const char *s = p ? strrchr(p, '/') : NULL;

	return s && s[1] ? s + 1 : p;
}

struct symbolizer *
proc_symbolizer(struct logproc *p)
{
	struct sym_module *mods;

	if (!finding_symbolize)
		return NULL;
	if (p->sym)
		return p->sym;
	mods = xcalloc(p->nmodules, sizeof(*mods));
	for (size_t i = 0; i < p->nmodules; i++)
		mods[i] = (struct sym_module){p->modules[i].path, p->modules[i].build_id,
					      p->modules[i].base, p->modules[i].start,
					      p->modules[i].end};
	p->sym = sym_open_modules(mods, p->nmodules);
	free(mods);
	return p->sym;
}

void
proc_symbolizers_free(struct logfile *f)
{
	for (size_t i = 0; f && i < f->nprocs; i++) {
		sym_free(f->procs[i]->sym);
		f->procs[i]->sym = NULL;
	}
}

/* Appends the symbolized frames of one log frame to v. */
static void
expand_frame(struct logproc *p, const struct logframe *lf, struct fframe **v, size_t *n,
	     size_t *cap)
{
	struct symbolizer *s = proc_symbolizer(p);
	const struct logmodule *m = lf->module >= 0 ? logproc_module(p, lf->module) : NULL;
	uint64_t addr = m ? m->base + lf->offset : lf->pc;
	struct sym_frame sf;
	int k;

	if (s) {
		sym_code(s, addr, true, &sf);
	} else {
		memset(&sf, 0, sizeof(sf));
		sf.status = m ? SYM_OK : SYM_NO_MODULE;
		sf.addr = addr;
	}
	if (m) {
		/* The log's own account of where the frame is wins. */
		sf.module = sf.module ? sf.module : m->path;
		sf.module_offset = lf->offset;
	}
	for (k = 0; k < (sf.ninl ? sf.ninl : 1); k++) {
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 16;
			*v = realloc(*v, *cap * sizeof(**v));
			if (!*v)
				oom();
		}
		fframe_set(&(*v)[(*n)++], lf->pc, &sf, k);
	}
}

void
fframe_set(struct fframe *fr, uint64_t pc, const struct sym_frame *sf, int k)
{
	memset(fr, 0, sizeof(*fr));
	fr->pc = pc;
	fr->module = sf->module;
	fr->module_offset = sf->module_offset;
	fr->status = sf->status;
	if (sf->ninl) {
		fr->function = sf->inl[k].function;
		fr->file = sf->inl[k].file;
		fr->line = sf->inl[k].line;
		fr->column = sf->inl[k].column;
		fr->inlined = k < sf->ninl - 1;
		if (k == sf->ninl - 1 && sf->symbol && fr->function &&
		    strcmp(sf->symbol, fr->function) == 0)
			fr->function_offset = sf->symbol_offset;
	} else if (sf->symbol) {
		fr->function = sf->symbol;
		fr->function_offset = sf->symbol_offset;
	}
}

struct fstack *
finding_add_stack(struct finding *f, struct logproc *p, const char *label,
		  const struct logframe *frames, size_t n)
{
	struct fstack *s;
	size_t cap = 0;

	f->stacks = realloc(f->stacks, (f->nstacks + 1) * sizeof(*f->stacks));
	if (!f->stacks)
		oom();
	s = &f->stacks[f->nstacks++];
	memset(s, 0, sizeof(*s));
	s->label = xstrdup0(label);
	for (size_t i = 0; i < n; i++)
		expand_frame(p, &frames[i], &s->frames, &s->n, &cap);
	return s;
}

char *
thread_label(uint64_t tid, const char *name)
{
	return name && name[0] ? xasprintf("thread %" PRIu64 " \"%s\"", tid, name)
			       : xasprintf("thread %" PRIu64, tid);
}

char *
lock_display(struct logproc *p, const struct loglock *lk)
{
	struct symbolizer *s = proc_symbolizer(p);
	struct sym_data d = {0};
	const char *type = lk->type && lk->type[0] ? lk->type : "lock";

	if (lk->annotation && lk->annotation[0])
		return xstrdup0(lk->annotation);
	if (s && lk->addr && lk->sym_module >= 0) {
		sym_data(s, lk->addr, &d);
		if (d.status == SYM_OK && d.name)
			return xstrdup0(d.name);
	}
	if (lk->sym_name)
		return lk->sym_offset ? xasprintf("%s+0x%" PRIx64, lk->sym_name, lk->sym_offset)
				      : xstrdup0(lk->sym_name);
	if (lk->has_init) {
		struct fframe *v = NULL;
		size_t n = 0, cap = 0;
		char *where, *r;

		expand_frame(p, &lk->init, &v, &n, &cap);
		where = n ? fframe_where(&v[n - 1], true) : xstrdup0("?");
		r = lk->addr ? xasprintf("%s 0x%" PRIx64 " (made at %s)", type, lk->addr, where)
			     : xasprintf("%s made at %s", type, where);
		free(where);
		free(v);
		return r;
	}
	if (lk->name && lk->name[0])
		return xstrdup0(lk->name);
	return xasprintf("%s 0x%" PRIx64, type, lk->addr);
}

size_t
lock_aliases(struct logproc *p, const struct loglock *lk, char **out, size_t max)
{
	size_t n = 0;
	struct symbolizer *s = proc_symbolizer(p);
	struct sym_data d = {0};

#define ADD(str)                                                                         \
	do {                                                                             \
		if ((str) && *(str) && n < max)                                          \
			out[n++] = xstrdup0(str);                                        \
	} while (0)
	ADD(lk->annotation);
	ADD(lk->name);
	ADD(lk->sym_name);
	if (s && lk->addr && lk->sym_module >= 0) {
		sym_data(s, lk->addr, &d);
		if (d.status == SYM_OK) {
			ADD(d.name);
			ADD(d.symbol);
		}
	}
#undef ADD
	return n;
}

void
finding_add_lock(struct finding *f, struct logproc *p, const struct loglock *lk)
{
	char *al[8];
	size_t na = lock_aliases(p, lk, al, 8);

	f->locks = realloc(f->locks, (f->nlocks + 1) * sizeof(*f->locks));
	f->stable = realloc(f->stable, (f->nlocks + 1) * sizeof(*f->stable));
	f->aliases = realloc(f->aliases, (f->naliases + na + 1) * sizeof(*f->aliases));
	if (!f->locks || !f->aliases || !f->stable)
		oom();
	/* The runtime names a lock by its annotation or its variable's symbol. */
	f->stable[f->nlocks] = lk->annotation && lk->annotation[0] ? xstrdup0(lk->annotation)
			       : lk->sym_name && lk->name && lk->name[0] ? xstrdup0(lk->name)
									: NULL;
	f->locks[f->nlocks++] = lock_display(p, lk);
	f->aliases[f->naliases++] = xstrdup0(f->locks[f->nlocks - 1]);
	for (size_t i = 0; i < na; i++)
		f->aliases[f->naliases++] = al[i];
}

void
finding_free(struct finding *f)
{
	free(f->rule);
	free(f->title);
	free(f->text);
	free(f->advice);
	for (size_t i = 0; i < f->nstacks; i++) {
		free(f->stacks[i].label);
		free(f->stacks[i].frames);
	}
	free(f->stacks);
	for (size_t i = 0; i < f->nlocks; i++) {
		free(f->locks[i]);
		free(f->stable[i]);
	}
	free(f->locks);
	free(f->stable);
	for (size_t i = 0; i < f->naliases; i++)
		free(f->aliases[i]);
	free(f->aliases);
	memset(f, 0, sizeof(*f));
}

static bool
is_runtime(const char *module)
{
	const char *b = base_name(module);

	return b && strncmp(b, "liblockhound", 12) == 0;
}

const struct fframe *
fstack_site(const struct fstack *s)
{
	if (!s || s->n == 0)
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		if (s->frames[i].file && s->frames[i].line > 0 && !is_runtime(s->frames[i].module))
			return &s->frames[i];
	for (size_t i = 0; i < s->n; i++)
		if (s->frames[i].function && !is_runtime(s->frames[i].module))
			return &s->frames[i];
	return &s->frames[0];
}

char *
fframe_where(const struct fframe *fr, bool func)
{
	if (!fr)
		return xstrdup0("an unknown place");
	if (fr->file && fr->line > 0) {
		if (func && fr->function)
			return xasprintf("%s:%d in %s", base_name(fr->file), fr->line, fr->function);
		return xasprintf("%s:%d", base_name(fr->file), fr->line);
	}
	if (fr->function)
		return xasprintf("%s+0x%" PRIx64 " (%s)", fr->function, fr->function_offset,
				 fr->module ? base_name(fr->module) : "?");
	if (fr->module)
		return xasprintf("0x%" PRIx64 " (%s+0x%" PRIx64 ")", fr->pc, base_name(fr->module),
				 fr->module_offset);
	return xasprintf("0x%" PRIx64, fr->pc);
}

static bool
is_entry_point(const char *fn)
{
	static const char *const entries[] = {"start_thread", "__libc_start_call_main",
					      "__libc_start_main", "_start", "clone",
					      "clone3", "__clone3"};

	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
		if (strcmp(fn, entries[i]) == 0)
			return true;
	return false;
}

char *
fstack_where(const struct fstack *s)
{
	const struct fframe *site = fstack_site(s), *caller = NULL;
	char *w = fframe_where(site, true), *c, *r;

	if (!site)
		return w;
	for (const struct fframe *fr = site + 1; fr < s->frames + s->n; fr++) {
		if (fr[-1].inlined || !fr->function)
			continue; /* the same call, inlined */
		caller = fr;
		break;
	}
	/* The real function of the site's call (its last inlined frame). A
	 * thread's or the process's entry in libc says nothing: left out. */
	if (!caller || !caller->file || is_entry_point(caller->function))
		return w;
	c = fframe_where(caller, false);
	r = xasprintf("%s (called from %s at %s)", w, caller->function, c);
	free(c);
	free(w);
	return r;
}

void
print_wrapped(FILE *out, const char *indent, const char *text)
{
	const char *p = text;
	size_t width = 78, ind = strlen(indent);

	while (*p) {
		size_t col = ind, take = 0, last_space = 0;

		while (p[take] && p[take] != '\n') {
			if (p[take] == ' ')
				last_space = take;
			if (col + take >= width && last_space)
				break;
			take++;
		}
		if (p[take] && p[take] != '\n' && last_space)
			take = last_space;
		fprintf(out, "%s%.*s\n", indent, (int)take, p);
		p += take;
		while (*p == ' ')
			p++;
		if (*p == '\n')
			p++;
	}
}

void
print_stack(FILE *out, const char *indent, const struct fstack *s)
{
	int k = 0;

	if (s->n == 0) {
		fprintf(out, "%s(no stack in the log)\n", indent);
		return;
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct fframe *fr = &s->frames[i];

		if (fr->inlined)
			fprintf(out, "%s    ", indent);
		else
			fprintf(out, "%s#%-3d", indent, k++);
		fprintf(out, "%s", fr->function ? fr->function : "??");
		if (fr->file && fr->line > 0)
			fprintf(out, " at %s:%d", fr->file, fr->line);
		if (fr->inlined)
			fprintf(out, " (inlined)");
		else if (fr->module)
			fprintf(out, " (%s+0x%" PRIx64 ")", base_name(fr->module), fr->module_offset);
		else
			fprintf(out, " (0x%" PRIx64 ")", fr->pc);
		if (fr->status != SYM_OK && fr->status != SYM_NO_MODULE)
			fprintf(out, " [%s]", sym_status_text(fr->status));
		fputc('\n', out);
	}
	if (s->partial)
		fprintf(out, "%s(only the caller is known: the function that took the lock "
			     "had returned)\n",
			indent);
}

void
print_finding_text(FILE *out, const struct finding *f)
{
	fprintf(out, "lockhound: %s: %s\n", f->kind, f->title);
	if (f->text)
		print_wrapped(out, "  ", f->text);
	if (f->advice) {
		char *a = xasprintf("What to change: %s", f->advice);

		print_wrapped(out, "  ", a);
		free(a);
	}
	for (size_t i = 0; i < f->nstacks; i++) {
		fprintf(out, "\n  %s\n", f->stacks[i].label);
		print_stack(out, "    ", &f->stacks[i]);
	}
	fputc('\n', out);
}

void
fput_json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\t': fputs("\\t", out); break;
		case '\r': fputs("\\r", out); break;
		default:
			if (*p < 0x20)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

/* ---- inputs and suppressions ------------------------------------------- */

struct logfile **
load_logs(char *const *paths, size_t n)
{
	struct logfile **logs = xcalloc(n, sizeof(*logs));

	for (size_t i = 0; i < n; i++) {
		struct logerror err;

		logs[i] = logfile_read(paths[i], &err);
		if (!logs[i]) {
			logerror_print(paths[i], &err);
			free_logs(logs, i);
			return NULL;
		}
		if (logs[i]->truncated)
			fprintf(stderr,
				"lockhound: %s:%u: warning: the log is cut short in this record; "
				"the %zu whole records before it are read\n",
				paths[i], logs[i]->cut_line, logs[i]->nlines);
	}
	return logs;
}

void
free_logs(struct logfile **logs, size_t n)
{
	for (size_t i = 0; logs && i < n; i++) {
		proc_symbolizers_free(logs[i]);
		logfile_free(logs[i]);
	}
	free(logs);
}

bool
load_suppressions(struct lh_suppressions *s, const char *path)
{
	char err[160];
	unsigned line = 0;

	if (lh_supp_load(s, path, err, sizeof(err), &line) == 0)
		return true;
	if (line)
		fprintf(stderr, "lockhound: %s:%u: %s\n", path, line, err);
	else
		fprintf(stderr, "lockhound: %s: %s\n", path, err);
	return false;
}

static bool
finding_any(void *arg, int type, const char *pattern)
{
	const struct finding *f = arg;

	if (type == LH_SUPP_LOCK) {
		for (size_t i = 0; i < f->naliases; i++)
			if (lh_supp_glob(pattern, f->aliases[i]))
				return true;
		return false;
	}
	for (size_t i = 0; i < f->nstacks; i++) {
		for (size_t k = 0; k < f->stacks[i].n; k++) {
			const struct fframe *fr = &f->stacks[i].frames[k];

			if (type == LH_SUPP_FUNCTION && fr->function &&
			    lh_supp_glob(pattern, fr->function))
				return true;
			if (type == LH_SUPP_FILE && fr->file &&
			    (lh_supp_glob(pattern, fr->file) ||
			     lh_supp_glob(pattern, base_name(fr->file))))
				return true;
		}
	}
	return false;
}

bool
finding_suppressed(const struct lh_suppressions *s, const struct finding *f)
{
	return s && s->n && lh_supp_match(s, f->kind, finding_any, (void *)f) != NULL;
}

/* A name as a pattern: glob characters quoted, white space as '?'. */
static char *
as_pattern(const char *name)
{
	size_t n = strlen(name);
	char *r = xcalloc(2 * n + 1, 1), *o = r;

	for (const char *p = name; *p; p++) {
		if (*p == '*' || *p == '?' || *p == '\\')
			*o++ = '\\';
		*o++ = (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '#') ? '?'
											     : *p;
	}
	return r;
}

void
write_suppressions(FILE *out, struct finding *const *fs, size_t n)
{
	char **seen = xcalloc(n, sizeof(*seen));
	size_t nseen = 0;

	fprintf(out, "# lockhound suppressions, written by lockhound explain --suppressions-out.\n"
		     "# One rule per line; all conditions of a rule must hold (lockhound(1)).\n");
	for (size_t i = 0; i < n; i++) {
		const struct finding *f = fs[i];
		char *rule = xasprintf("kind:%s", f->kind), *pat;
		bool named = false;

		for (size_t k = 0; k < f->nlocks; k++) {
			char *old = rule;

			if (!f->stable[k])
				continue;
			pat = as_pattern(f->stable[k]);
			rule = xasprintf("%s lock:%s", old, pat);
			free(old);
			free(pat);
			named = true;
		}
		if (!named && f->nstacks) {
			const struct fframe *site = fstack_site(&f->stacks[f->primary]);

			if (site && site->function) {
				char *old = rule;

				pat = as_pattern(site->function);
				rule = xasprintf("%s function:%s", old, pat);
				free(old);
				free(pat);
			}
		}
		for (size_t k = 0; k < nseen && rule; k++) {
			if (strcmp(seen[k], rule) == 0) {
				free(rule);
				rule = NULL;
			}
		}
		if (!rule)
			continue;
		fprintf(out, "# %s:%u: %s\n%s\n", f->file ? f->file : "?", f->line, f->title, rule);
		seen[nseen++] = rule;
	}
	for (size_t k = 0; k < nseen; k++)
		free(seen[k]);
	free(seen);
}

void
report_sym_problems(struct logfile **logs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < logs[i]->nprocs; k++) {
			const char *const *msgs;
			struct logproc *p = logs[i]->procs[k];
			size_t np = p->sym ? sym_problems(p->sym, &msgs) : 0;

			for (size_t j = 0; j < np; j++)
				fprintf(stderr, "lockhound: %s:%u: note: %s\n", logs[i]->path,
					p->header_line, msgs[j]);
		}
	}
}
