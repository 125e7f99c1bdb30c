/*
 * The contention profile of logs (see contention.h): contention records read
 * into lock and class rows, added up across processes, symbolized, sorted
 * and printed. Single-threaded, like the rest of the CLI. Memory: one row
 * per lock identity and per class, each with the distinct call sites of its
 * records; an index from identity to row keeps adding a record O(1).
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "contention.h"

/* ---- an index: (scope, key) -> row ---------------------------------------- */

struct slot {
	uint64_t h;
	const char *key; /* owned by the row */
	int scope;
	size_t val; /* row index + 1; 0 = empty */
};

struct index {
	struct slot *slots;
	size_t cap, used;
};

static uint64_t
hash_key(int scope, const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)scope;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static struct slot *
index_find(const struct index *x, int scope, const char *key)
{
	uint64_t h = hash_key(scope, key);

	if (!x || !x->cap)
		return NULL;
	for (size_t i = h & (x->cap - 1); x->slots[i].val; i = (i + 1) & (x->cap - 1))
		if (x->slots[i].h == h && x->slots[i].scope == scope &&
		    strcmp(x->slots[i].key, key) == 0)
			return &x->slots[i];
	return NULL;
}

static size_t
index_get(const struct index *x, int scope, const char *key)
{
	const struct slot *s = index_find(x, scope, key);

	return s ? s->val : 0;
}

static void
index_put(struct index *x, int scope, const char *key, size_t val)
{
	uint64_t h = hash_key(scope, key);
	size_t i;

	if ((x->used + 1) * 2 > x->cap) {
		size_t ncap = x->cap ? x->cap * 2 : 256;
		struct slot *n = xcalloc(ncap, sizeof(*n));

		for (size_t j = 0; j < x->cap; j++) {
			if (!x->slots[j].val)
				continue;
			for (i = x->slots[j].h & (ncap - 1); n[i].val;
			     i = (i + 1) & (ncap - 1))
				;
			n[i] = x->slots[j];
		}
		free(x->slots);
		x->slots = n;
		x->cap = ncap;
	}
	for (i = h & (x->cap - 1); x->slots[i].val; i = (i + 1) & (x->cap - 1))
		;
	x->slots[i] = (struct slot){h, key, scope, val};
	x->used++;
}

static void
index_free(struct index *x)
{
	if (x)
		free(x->slots);
	free(x);
}

/* ---- the profile ------------------------------------------------------------- */

void
cprofile_init(struct cprofile *cp)
{
	memset(cp, 0, sizeof(*cp));
	cp->index = xcalloc(1, sizeof(struct index));
}

static void
row_free(struct crow *r)
{
	free(r->key);
	free(r->name);
	free(r->record_name);
	free(r->cls_key);
	for (int k = 0; k < CSITE_ROLES; k++) {
		for (size_t i = 0; i < r->nsite[k]; i++) {
			free(r->site[k][i].key);
			free(r->site[k][i].where.label);
			free(r->site[k][i].where.frames);
		}
		free(r->site[k]);
	}
}

void
cprofile_free(struct cprofile *cp)
{
	for (size_t i = 0; i < cp->nlocks; i++)
		row_free(&cp->locks[i]);
	for (size_t i = 0; i < cp->nclasses; i++)
		row_free(&cp->classes[i]);
	free(cp->locks);
	free(cp->classes);
	free(cp->procs);
	index_free(cp->index);
	memset(cp, 0, sizeof(*cp));
}

static uint64_t
sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

static const char *
module_path(const struct logproc *p, int index)
{
	const struct logmodule *m = index >= 0 ? logproc_module(p, index) : NULL;

	return m ? m->path : NULL;
}

/* A lock's identity across processes (as replay's, ordergraph.h); a lock
 * made by an init call is of its process only: its class matches. */
static char *
lock_key(const struct logproc *p, const struct loglock *lk, uint64_t pid, uint64_t id)
{
	if (lk && !lk->placeholder) {
		const char *sm = module_path(p, lk->sym_module);

		if (lk->annotation && lk->annotation[0])
			return xasprintf("N:%s", lk->annotation);
		if (lk->sym_name)
			return xasprintf("S:%s:%s+%" PRIu64, sm ? sm : "?", lk->sym_name,
			                 lk->sym_offset);
		if (!(lk->has_init && lk->init.module >= 0) && sm)
			return xasprintf("A:%s+0x%" PRIx64, sm, lk->sym_module_offset);
	}
	return xasprintf("P:%s#%u:%" PRIu64 ":%" PRIu64, p->file->path, p->index, pid,
	                 id);
}

/* The class of a lock made by an init call in a module, else NULL. */
static char *
class_key(const struct logproc *p, const struct loglock *lk)
{
	const char *path;

	if (!lk || lk->placeholder || !lk->has_init || lk->init.module < 0)
		return NULL;
	path = module_path(p, lk->init.module);
	return path ? xasprintf("C:%s+0x%" PRIx64, path, lk->init.offset) : NULL;
}

static struct crow *
row_get(struct cprofile *cp, enum crow_scope scope, char *key, struct logproc *p,
        const struct loglock *lk, const char *record_name)
{
	struct index *x = cp->index;
	size_t v = index_get(x, (int)scope, key);
	struct crow **rows = scope == CROW_LOCK ? &cp->locks : &cp->classes;
	size_t *n = scope == CROW_LOCK ? &cp->nlocks : &cp->nclasses;
	size_t *cap = scope == CROW_LOCK ? &cp->caplocks : &cp->capclasses;
	struct crow *r;

	if (v) {
		free(key);
		return &(*rows)[v - 1];
	}
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct crow *nr = realloc(*rows, ncap * sizeof(**rows));

		if (!nr) {
			fputs("lockhound: out of memory\n", stderr);
			exit(2);
		}
		*rows = nr;
		*cap = ncap;
	}
	r = &(*rows)[(*n)++];
	memset(r, 0, sizeof(*r));
	r->scope = scope;
	r->key = key;
	r->proc = p;
	r->lock = lk && !lk->placeholder ? lk : NULL;
	r->record_name = xstrdup0(record_name);
	index_put(x, (int)scope, r->key, *n);
	return r;
}

static void
count_proc(struct crow *r, struct logproc *p, uint64_t pid)
{
	if (r->nprocs && r->last_proc == p && r->last_pid == pid)
		return;
	/* Records of one process come together (cprofile_add_logs goes process
	 * by process), so a change of process is a new one. */
	r->nprocs++;
	r->last_proc = p;
	r->last_pid = pid;
}

static bool
req_u64(const struct json_value *v, const char *key, uint64_t *out, char *why,
        size_t whysz)
{
	const struct json_value *x = json_get(v, key);

	if (!x) {
		snprintf(why, whysz, "contention record without \"%s\"", key);
		return false;
	}
	if (!json_as_u64(x, out)) {
		snprintf(why, whysz, "contention record: \"%s\" is not a count", key);
		return false;
	}
	return true;
}

/* The numbers of one record. */
struct cnums {
	uint64_t acq, contended, wait_ns, wait_max, holds, hold_ns, hold_max, sites,
	    locks;
	bool has_hold;
};

static void
add_nums(struct crow *r, const struct cnums *n)
{
	r->acquisitions = sat_add(r->acquisitions, n->acq);
	r->contended = sat_add(r->contended, n->contended);
	r->wait_ns = sat_add(r->wait_ns, n->wait_ns);
	if (n->wait_max > r->wait_max_ns)
		r->wait_max_ns = n->wait_max;
	if (n->has_hold) {
		r->has_hold = true;
		r->holds = sat_add(r->holds, n->holds);
		r->hold_ns = sat_add(r->hold_ns, n->hold_ns);
		if (n->hold_max > r->hold_max_ns)
			r->hold_max_ns = n->hold_max;
	}
	if (n->sites > r->sites)
		r->sites = n->sites;
	r->nrec++;
	r->nrec_hold += n->has_hold;
	r->hold_partial = r->has_hold && r->nrec_hold < r->nrec;
}

static char *
site_key(const struct logproc *p, const struct logframe *f)
{
	const char *path = module_path(p, f->module);

	if (path)
		return xasprintf("%s+0x%" PRIx64, path, f->offset);
	return xasprintf("0x%" PRIx64 "@%s#%u", f->pc, p->file->path, p->index);
}

static void
add_site(struct crow *r, enum csite_role role, struct logproc *p,
         const struct logframe *f, uint64_t count, uint64_t wait_ns)
{
	char *key = site_key(p, f);
	struct csite *s;

	for (size_t i = 0; i < r->nsite[role]; i++) {
		s = &r->site[role][i];
		if (strcmp(s->key, key) == 0) {
			s->count = sat_add(s->count, count);
			s->wait_ns = sat_add(s->wait_ns, wait_ns);
			free(key);
			return;
		}
	}
	s = realloc(r->site[role], (r->nsite[role] + 1) * sizeof(*s));
	if (!s) {
		fputs("lockhound: out of memory\n", stderr);
		exit(2);
	}
	r->site[role] = s;
	s = &s[r->nsite[role]++];
	memset(s, 0, sizeof(*s));
	s->key = key;
	s->proc = p;
	s->frame = *f;
	s->count = count;
	s->wait_ns = wait_ns;
	if (role == CSITE_ACQUIRE && r->nsite[role] > r->sites)
		r->sites = r->nsite[role];
}

static const char *const site_fields[CSITE_ROLES] = {"acquire_sites", "wait_sites",
                                                     "holder_sites"};

/* Adds the sites of record v to the rows (one or two: lock and class). */
static bool
add_sites(struct crow **rows, size_t nrows, struct logproc *p, const struct json_value *v,
          char *why, size_t whysz)
{
	for (int role = 0; role < CSITE_ROLES; role++) {
		const struct json_value *a = json_get(v, site_fields[role]);

		if (!a)
			continue;
		if (a->type != JSON_ARRAY) {
			snprintf(why, whysz, "contention record: \"%s\" is not an array",
			         site_fields[role]);
			return false;
		}
		for (uint32_t i = 0; i < a->n; i++) {
			const struct json_value *s = &a->items[i];
			struct logframe *fr = NULL;
			size_t nfr = 0;
			uint64_t count = 0, wait_ns = 0;

			if (s->type != JSON_OBJECT || !json_get(s, "frame")) {
				snprintf(why, whysz,
				         "contention record: a site of \"%s\" without "
				         "\"frame\"",
				         site_fields[role]);
				return false;
			}
			if (!logframes_decode(json_get(s, "frame"), &fr, &nfr, why,
			                      whysz))
				return false;
			if (!req_u64(s, role == CSITE_ACQUIRE ? "acquisitions" : "count",
			             &count, why, whysz) ||
			    (role != CSITE_ACQUIRE &&
			     !req_u64(s, "wait_ns", &wait_ns, why, whysz))) {
				free(fr);
				return false;
			}
			for (size_t k = 0; k < nrows && nfr; k++)
				add_site(rows[k], (enum csite_role)role, p, &fr[0], count,
				         wait_ns);
			free(fr);
		}
	}
	return true;
}

static void
note_proc(struct cprofile *cp, struct logproc *p, uint64_t pid)
{
	for (size_t i = cp->nprocs; i > 0; i--)
		if (cp->procs[i - 1].proc == p && cp->procs[i - 1].pid == pid)
			return;
	if (cp->nprocs == cp->capprocs) {
		size_t ncap = cp->capprocs ? cp->capprocs * 2 : 8;
		struct cproc *n = realloc(cp->procs, ncap * sizeof(*n));

		if (!n) {
			fputs("lockhound: out of memory\n", stderr);
			exit(2);
		}
		cp->procs = n;
		cp->capprocs = ncap;
	}
	cp->procs[cp->nprocs++] = (struct cproc){p, pid};
}

bool
cprofile_add_record(struct cprofile *cp, struct logproc *p, const struct logrecord *r,
                    char *why, size_t whysz)
{
	const struct json_value *v = r->v;
	const char *scope = json_get_str(v, "scope"), *name = json_get_str(v, "name");
	const struct loglock *lk;
	struct crow *rows[2];
	size_t nrows = 0;
	struct cnums n = {0};
	uint64_t pid = p->pid, id = 0;
	bool is_class;
	char *ck;

	if (!scope) {
		snprintf(why, whysz, "contention record without \"scope\"");
		return false;
	}
	if (strcmp(scope, "lock") != 0 && strcmp(scope, "class") != 0)
		return true; /* a scope of a newer runtime */
	is_class = strcmp(scope, "class") == 0;
	json_get_u64(v, "pid", &pid);
	if (!req_u64(v, is_class ? "example_lock" : "lock", &id, why, whysz) ||
	    !req_u64(v, "acquisitions", &n.acq, why, whysz) ||
	    !req_u64(v, "contended", &n.contended, why, whysz) ||
	    !req_u64(v, "wait_ns", &n.wait_ns, why, whysz) ||
	    !req_u64(v, "wait_max_ns", &n.wait_max, why, whysz) ||
	    (is_class && !req_u64(v, "locks", &n.locks, why, whysz)))
		return false;
	if (json_get(v, "holds")) {
		n.has_hold = true;
		if (!req_u64(v, "holds", &n.holds, why, whysz) ||
		    !req_u64(v, "hold_ns", &n.hold_ns, why, whysz) ||
		    !req_u64(v, "hold_max_ns", &n.hold_max, why, whysz))
			return false;
	}
	if (json_get(v, "sites") && !req_u64(v, "sites", &n.sites, why, whysz))
		return false;
	lk = logproc_lock(p, pid, id);
	ck = class_key(p, lk);
	if (!is_class) {
		rows[nrows] =
		    row_get(cp, CROW_LOCK, lock_key(p, lk, pid, id), p, lk, name);
		if (ck && !rows[nrows]->cls_key)
			rows[nrows]->cls_key = xstrdup0(ck);
		nrows++;
		if (ck) {
			rows[nrows] = row_get(cp, CROW_CLASS, ck, p, lk, name);
			rows[nrows++]->locks++;
			ck = NULL;
		}
	} else if (ck) {
		rows[nrows] = row_get(cp, CROW_CLASS, ck, p, lk, name);
		rows[nrows]->locks = sat_add(rows[nrows]->locks, n.locks);
		rows[nrows]->destroyed = sat_add(rows[nrows]->destroyed, n.locks);
		nrows++;
		ck = NULL;
	} else if (lk && !lk->placeholder) {
		/* A class by address: the incarnations of one lock (made again
		 * at one place, or a static lock destroyed): its own row. */
		rows[nrows++] =
		    row_get(cp, CROW_LOCK, lock_key(p, lk, pid, id), p, lk, name);
	} else {
		rows[nrows] = row_get(cp, CROW_CLASS,
		                      xasprintf("X:%s#%u:%" PRIu64 ":%" PRIu64,
		                                p->file->path, p->index, pid, id),
		                      p, NULL, name);
		rows[nrows]->locks = sat_add(rows[nrows]->locks, n.locks);
		rows[nrows]->destroyed = sat_add(rows[nrows]->destroyed, n.locks);
		nrows++;
	}
	free(ck);
	for (size_t i = 0; i < nrows; i++) {
		add_nums(rows[i], &n);
		count_proc(rows[i], p, pid);
	}
	if (!add_sites(rows, nrows, p, v, why, whysz))
		return false;
	cp->any_hold |= n.has_hold;
	cp->nrecords++;
	note_proc(cp, p, pid);
	return true;
}

/*
 * Adds the contention records of process p, the last of each (pid, scope,
 * lock): a dump writes totals so far, so a later record replaces an earlier
 * one. Returns false with the line of a malformed record.
 */
static bool
add_proc(struct cprofile *cp, struct logproc *p, unsigned *line, char *why, size_t whysz)
{
	struct index *seen = xcalloc(1, sizeof(*seen));
	char **keys = xcalloc(p->nrecords, sizeof(*keys));
	bool ok = true;

	for (size_t j = 0; j < p->nrecords; j++) {
		const struct logrecord *r = &p->records[j];
		const char *scope = json_get_str(r->v, "scope");
		uint64_t pid = p->pid, id = 0;
		struct slot *sl;

		if (strcmp(r->kind, "contention") != 0)
			continue;
		json_get_u64(r->v, "pid", &pid);
		if (scope && (json_get_u64(r->v, "lock", &id) ||
		              json_get_u64(r->v, "example_lock", &id)))
			keys[j] = xasprintf("%" PRIu64 ":%s:%" PRIu64, pid, scope, id);
		else /* malformed: each is checked (and refused) */
			keys[j] = xasprintf("record %zu", j);
		/* An earlier snapshot of the same lock is replaced. */
		if ((sl = index_find(seen, 0, keys[j])) != NULL) {
			sl->key = keys[j];
			sl->val = j + 1;
		} else {
			index_put(seen, 0, keys[j], j + 1);
		}
	}
	for (size_t j = 0; j < p->nrecords && ok; j++) {
		const struct logrecord *r = &p->records[j];

		if (!keys[j] || index_get(seen, 0, keys[j]) != j + 1)
			continue;
		if (!cprofile_add_record(cp, p, r, why, whysz)) {
			*line = r->line;
			ok = false;
		}
	}
	for (size_t j = 0; j < p->nrecords; j++)
		free(keys[j]);
	free(keys);
	index_free(seen);
	return ok;
}

bool
cprofile_add_logs(struct cprofile *cp, struct logfile *const *logs, size_t n,
                  const char **file, unsigned *line, char *why, size_t whysz)
{
	for (size_t l = 0; l < n; l++) {
		for (size_t k = 0; k < logs[l]->nprocs; k++) {
			if (!add_proc(cp, logs[l]->procs[k], line, why, whysz)) {
				*file = logs[l]->path;
				return false;
			}
		}
	}
	return true;
}

/* ---- finishing: classes, names, sites, order ---------------------------------- */

static const char *
plural_type(const char *type)
{
	if (!type || !type[0])
		return "locks";
	if (strcmp(type, "mutex") == 0)
		return "mutexes";
	if (strcmp(type, "rwlock") == 0)
		return "rwlocks";
	if (strcmp(type, "spinlock") == 0)
		return "spinlocks";
	return NULL;
}

static char *
row_name(struct crow *r)
{
	struct finding tmp = {0};
	const char *pl;
	char *where, *name;

	if (r->scope == CROW_LOCK)
		return r->lock ? lock_display(r->proc, r->lock)
		               : xstrdup0(r->record_name[0] ? r->record_name
		                                            : "an unknown lock");
	if (!r->lock || !r->lock->has_init)
		return xasprintf("%s (class)",
		                 r->record_name[0] ? r->record_name : "locks");
	/* Named as lock_display names a lock by its init call. */
	finding_add_stack(&tmp, r->proc, "", &r->lock->init, 1);
	where = fframe_where(
	    tmp.stacks[0].n ? &tmp.stacks[0].frames[tmp.stacks[0].n - 1] : NULL, true);
	pl = plural_type(r->lock->type);
	name = pl ? xasprintf("%s made at %s", pl, where)
	          : xasprintf("%s locks made at %s", r->lock->type, where);
	free(where);
	finding_free(&tmp);
	return name;
}

static void
symbolize_site(struct csite *s)
{
	struct finding tmp = {0};

	finding_add_stack(&tmp, s->proc, "", &s->frame, 1);
	s->where = tmp.stacks[0]; /* taken over */
	tmp.nstacks = 0;
	free(tmp.stacks);
	tmp.stacks = NULL;
	finding_free(&tmp);
}

static int
site_cmp_count(const void *a, const void *b)
{
	const struct csite *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (x->wait_ns != y->wait_ns)
		return x->wait_ns > y->wait_ns ? -1 : 1;
	return strcmp(x->key, y->key);
}

static int
site_cmp_wait(const void *a, const void *b)
{
	const struct csite *x = a, *y = b;

	if (x->wait_ns != y->wait_ns)
		return x->wait_ns > y->wait_ns ? -1 : 1;
	return site_cmp_count(a, b);
}

struct site_line;
static struct site_line *site_lines(const struct crow *r, enum csite_role role, size_t *n);
static void site_lines_free(struct site_line *l, size_t n);

/* How many of r's sites of role read the same as another one (two calls on
 * one line, an unrolled loop's copies of one call). */
static size_t
sites_merged(const struct crow *r, enum csite_role role)
{
	size_t n;
	struct site_line *l = site_lines(r, role, &n);

	site_lines_free(l, n);
	return r->nsite[role] - n;
}

static void
finish_row(struct crow *r)
{
	size_t merged;

	r->name = row_name(r);
	for (int k = 0; k < CSITE_ROLES; k++) {
		for (size_t i = 0; i < r->nsite[k]; i++)
			symbolize_site(&r->site[k][i]);
		if (r->nsite[k] > 1)
			qsort(r->site[k], r->nsite[k], sizeof(r->site[k][0]),
			      k == CSITE_ACQUIRE ? site_cmp_count : site_cmp_wait);
	}
	/* The sites column counts places, as the lines under the row show
	 * them: the record counts return addresses (and the wait sites are
	 * acquire sites too). */
	merged = sites_merged(r, CSITE_ACQUIRE) + sites_merged(r, CSITE_HOLDER);
	r->sites = r->sites > merged ? r->sites - merged : r->sites != 0;
}

void
cprofile_finish(struct cprofile *cp, enum csort sort)
{
	size_t kept = 0;

	for (size_t i = 0; i < cp->nlocks; i++) {
		size_t v = cp->locks[i].cls_key
		               ? index_get(cp->index, CROW_CLASS, cp->locks[i].cls_key)
		               : 0;

		if (v)
			cp->classes[v - 1].members++;
	}
	/* A class that is one lock row and no destroyed lock is that row again. */
	for (size_t i = 0; i < cp->nclasses; i++) {
		if (cp->classes[i].members >= 2 || cp->classes[i].destroyed > 0)
			cp->classes[kept++] = cp->classes[i];
		else
			row_free(&cp->classes[i]);
	}
	cp->nclasses = kept;
	index_free(cp->index); /* its class entries are stale now */
	cp->index = NULL;
	for (size_t i = 0; i < cp->nlocks; i++)
		finish_row(&cp->locks[i]);
	for (size_t i = 0; i < cp->nclasses; i++)
		finish_row(&cp->classes[i]);
	cprofile_sort(cp, sort);
}

static enum csort sort_by; /* for qsort (the CLI is single-threaded) */

static uint64_t
sort_value(const struct crow *r, enum csort s)
{
	switch (s) {
	case CSORT_HOLD:
		return r->hold_ns;
	case CSORT_CONTENDED:
		return r->contended;
	case CSORT_ACQUISITIONS:
		return r->acquisitions;
	case CSORT_WAIT:
		break;
	}
	return r->wait_ns;
}

static int
row_cmp(const void *a, const void *b)
{
	const struct crow *x = a, *y = b;
	uint64_t u = sort_value(x, sort_by), v = sort_value(y, sort_by);
	int c;

	if (u != v)
		return u > v ? -1 : 1;
	if (x->wait_ns != y->wait_ns)
		return x->wait_ns > y->wait_ns ? -1 : 1;
	if (x->acquisitions != y->acquisitions)
		return x->acquisitions > y->acquisitions ? -1 : 1;
	if ((c = strcmp(x->name ? x->name : "", y->name ? y->name : "")) != 0)
		return c;
	return strcmp(x->key, y->key);
}

void
cprofile_sort(struct cprofile *cp, enum csort sort)
{
	sort_by = sort;
	if (cp->nlocks > 1) /* qsort's array must not be NULL, even empty */
		qsort(cp->locks, cp->nlocks, sizeof(cp->locks[0]), row_cmp);
	if (cp->nclasses > 1)
		qsort(cp->classes, cp->nclasses, sizeof(cp->classes[0]), row_cmp);
}

static const char *const sort_names[] = {"wait", "hold", "contended", "acquisitions"};

const char *
csort_name(enum csort s)
{
	return sort_names[s];
}

bool
csort_parse(const char *s, enum csort *out)
{
	for (size_t i = 0; i < sizeof(sort_names) / sizeof(sort_names[0]); i++) {
		if (strcmp(s, sort_names[i]) == 0) {
			*out = (enum csort)i;
			return true;
		}
	}
	return false;
}

/* ---- output --------------------------------------------------------------------- */

const char *
cformat_ns(uint64_t ns, char *buf, size_t bufsz)
{
	if (ns == 0)
		snprintf(buf, bufsz, "0");
	else if (ns < 1000)
		snprintf(buf, bufsz, "%" PRIu64 " ns", ns);
	else if (ns < 1000000)
		snprintf(buf, bufsz, "%.1f us", (double)ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, bufsz, "%.1f ms", (double)ns / 1e6);
	else if (ns < 100000000000ull)
		snprintf(buf, bufsz, "%.2f s", (double)ns / 1e9);
	else
		snprintf(buf, bufsz, "%.0f s", (double)ns / 1e9);
	return buf;
}

char *
csite_where(const struct csite *s)
{
	return fstack_where(&s->where);
}

static uint64_t
mean(uint64_t total, uint64_t n)
{
	return n ? total / n : 0;
}

static const char *
sort_words(enum csort s)
{
	switch (s) {
	case CSORT_HOLD:
		return "total hold time";
	case CSORT_CONTENDED:
		return "contended acquisitions";
	case CSORT_ACQUISITIONS:
		return "acquisitions";
	case CSORT_WAIT:
		break;
	}
	return "total wait";
}

static void
text_dur(FILE *out, uint64_t ns, bool known)
{
	char b[32];

	fprintf(out, "%12s", known ? cformat_ns(ns, b, sizeof(b)) : "-");
}

/* A hold time measured in only some of the row's processes gets a '*'. */
static void
text_hold(FILE *out, uint64_t ns, const struct crow *r)
{
	char b[32], m[40];

	if (!r->has_hold) {
		fprintf(out, "%12s", "-");
		return;
	}
	snprintf(m, sizeof(m), "%s%s", cformat_ns(ns, b, sizeof(b)),
	         r->hold_partial ? "*" : "");
	fprintf(out, "%12s", m);
}

/* A line of text_sites(): the sites of a role that name the same place. */
struct site_line {
	char *where;
	uint64_t count, wait_ns;
};

static int
by_count(const void *a, const void *b)
{
	const struct site_line *x = a, *y = b;

	return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

static int
by_wait(const void *a, const void *b)
{
	const struct site_line *x = a, *y = b;

	return x->wait_ns < y->wait_ns ? 1 : x->wait_ns > y->wait_ns ? -1 : by_count(a, b);
}

/*
 * r's sites of role as lines, worst first: sites that name the same place
 * are one line (two calls on one source line, or one call in a loop the
 * compiler unrolled, are two return addresses that read the same), else
 * the text would show "1 acquisition at f.c:12" twice. *n: how many.
 */
static struct site_line *
site_lines(const struct crow *r, enum csite_role role, size_t *n)
{
	struct site_line *l = xcalloc(r->nsite[role] ? r->nsite[role] : 1, sizeof(*l));

	*n = 0;
	for (size_t i = 0; i < r->nsite[role]; i++) {
		const struct csite *s = &r->site[role][i];
		char *w = csite_where(s);
		size_t k;

		for (k = 0; k < *n && strcmp(l[k].where, w) != 0; k++)
			;
		if (k == *n)
			l[(*n)++].where = w;
		else
			free(w);
		l[k].count += s->count;
		l[k].wait_ns += s->wait_ns;
	}
	qsort(l, *n, sizeof(*l), role == CSITE_ACQUIRE ? by_count : by_wait);
	return l;
}

static void
site_lines_free(struct site_line *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i].where);
	free(l);
}

static void
text_sites(FILE *out, const struct crow *r)
{
	char b[32];
	size_t n;
	struct site_line *l = site_lines(r, CSITE_WAIT, &n);
	bool waited = n != 0;

	for (size_t i = 0; i < n && i < 3; i++)
		fprintf(out, "          %" PRIu64 " wait%s (%s) at %s\n", l[i].count,
		        l[i].count == 1 ? "" : "s", cformat_ns(l[i].wait_ns, b, sizeof(b)),
		        l[i].where);
	site_lines_free(l, n);
	l = site_lines(r, CSITE_HOLDER, &n);
	for (size_t i = 0; i < n && i < 3; i++)
		fprintf(out,
		        "          %" PRIu64 " wait%s (%s) ended by releases at %s\n",
		        l[i].count, l[i].count == 1 ? "" : "s",
		        cformat_ns(l[i].wait_ns, b, sizeof(b)), l[i].where);
	site_lines_free(l, n);
	if (waited)
		return;
	l = site_lines(r, CSITE_ACQUIRE, &n);
	for (size_t i = 0; i < n && i < 3; i++)
		fprintf(out, "          %" PRIu64 " acquisition%s at %s\n", l[i].count,
		        l[i].count == 1 ? "" : "s", l[i].where);
	site_lines_free(l, n);
}

static void
text_table(FILE *out, const struct crow *rows, size_t n, size_t top, bool hold,
           bool procs, bool classes)
{
	size_t shown = top && top < n ? top : n;

	fprintf(out, "%6s", "rank");
	if (classes)
		fprintf(out, "%8s", "locks");
	fprintf(out, "%10s%11s%12s%12s%12s", "acquired", "contended", "total wait",
	        "mean wait", "max wait");
	if (hold)
		fprintf(out, "%12s%12s%12s", "total hold", "mean hold", "max hold");
	fprintf(out, "%7s", "sites");
	if (procs)
		fprintf(out, "%7s", "procs");
	fprintf(out, "  %s\n", classes ? "class" : "lock");
	for (size_t i = 0; i < shown; i++) {
		const struct crow *r = &rows[i];

		fprintf(out, "%6zu", i + 1);
		if (classes)
			fprintf(out, "%8" PRIu64, r->locks);
		fprintf(out, "%10" PRIu64 "%11" PRIu64, r->acquisitions, r->contended);
		text_dur(out, r->wait_ns, true);
		text_dur(out, mean(r->wait_ns, r->contended), true);
		text_dur(out, r->wait_max_ns, true);
		if (hold) {
			text_hold(out, r->hold_ns, r);
			text_hold(out, mean(r->hold_ns, r->holds), r);
			text_hold(out, r->hold_max_ns, r);
		}
		fprintf(out, "%7" PRIu64, r->sites);
		if (procs)
			fprintf(out, "%7zu", r->nprocs);
		fprintf(out, "  %s\n", r->name);
		text_sites(out, r);
	}
	if (shown < n)
		fprintf(out, "  (%zu more, not shown: --top %zu)\n", n - shown, top);
}

static void
text_processes(FILE *out, const struct cprofile *cp)
{
	const struct logproc *p = cp->procs[0].proc;
	const char *exe = p->exe && p->exe[0] ? p->exe : "?";
	size_t nlogs = 0;

	if (cp->nprocs == 1) {
		fprintf(out, "of pid %" PRIu64 " (%s)", cp->procs[0].pid, exe);
		return;
	}
	for (size_t i = 0; i < cp->nprocs; i++) {
		bool seen = false;

		for (size_t k = 0; k < i; k++)
			seen |= cp->procs[k].proc->file == cp->procs[i].proc->file;
		nlogs += !seen;
	}
	fprintf(out, "of %zu processes in %zu log%s", cp->nprocs, nlogs,
	        nlogs == 1 ? "" : "s");
}

void
cprofile_print_text(FILE *out, const struct cprofile *cp, enum csort sort, size_t top)
{
	bool procs = cp->nprocs > 1;

	if (cp->nrecords == 0) {
		fprintf(
		    out,
		    "No contention records in the logs (the runtime writes them at exit "
		    "unless stats=off).\n");
		return;
	}
	fprintf(out, "Lock contention ");
	text_processes(out, cp);
	fprintf(out, ", worst first by %s.\n\nLocks:\n", sort_words(sort));
	if (cp->nlocks)
		text_table(out, cp->locks, cp->nlocks, top, cp->any_hold, procs, false);
	else
		fprintf(
		    out,
		    "  none alive at exit: every lock was destroyed (see the classes)\n");
	if (cp->nclasses) {
		fprintf(out,
		        "\nClasses (every lock made by one init call, destroyed ones "
		        "included):\n");
		text_table(out, cp->classes, cp->nclasses, top, cp->any_hold, procs,
		           true);
	}
	fprintf(out, "\n%zu lock%s, %zu class%s", cp->nlocks, cp->nlocks == 1 ? "" : "s",
	        cp->nclasses, cp->nclasses == 1 ? "" : "es");
	if (!cp->any_hold)
		fprintf(out, "; no hold times (measured with stats=hold)");
	fprintf(out, ".\n");
	for (size_t i = 0; i < cp->nlocks + cp->nclasses; i++) {
		const struct crow *r =
		    i < cp->nlocks ? &cp->locks[i] : &cp->classes[i - cp->nlocks];

		if (r->hold_partial) {
			fprintf(out, "* hold times of only the processes that ran with "
			             "stats=hold.\n");
			break;
		}
	}
}

static void
json_site(FILE *out, const struct csite *s, enum csite_role role)
{
	const struct fframe *site = fstack_site(&s->where);
	char *w = csite_where(s);

	fputs("{\"where\":", out);
	fput_json_str(out, w);
	free(w);
	if (site && site->function) {
		fputs(",\"function\":", out);
		fput_json_str(out, site->function);
	}
	if (site && site->file) {
		fputs(",\"file\":", out);
		fput_json_str(out, site->file);
		fprintf(out, ",\"line\":%d", site->line);
	}
	if (site && site->module) {
		fputs(",\"module\":", out);
		fput_json_str(out, site->module);
		fprintf(out, ",\"module_offset\":\"0x%" PRIx64 "\"", site->module_offset);
	}
	fprintf(out, ",\"pc\":\"0x%" PRIx64 "\"", s->frame.pc);
	if (role == CSITE_ACQUIRE)
		fprintf(out, ",\"acquisitions\":%" PRIu64 "}", s->count);
	else
		fprintf(out, ",\"count\":%" PRIu64 ",\"wait_ns\":%" PRIu64 "}", s->count,
		        s->wait_ns);
}

static void
json_rows(FILE *out, const struct crow *rows, size_t n, size_t top)
{
	size_t shown = top && top < n ? top : n;

	for (size_t i = 0; i < shown; i++) {
		const struct crow *r = &rows[i];

		fprintf(out, "%s\n{\"rank\":%zu,\"scope\":\"%s\",\"name\":", i ? "," : "",
		        i + 1, r->scope == CROW_LOCK ? "lock" : "class");
		fput_json_str(out, r->name);
		fputs(",\"identity\":", out);
		fput_json_str(out, r->key);
		fprintf(out, ",\"processes\":%zu", r->nprocs);
		if (r->scope == CROW_CLASS)
			fprintf(out, ",\"locks\":%" PRIu64 ",\"destroyed\":%" PRIu64,
			        r->locks, r->destroyed);
		fprintf(out,
		        ",\"acquisitions\":%" PRIu64 ",\"contended\":%" PRIu64
		        ",\"wait_ns\":%" PRIu64 ",\"wait_mean_ns\":%" PRIu64
		        ",\"wait_max_ns\":%" PRIu64,
		        r->acquisitions, r->contended, r->wait_ns,
		        mean(r->wait_ns, r->contended), r->wait_max_ns);
		if (r->has_hold)
			fprintf(out,
			        ",\"holds\":%" PRIu64 ",\"hold_ns\":%" PRIu64
			        ",\"hold_mean_ns\":%" PRIu64 ",\"hold_max_ns\":%" PRIu64
			        ",\"hold_partial\":%s",
			        r->holds, r->hold_ns, mean(r->hold_ns, r->holds),
			        r->hold_max_ns, r->hold_partial ? "true" : "false");
		fprintf(out, ",\"sites\":%" PRIu64, r->sites);
		for (int k = 0; k < CSITE_ROLES; k++) {
			fprintf(out, ",\"%s\":[", site_fields[k]);
			for (size_t j = 0; j < r->nsite[k]; j++) {
				if (j)
					fputc(',', out);
				json_site(out, &r->site[k][j], (enum csite_role)k);
			}
			fputc(']', out);
		}
		fputc('}', out);
	}
}

void
cprofile_print_json(FILE *out, const struct cprofile *cp, enum csort sort, size_t top)
{
	fprintf(out, "{\"lockhound\":1,\"sort\":\"%s\",\"hold_times\":%s,\"processes\":[",
	        csort_name(sort), cp->any_hold ? "true" : "false");
	for (size_t i = 0; i < cp->nprocs; i++) {
		fputs(i ? ",{\"log\":" : "{\"log\":", out);
		fput_json_str(out, cp->procs[i].proc->file->path);
		fprintf(out, ",\"pid\":%" PRIu64 ",\"exe\":", cp->procs[i].pid);
		fput_json_str(out, cp->procs[i].proc->exe);
		fputc('}', out);
	}
	fprintf(out, "],\"total_locks\":%zu,\"total_classes\":%zu,\"locks\":[",
	        cp->nlocks, cp->nclasses);
	json_rows(out, cp->locks, cp->nlocks, top);
	fputs("\n],\"classes\":[", out);
	json_rows(out, cp->classes, cp->nclasses, top);
	fputs("\n]}\n", out);
}

/* One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. */
static void
csv_str(FILE *out, const char *s)
{
	if (!s)
		s = "";
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

static void
csv_site(FILE *out, const struct crow *r, enum csite_role role)
{
	char *w = r->nsite[role] ? csite_where(&r->site[role][0]) : NULL;

	fputc(',', out);
	csv_str(out, w);
	if (r->nsite[role])
		fprintf(out, ",%" PRIu64,
		        role == CSITE_ACQUIRE ? r->site[role][0].count
		                              : r->site[role][0].wait_ns);
	else
		fputc(',', out);
	free(w);
}

static void
csv_rows(FILE *out, const struct crow *rows, size_t n, size_t top)
{
	size_t shown = top && top < n ? top : n;

	for (size_t i = 0; i < shown; i++) {
		const struct crow *r = &rows[i];

		fprintf(out, "%s,%zu,", r->scope == CROW_LOCK ? "lock" : "class", i + 1);
		csv_str(out, r->name);
		fprintf(out, ",%zu,", r->nprocs);
		if (r->scope == CROW_CLASS)
			fprintf(out, "%" PRIu64, r->locks);
		fprintf(out, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64,
		        r->acquisitions, r->contended, r->wait_ns,
		        mean(r->wait_ns, r->contended), r->wait_max_ns);
		if (r->has_hold)
			fprintf(out, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64,
			        r->holds, r->hold_ns, mean(r->hold_ns, r->holds),
			        r->hold_max_ns);
		else
			fputs(",,,,", out);
		fprintf(out, ",%" PRIu64, r->sites);
		csv_site(out, r, CSITE_WAIT);
		csv_site(out, r, CSITE_HOLDER);
		csv_site(out, r, CSITE_ACQUIRE);
		fputs("\r\n", out);
	}
}

void
cprofile_print_csv(FILE *out, const struct cprofile *cp, size_t top)
{
	fputs(
	    "scope,rank,name,processes,locks,acquisitions,contended,wait_ns,wait_mean_ns,"
	    "wait_max_ns,holds,hold_ns,hold_mean_ns,hold_max_ns,sites,top_wait_site,"
	    "top_wait_site_ns,top_holder_site,top_holder_site_ns,top_acquire_site,"
	    "top_acquire_site_acquisitions\r\n",
	    out);
	csv_rows(out, cp->locks, cp->nlocks, top);
	csv_rows(out, cp->classes, cp->nclasses, top);
}
