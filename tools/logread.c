/*
 * The record layer (see logread.h): splits a log into lines, parses each
 * with the bounded JSON parser, checks and decodes the records it knows and
 * keeps the others whole. Streams the file in 64 KiB reads; memory grows
 * with the records kept, never with a single line past LOGREAD_MAX_LINE.
 * Single-threaded; used by every offline subcommand and by the fuzzer.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logread.h"

/* ---- (pid, id) -> pointer -------------------------------------------- */

struct idmap {
	struct idslot {
		uint64_t pid, id;
		void *p;
	} *slots;
	size_t cap, used;
};

static size_t
idhash(uint64_t pid, uint64_t id)
{
	uint64_t h = (id * 0x9e3779b97f4a7c15ull) ^ (pid * 0xbf58476d1ce4e5b9ull);

	return (size_t)(h ^ (h >> 29));
}

static void *
idmap_get(const struct idmap *m, uint64_t pid, uint64_t id)
{
	if (!m || !m->cap)
		return NULL;
	for (size_t i = idhash(pid, id) & (m->cap - 1); m->slots[i].p; i = (i + 1) & (m->cap - 1))
		if (m->slots[i].pid == pid && m->slots[i].id == id)
			return m->slots[i].p;
	return NULL;
}

/* Inserts or replaces; false when out of memory. */
static bool
idmap_put(struct idmap *m, uint64_t pid, uint64_t id, void *p)
{
	size_t i;

	if ((m->used + 1) * 2 > m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 64;
		struct idslot *n = calloc(ncap, sizeof(*n));

		if (!n)
			return false;
		for (size_t j = 0; j < m->cap; j++) {
			if (!m->slots[j].p)
				continue;
			for (i = idhash(m->slots[j].pid, m->slots[j].id) & (ncap - 1); n[i].p;
			     i = (i + 1) & (ncap - 1))
				;
			n[i] = m->slots[j];
		}
		free(m->slots);
		m->slots = n;
		m->cap = ncap;
	}
	for (i = idhash(pid, id) & (m->cap - 1); m->slots[i].p; i = (i + 1) & (m->cap - 1)) {
		if (m->slots[i].pid == pid && m->slots[i].id == id) {
			m->slots[i].p = p;
			return true;
		}
	}
	m->slots[i] = (struct idslot){pid, id, p};
	m->used++;
	return true;
}

static void
idmap_free(struct idmap *m)
{
	if (m)
		free(m->slots);
	free(m);
}

/* ---- reading state ---------------------------------------------------- */

struct reader {
	struct logfile *f;
	struct logproc *cur;
	struct logerror *err;
	unsigned line;
};

static bool
bad(struct reader *r, const char *fmt, ...)
{
	va_list ap;

	r->err->line = r->line;
	va_start(ap, fmt);
	vsnprintf(r->err->why, sizeof(r->err->why), fmt, ap);
	va_end(ap);
	return false;
}

static bool
grow(void *pp, size_t *cap, size_t elem, size_t need)
{
	void **p = pp;
	size_t ncap = *cap ? *cap : 16;
	void *n;

	if (need <= *cap)
		return true;
	while (ncap < need)
		ncap *= 2;
	n = realloc(*p, ncap * elem);
	if (!n)
		return false;
	*p = n;
	*cap = ncap;
	return true;
}

static char *
xstrdup(const char *s)
{
	return strdup(s ? s : "");
}

/* A field that must be a string if present. */
static bool
opt_str(struct reader *r, const struct json_value *o, const char *key, const char **out)
{
	const struct json_value *v = json_get(o, key);

	*out = NULL;
	if (!v || v->type == JSON_NULL)
		return true;
	if (v->type != JSON_STRING)
		return bad(r, "\"%s\" is not a string", key);
	*out = v->str;
	return true;
}

static bool
opt_u64(struct reader *r, const struct json_value *o, const char *key, uint64_t *out,
	uint64_t dflt)
{
	const struct json_value *v = json_get(o, key);

	*out = dflt;
	if (!v)
		return true;
	if (!json_as_u64(v, out))
		return bad(r, "\"%s\" is not a non-negative integer", key);
	return true;
}

static bool
req_u64(struct reader *r, const struct json_value *o, const char *key, uint64_t *out)
{
	if (!json_get(o, key))
		return bad(r, "%s record without \"%s\"", json_get_str(o, "kind"), key);
	return opt_u64(r, o, key, out, 0);
}

static bool
opt_hex(struct reader *r, const struct json_value *o, const char *key, uint64_t *out)
{
	const struct json_value *v = json_get(o, key);

	*out = 0;
	if (!v)
		return true;
	if (!json_as_hex(v, out))
		return bad(r, "\"%s\" is not a hexadecimal address", key);
	return true;
}

static bool
decode_frame(const struct json_value *v, struct logframe *f, char *why, size_t whysz)
{
	uint64_t m;
	const struct json_value *mv;

	if (!v || v->type != JSON_OBJECT) {
		snprintf(why, whysz, "a frame is not an object");
		return false;
	}
	if (!json_get_hex(v, "pc", &f->pc)) {
		snprintf(why, whysz, "a frame without a hexadecimal \"pc\"");
		return false;
	}
	f->module = -1;
	f->offset = 0;
	mv = json_get(v, "module");
	if (mv) {
		if (!json_as_u64(mv, &m) || m > LOGREAD_MAX_MODULE_INDEX) {
			snprintf(why, whysz, "a frame's \"module\" is not a module index");
			return false;
		}
		if (!json_get_hex(v, "offset", &f->offset)) {
			snprintf(why, whysz, "a frame with a module but no hexadecimal \"offset\"");
			return false;
		}
		f->module = (int)m;
	}
	return true;
}

bool
logframes_decode(const struct json_value *arr, struct logframe **out, size_t *n, char *why,
		 size_t whysz)
{
	*out = NULL;
	*n = 0;
	if (!arr || arr->type != JSON_ARRAY) {
		snprintf(why, whysz, "a stack is not an array of frames");
		return false;
	}
	if (arr->n > LOGREAD_MAX_FRAMES) {
		snprintf(why, whysz, "a stack of more than %u frames", LOGREAD_MAX_FRAMES);
		return false;
	}
	if (arr->n == 0)
		return true;
	*out = calloc(arr->n, sizeof(**out));
	if (!*out) {
		snprintf(why, whysz, "out of memory");
		return false;
	}
	for (uint32_t i = 0; i < arr->n; i++) {
		if (!decode_frame(&arr->items[i], &(*out)[i], why, whysz)) {
			free(*out);
			*out = NULL;
			return false;
		}
	}
	*n = arr->n;
	return true;
}

/* ---- records ------------------------------------------------------------ */

static bool
decode_modules(struct reader *r, const struct json_value *arr)
{
	struct logproc *p = r->cur;

	if (!arr || arr->type != JSON_ARRAY)
		return bad(r, "\"modules\" is not an array");
	for (uint32_t i = 0; i < arr->n; i++) {
		const struct json_value *m = &arr->items[i];
		struct logmodule mod = {0};
		uint64_t idx;
		const char *path, *bid;
		size_t k;

		if (m->type != JSON_OBJECT)
			return bad(r, "a module is not an object");
		if (!json_get_u64(m, "index", &idx) || idx > LOGREAD_MAX_MODULE_INDEX)
			return bad(r, "a module without a valid \"index\"");
		if (!opt_str(r, m, "path", &path) || !opt_str(r, m, "build_id", &bid))
			return false;
		if (!path)
			return bad(r, "module %llu without a \"path\"", (unsigned long long)idx);
		if (!json_get_hex(m, "base", &mod.base))
			return bad(r, "module %llu without a hexadecimal \"base\"",
				   (unsigned long long)idx);
		if (!opt_hex(r, m, "start", &mod.start) || !opt_hex(r, m, "end", &mod.end))
			return false;
		if (bid) {
			for (const char *c = bid; *c; c++)
				if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') ||
				      (*c >= 'A' && *c <= 'F')) ||
				    c - bid >= 128)
					return bad(r, "module %llu: \"build_id\" is not hex",
						   (unsigned long long)idx);
		}
		mod.index = (int)idx;
		/* A module index described again replaces the old description. */
		for (k = 0; k < p->nmodules; k++)
			if (p->modules[k].index == mod.index)
				break;
		if (k == p->nmodules) {
			if (!grow(&p->modules, &p->caps[0], sizeof(*p->modules), p->nmodules + 1))
				return bad(r, "out of memory");
			p->nmodules++;
		} else {
			free(p->modules[k].path);
			free(p->modules[k].build_id);
		}
		mod.path = xstrdup(path);
		mod.build_id = xstrdup(bid);
		p->modules[k] = mod;
	}
	return true;
}

static bool
new_proc(struct reader *r, const struct json_value *v)
{
	struct logfile *f = r->f;
	struct logproc *p;
	uint64_t version;
	const char *exe, *ver;
	const struct json_value *vv = json_get(v, "lockhound");

	if (!vv || !json_as_u64(vv, &version))
		return bad(r, "a header without a format version (\"lockhound\")");
	if (version > LOGREAD_VERSION)
		return bad(r, "format version %llu is newer than this lockhound reads (%d); "
			      "upgrade lockhound",
			   (unsigned long long)version, LOGREAD_VERSION);
	if (version < 1)
		return bad(r, "unknown format version %llu", (unsigned long long)version);
	p = calloc(1, sizeof(*p));
	if (!p)
		return bad(r, "out of memory");
	{
		struct logproc **n = realloc(f->procs, (f->nprocs + 1) * sizeof(*n));

		if (!n) {
			free(p);
			return bad(r, "out of memory");
		}
		f->procs = n;
	}
	f->procs[f->nprocs] = p;
	p->index = (unsigned)f->nprocs++;
	p->file = f;
	p->header_line = r->line;
	r->cur = p;
	p->lockmap = calloc(1, sizeof(*p->lockmap));
	p->stackmap = calloc(1, sizeof(*p->stackmap));
	if (!p->lockmap || !p->stackmap)
		return bad(r, "out of memory");
	if (!req_u64(r, v, "pid", &p->pid) || !opt_u64(r, v, "time", &p->time, 0) ||
	    !opt_str(r, v, "exe", &exe) || !opt_str(r, v, "version", &ver))
		return false;
	p->exe = xstrdup(exe);
	p->version = xstrdup(ver);
	return decode_modules(r, json_get(v, "modules"));
}

static struct loglock *
add_lock(struct reader *r, uint64_t pid, uint64_t id)
{
	struct logproc *p = r->cur;
	struct loglock *lk = calloc(1, sizeof(*lk));

	if (!lk || !grow(&p->locks, &p->caps[1], sizeof(*p->locks), p->nlocks + 1) ||
	    !idmap_put(p->lockmap, pid, id, lk)) {
		free(lk);
		bad(r, "out of memory");
		return NULL;
	}
	p->locks[p->nlocks++] = lk;
	lk->pid = pid;
	lk->id = id;
	lk->sym_module = -1;
	lk->line = r->line;
	return lk;
}

static bool
decode_lock(struct reader *r, const struct json_value *v, uint64_t pid)
{
	struct loglock tmp = {.sym_module = -1}, *lk;
	uint64_t id;
	const char *type, *mk, *rk, *name, *ann, *sname = NULL;
	const struct json_value *sym, *init;

	/* Check every field before touching the process's tables. */
	if (!req_u64(r, v, "id", &id))
		return false;
	if (!opt_str(r, v, "type", &type) || !opt_str(r, v, "mutex_kind", &mk) ||
	    !opt_str(r, v, "rwlock_kind", &rk) || !opt_str(r, v, "name", &name) ||
	    !opt_str(r, v, "annotation", &ann) || !opt_hex(r, v, "addr", &tmp.addr))
		return false;
	sym = json_get(v, "symbol");
	if (sym) {
		uint64_t m;

		if (sym->type != JSON_OBJECT)
			return bad(r, "\"symbol\" is not an object");
		if (!opt_str(r, sym, "name", &sname) ||
		    !opt_u64(r, sym, "offset", &tmp.sym_offset, 0) ||
		    !opt_hex(r, sym, "module_offset", &tmp.sym_module_offset))
			return false;
		if (!json_get_u64(sym, "module", &m) || m > LOGREAD_MAX_MODULE_INDEX)
			return bad(r, "\"symbol\" without a valid \"module\"");
		tmp.sym_module = (int)m;
	}
	init = json_get(v, "init");
	if (init) {
		char why[128];

		if (!decode_frame(init, &tmp.init, why, sizeof(why)))
			return bad(r, "\"init\": %s", why);
		tmp.has_init = true;
	}
	lk = idmap_get(r->cur->lockmap, pid, id);
	if (!lk || !lk->placeholder) {
		lk = add_lock(r, pid, id);
		if (!lk)
			return false;
	}
	free(lk->type);
	free(lk->name);
	tmp.pid = pid;
	tmp.id = id;
	tmp.line = r->line;
	tmp.type = xstrdup(type);
	tmp.mutex_kind = mk ? xstrdup(mk) : NULL;
	tmp.rwlock_kind = rk ? xstrdup(rk) : NULL;
	tmp.name = xstrdup(name);
	tmp.annotation = ann ? xstrdup(ann) : NULL;
	tmp.sym_name = sname && *sname ? xstrdup(sname) : NULL;
	*lk = tmp;
	return true;
}

/* The lock (pid, id) of the current process, or a placeholder for it. */
static struct loglock *
lock_ref(struct reader *r, uint64_t pid, uint64_t id)
{
	struct loglock *lk = (struct loglock *)logproc_lock(r->cur, pid, id);
	char name[64];

	if (lk)
		return lk;
	lk = add_lock(r, pid, id);
	if (!lk)
		return NULL;
	snprintf(name, sizeof(name), "lock #%llu", (unsigned long long)id);
	lk->placeholder = true;
	lk->type = xstrdup("");
	lk->name = xstrdup(name);
	return lk;
}

static bool
decode_stack(struct reader *r, const struct json_value *v, uint64_t pid)
{
	struct logstack *s = calloc(1, sizeof(*s));
	char why[128];

	if (!s)
		return bad(r, "out of memory");
	s->pid = pid;
	if (!req_u64(r, v, "id", &s->id)) {
		free(s);
		return false;
	}
	if (!logframes_decode(json_get(v, "frames"), &s->frames, &s->n, why, sizeof(why))) {
		free(s);
		return bad(r, "%s", why);
	}
	{
		struct logstack *old = idmap_get(r->cur->stackmap, pid, s->id);

		if (!idmap_put(r->cur->stackmap, pid, s->id, s)) {
			free(s->frames);
			free(s);
			return bad(r, "out of memory");
		}
		if (old) {
			free(old->frames);
			free(old);
		}
	}
	return true;
}

static int
mode_bit(const struct json_value *v)
{
	if (!v || v->type != JSON_STRING)
		return -1;
	if (strcmp(v->str, "write") == 0)
		return 0;
	if (strcmp(v->str, "read") == 0)
		return 1;
	return -1;
}

static bool
decode_order(struct reader *r, const struct json_value *v, uint64_t pid)
{
	struct logproc *p = r->cur;
	struct logorder o = {0};
	const struct json_value *modes, *gates, *thread, *partial;
	const char *tname = NULL;
	int fm, tm;

	o.pid = pid;
	o.line = r->line;
	if (!req_u64(r, v, "from", &o.from) || !req_u64(r, v, "to", &o.to) ||
	    !opt_u64(r, v, "tid", &o.tid, 0) || !opt_u64(r, v, "held_stack_id", &o.held_stack_id, 0) ||
	    !opt_u64(r, v, "stack_id", &o.stack_id, 0) || !opt_u64(r, v, "count", &o.count, 1) ||
	    !opt_u64(r, v, "seq", &o.seq, 0))
		return false;
	modes = json_get(v, "modes");
	if (modes) {
		if (modes->type != JSON_ARRAY || modes->n > 4)
			return bad(r, "\"modes\" is not an array of mode pairs");
		for (uint32_t i = 0; i < modes->n; i++) {
			const struct json_value *pair = &modes->items[i];

			if (pair->type != JSON_ARRAY || pair->n != 2 ||
			    (fm = mode_bit(&pair->items[0])) < 0 ||
			    (tm = mode_bit(&pair->items[1])) < 0)
				return bad(r, "\"modes\" is not an array of [\"write\"|\"read\", "
					      "\"write\"|\"read\"] pairs");
			o.combos |= LOG_COMBO((unsigned)fm, (unsigned)tm);
		}
	}
	if (!o.combos) {
		const struct json_value *f = json_get(v, "from_mode"), *t = json_get(v, "to_mode");

		fm = f ? mode_bit(f) : 0;
		tm = t ? mode_bit(t) : 0;
		if (fm < 0 || tm < 0)
			return bad(r, "\"from_mode\" or \"to_mode\" is not \"write\" or \"read\"");
		o.combos = LOG_COMBO((unsigned)fm, (unsigned)tm);
	}
	thread = json_get(v, "thread");
	if (thread) {
		if (thread->type != JSON_OBJECT)
			return bad(r, "\"thread\" is not an object");
		if (!opt_u64(r, thread, "tid", &o.tid, o.tid) || !opt_str(r, thread, "name", &tname))
			return false;
	}
	partial = json_get(v, "held_stack_partial");
	if (partial && partial->type != JSON_TRUE && partial->type != JSON_FALSE)
		return bad(r, "\"held_stack_partial\" is not true or false");
	o.held_partial = partial && partial->type == JSON_TRUE;
	gates = json_get(v, "gates");
	if (gates) {
		if (gates->type != JSON_ARRAY || gates->n > LOGREAD_MAX_GATES)
			return bad(r, "\"gates\" is not an array of at most %d lock ids",
				   LOGREAD_MAX_GATES);
		if (gates->n) {
			o.gates = calloc(gates->n, sizeof(*o.gates));
			if (!o.gates)
				return bad(r, "out of memory");
		}
		for (uint32_t i = 0; i < gates->n; i++) {
			if (!json_as_u64(&gates->items[i], &o.gates[i])) {
				free(o.gates);
				return bad(r, "\"gates\" holds something other than a lock id");
			}
		}
		o.ngates = gates->n;
	}
	if (!lock_ref(r, pid, o.from) || !lock_ref(r, pid, o.to) ||
	    !grow(&p->orders, &p->caps[2], sizeof(*p->orders), p->norders + 1)) {
		free(o.gates);
		return bad(r, "out of memory");
	}
	o.thread_name = xstrdup(tname);
	p->orders[p->norders++] = o;
	return true;
}

/* Handles one parsed line; takes ownership of doc. */
static bool
handle(struct reader *r, struct json_doc *doc)
{
	const struct json_value *v = json_root(doc);
	const char *kind;
	uint64_t pid;
	struct logproc *p;
	bool keep = false, ok;

	if (v->type != JSON_OBJECT) {
		json_doc_free(doc);
		return bad(r, r->cur ? "a record is not a JSON object"
				     : "not a lockhound log (the first line is not a header)");
	}
	kind = json_get_str(v, "kind");
	if (json_get(v, "lockhound") || (kind && strcmp(kind, "header") == 0)) {
		ok = new_proc(r, v);
		json_doc_free(doc);
		return ok;
	}
	if (!r->cur) {
		json_doc_free(doc);
		return bad(r, "not a lockhound log (the first line is not a header)");
	}
	if (!kind) {
		json_doc_free(doc);
		return bad(r, "a record without a \"kind\"");
	}
	p = r->cur;
	if (!opt_u64(r, v, "pid", &pid, p->pid)) {
		json_doc_free(doc);
		return false;
	}
	if (strcmp(kind, "modules") == 0)
		ok = decode_modules(r, json_get(v, "modules"));
	else if (strcmp(kind, "lock") == 0)
		ok = decode_lock(r, v, pid);
	else if (strcmp(kind, "stack") == 0)
		ok = decode_stack(r, v, pid);
	else if (strcmp(kind, "lock-order") == 0)
		ok = decode_order(r, v, pid);
	else {
		ok = grow(&p->records, &p->caps[3], sizeof(*p->records), p->nrecords + 1);
		if (!ok)
			bad(r, "out of memory");
		keep = ok;
	}
	if (keep) {
		p->records[p->nrecords++] = (struct logrecord){kind, r->line, doc, v};
		return true;
	}
	json_doc_free(doc);
	return ok;
}

static bool
is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/*
 * One line (without its newline). last_cut: the file ended inside this line.
 * Returns 1 to go on, 0 on error, -1 when the line is a cut record (stop).
 */
static int
one_line(struct reader *r, const char *s, size_t n, bool last_cut)
{
	char why[160];
	size_t where = 0;
	struct json_doc *doc;

	r->line++;
	if (is_blank(s, n)) {
		if (last_cut)
			return 1;
		if (!r->cur)
			return bad(r, "not a lockhound log (the first line is empty)"), 0;
		return 1; /* XXX: the runtime never writes blank lines; tolerated */
	}
	doc = json_parse(s, n, &json_default_limits, why, sizeof(why), &where);
	if (!doc) {
		if (last_cut && r->cur) {
			r->f->truncated = true;
			r->f->cut_line = r->line;
			return -1;
		}
		if (!r->cur && last_cut && n > 12 && memcmp(s, "{\"lockhound\":", 13) == 0)
			return bad(r, "cut short in its header: nothing to read"), 0;
		if (!r->cur)
			return bad(r, "not a lockhound log (the first line is not JSON: %s)", why),
			       0;
		return bad(r, "not JSON: %s (at byte %zu)", why, where + 1), 0;
	}
	if (!handle(r, doc))
		return 0;
	r->f->nlines++;
	return 1;
}

static struct logfile *
new_file(const char *name)
{
	struct logfile *f = calloc(1, sizeof(*f));

	if (f)
		f->path = strdup(name);
	if (f && !f->path) {
		free(f);
		f = NULL;
	}
	return f;
}

static struct logfile *
finish(struct reader *r)
{
	if (!r->f->nprocs) {
		if (r->f->truncated || r->line > 0)
			bad(r, "cut short in its header: nothing to read");
		else
			r->err->line = 0, snprintf(r->err->why, sizeof(r->err->why),
						   "empty file, not a lockhound log");
		logfile_free(r->f);
		return NULL;
	}
	return r->f;
}

struct logfile *
logfile_read_mem(const char *name, const char *data, size_t len, struct logerror *err)
{
	struct reader r = {.err = err};
	size_t pos = 0;

	memset(err, 0, sizeof(*err));
	r.f = new_file(name);
	if (!r.f) {
		snprintf(err->why, sizeof(err->why), "out of memory");
		return NULL;
	}
	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (data + pos)) : len - pos;
		int rc;

		if (n > LOGREAD_MAX_LINE) {
			r.line++;
			bad(&r, "a line longer than %u bytes", LOGREAD_MAX_LINE);
			logfile_free(r.f);
			return NULL;
		}
		rc = one_line(&r, data + pos, n, !nl);
		if (rc == 0) {
			logfile_free(r.f);
			return NULL;
		}
		if (rc < 0)
			break;
		pos += n + 1;
	}
	return finish(&r);
}

struct logfile *
logfile_read(const char *path, struct logerror *err)
{
	struct reader r = {.err = err};
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd;

	memset(err, 0, sizeof(*err));
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(err->why, sizeof(err->why), "%s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err->why, sizeof(err->why), "%s",
			 S_ISDIR(st.st_mode) ? "is a directory, not a log file"
					     : "not a regular file");
		close(fd);
		return NULL;
	}
	r.f = new_file(path);
	if (!r.f) {
		close(fd);
		snprintf(err->why, sizeof(err->why), "out of memory");
		return NULL;
	}
	for (;;) {
		ssize_t got;
		size_t start = 0;
		char *nl;
		int rc = 1;

		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *n;

			if (ncap > LOGREAD_MAX_LINE + 65536)
				ncap = LOGREAD_MAX_LINE + 65536;
			if (len >= ncap) {
				r.line++;
				bad(&r, "a line longer than %u bytes", LOGREAD_MAX_LINE);
				goto fail;
			}
			n = realloc(buf, ncap);
			if (!n) {
				snprintf(err->why, sizeof(err->why), "out of memory");
				goto fail;
			}
			buf = n;
			cap = ncap;
		}
		got = read(fd, buf + len, cap - len);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			r.err->line = 0;
			snprintf(err->why, sizeof(err->why), "%s", strerror(errno));
			goto fail;
		}
		if (got == 0) {
			if (len > LOGREAD_MAX_LINE) {
				r.line++;
				bad(&r, "a line longer than %u bytes", LOGREAD_MAX_LINE);
				goto fail;
			}
			if (len > 0 && one_line(&r, buf, len, true) == 0)
				goto fail;
			break;
		}
		len += (size_t)got;
		while ((nl = memchr(buf + start, '\n', len - start)) != NULL) {
			size_t n = (size_t)(nl - (buf + start));

			if (n > LOGREAD_MAX_LINE) {
				r.line++;
				bad(&r, "a line longer than %u bytes", LOGREAD_MAX_LINE);
				goto fail;
			}
			rc = one_line(&r, buf + start, n, false);
			if (rc == 0)
				goto fail;
			start += n + 1;
		}
		memmove(buf, buf + start, len - start);
		len -= start;
		if (len > LOGREAD_MAX_LINE) {
			r.line++;
			bad(&r, "a line longer than %u bytes", LOGREAD_MAX_LINE);
			goto fail;
		}
	}
	free(buf);
	close(fd);
	return finish(&r);
fail:
	free(buf);
	close(fd);
	logfile_free(r.f);
	return NULL;
}

void
logfile_free(struct logfile *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nprocs; i++) {
		struct logproc *p = f->procs[i];

		for (size_t k = 0; k < p->nmodules; k++) {
			free(p->modules[k].path);
			free(p->modules[k].build_id);
		}
		free(p->modules);
		for (size_t k = 0; k < p->nlocks; k++) {
			struct loglock *lk = p->locks[k];

			free(lk->type);
			free(lk->mutex_kind);
			free(lk->rwlock_kind);
			free(lk->name);
			free(lk->annotation);
			free(lk->sym_name);
			free(lk);
		}
		free(p->locks);
		for (size_t k = 0; k < p->norders; k++) {
			free(p->orders[k].gates);
			free(p->orders[k].thread_name);
		}
		free(p->orders);
		for (size_t k = 0; k < p->nrecords; k++)
			json_doc_free(p->records[k].doc);
		free(p->records);
		if (p->stackmap) {
			for (size_t k = 0; k < p->stackmap->cap; k++) {
				struct logstack *s = p->stackmap->slots[k].p;

				if (s) {
					free(s->frames);
					free(s);
				}
			}
		}
		idmap_free(p->stackmap);
		idmap_free(p->lockmap);
		free(p->exe);
		free(p->version);
		free(p);
	}
	free(f->procs);
	free(f->path);
	free(f);
}

void
logerror_print(const char *path, const struct logerror *err)
{
	if (err->line)
		fprintf(stderr, "lockhound: %s:%u: %s\n", path, err->line, err->why);
	else
		fprintf(stderr, "lockhound: %s: %s\n", path, err->why);
}

const struct loglock *
logproc_lock(const struct logproc *p, uint64_t pid, uint64_t id)
{
	const struct loglock *lk = idmap_get(p->lockmap, pid, id);

	/* A forked child sees the locks its parent described before the fork. */
	if (!lk && pid != p->pid)
		lk = idmap_get(p->lockmap, p->pid, id);
	return lk;
}

const struct logstack *
logproc_stack(const struct logproc *p, uint64_t pid, uint64_t id)
{
	const struct logstack *s = idmap_get(p->stackmap, pid, id);

	if (!s && pid != p->pid)
		s = idmap_get(p->stackmap, p->pid, id);
	return s;
}

const struct logmodule *
logproc_module(const struct logproc *p, int index)
{
	for (size_t i = 0; i < p->nmodules; i++)
		if (p->modules[i].index == index)
			return &p->modules[i];
	return NULL;
}
