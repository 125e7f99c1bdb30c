/*
 * explain: data-race records (lib/race.c). Says which variable, what each
 * side did where ("thread 12 read counter at counter.c:26 in add while
 * thread 13 wrote it at counter.c:26 in add"), which locks each side held
 * and why they did not help (none, none in common, shared only for
 * reading, an atomic mixed with a plain access), then what to change, then
 * both stacks.
 *
 * A value-change record has one access: the value changed under it and
 * no instrumented access was seen, so the writer is uninstrumented code or
 * the kernel.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"

#define MAX_HELD 64

struct held {
	bool has_lock;
	uint64_t lock, addr;
	bool read;
};

struct access {
	uint64_t tid, addr, size, more;
	const char *name;
	bool write, atomic;
	struct logframe *frames;
	size_t n;
	struct held held[MAX_HELD];
	size_t nheld;
};

static bool
is_true(const struct json_value *obj, const char *key)
{
	const struct json_value *v = json_get(obj, key);

	return v && v->type == JSON_TRUE;
}

static bool
decode_access(const struct json_value *v, struct access *a, char *why, size_t whysz)
{
	const struct json_value *th = json_get_object(v, "thread");
	const struct json_value *held = json_get(v, "held");

	if (!v || v->type != JSON_OBJECT || !json_get_u64(th, "tid", &a->tid)) {
		snprintf(why, whysz,
		         "data-race record: an access without \"thread\".\"tid\"");
		return false;
	}
	a->name = json_get_str(th, "name");
	json_get_hex(v, "addr", &a->addr);
	json_get_u64(v, "size", &a->size);
	json_get_u64(v, "held_more", &a->more);
	a->write = is_true(v, "write");
	a->atomic = is_true(v, "atomic");
	if (held && (held->type != JSON_ARRAY || held->n > MAX_HELD)) {
		snprintf(why, whysz,
		         "data-race record: \"held\" is not an array of locks");
		return false;
	}
	for (uint32_t i = 0; held && i < held->n; i++) {
		const struct json_value *h = &held->items[i];
		struct held *x = &a->held[a->nheld++];
		const char *mode = json_get_str(h, "mode");

		if (h->type != JSON_OBJECT) {
			snprintf(why, whysz,
			         "data-race record: a held lock is not an object");
			return false;
		}
		x->has_lock = json_get_u64(h, "lock", &x->lock);
		json_get_hex(h, "addr", &x->addr);
		x->read = mode && strcmp(mode, "read") == 0;
	}
	return !json_get(v, "stack") ||
	       logframes_decode(json_get(v, "stack"), &a->frames, &a->n, why, whysz);
}

static bool
same_lock(const struct held *x, const struct held *y)
{
	if (x->has_lock && y->has_lock)
		return x->lock == y->lock;
	return x->addr && x->addr == y->addr;
}

static char *
held_name(struct logproc *p, uint64_t pid, const struct held *h)
{
	const struct loglock *lk = h->has_lock ? logproc_lock(p, pid, h->lock) : NULL;

	return lk ? lock_display(p, lk) : xasprintf("the lock at 0x%" PRIx64, h->addr);
}

/* "holding no locks", "holding a and b for reading" */
static char *
holding_text(struct logproc *p, uint64_t pid, const struct access *a)
{
	char *s = xstrdup0(a->nheld ? "holding " : "holding no locks");

	for (size_t i = 0; i < a->nheld; i++) {
		char *name = held_name(p, pid, &a->held[i]);
		char *n = xasprintf("%s%s%s%s", s,
		                    i == 0                          ? ""
		                    : i + 1 == a->nheld && !a->more ? " and "
		                                                    : ", ",
		                    name, a->held[i].read ? " for reading" : "");

		free(name);
		free(s);
		s = n;
	}
	if (a->more) {
		char *n = xasprintf("%s and %" PRIu64 " more", s, a->more);

		free(s);
		s = n;
	}
	return s;
}

static char *
thread_text(const struct access *a)
{
	return thread_label(a->tid, a->name);
}

/* "read", "wrote", "atomically read" */
static const char *
verb(const struct access *a)
{
	if (a->atomic)
		return a->write ? "atomically wrote" : "atomically read";
	return a->write ? "wrote" : "read";
}

/* The name of the variable: from DWARF, the record's ELF symbol, or the
 * address. */
static char *
variable(struct logproc *p, const struct logrecord *r, uint64_t addr)
{
	const struct json_value *sym = json_get_object(r->v, "symbol");
	struct symbolizer *s = proc_symbolizer(p);
	const char *name = json_get_str(sym, "name");
	uint64_t off = 0;

	if (s && addr) {
		struct sym_data d = {0};

		sym_data(s, addr, &d);
		if (d.status == SYM_OK && d.name)
			return xstrdup0(d.name);
	}
	if (name) {
		json_get_u64(sym, "offset", &off);
		return off ? xasprintf("%s+0x%" PRIx64, name, off) : xstrdup0(name);
	}
	return xasprintf("the memory at 0x%" PRIx64, addr);
}

static void
add_side(struct finding *f, struct logproc *p, uint64_t pid, const struct access *a,
         const char *var)
{
	char *who = thread_text(a), *holding = holding_text(p, pid, a);
	/* "counter (8 bytes at 0x55..)", or "the memory at 0x55.. (8 bytes)" */
	char *what = strncmp(var, "the memory at ", 14) == 0
	                 ? xasprintf("%s (%" PRIu64 " byte%s)", var, a->size,
	                             a->size == 1 ? "" : "s")
	                 : xasprintf("%s (%" PRIu64 " byte%s at 0x%" PRIx64 ")", var, a->size,
	                             a->size == 1 ? "" : "s", a->addr);
	char *label = xasprintf("%s %s %s, %s, at:", who, verb(a), what, holding);

	finding_add_stack(f, p, label, a->frames, a->n);
	for (size_t i = 0; i < a->nheld; i++) {
		const struct loglock *lk =
		    a->held[i].has_lock ? logproc_lock(p, pid, a->held[i].lock) : NULL;

		if (lk)
			finding_add_lock(f, p, lk);
	}
	free(label);
	free(what);
	free(holding);
	free(who);
}

/* Why the locks did not order the two accesses, and what to change. */
static void
why_unordered(struct finding *f, struct logproc *p, uint64_t pid, const struct access *a,
              const struct access *b, const char *var, char **why_text)
{
	const struct held *common = NULL;

	for (size_t i = 0; i < a->nheld && !common; i++)
		for (size_t k = 0; k < b->nheld; k++)
			if (same_lock(&a->held[i], &b->held[k]) &&
			    (a->held[i].read && b->held[k].read))
				common = &a->held[i];
	if (a->atomic != b->atomic) {
		*why_text =
		    xasprintf("One of them is atomic and the other is not: an atomic "
		              "access orders nothing against a plain one.");
		f->advice =
		    xasprintf("make every access to %s atomic (_Atomic, or the __atomic "
		              "builtins), or protect every access with one lock.",
		              var);
	} else if (common) {
		char *lock = held_name(p, pid, common);

		*why_text =
		    xasprintf("Both held %s, but only for reading: readers do not "
		              "exclude each other, so a write under a read lock races "
		              "with every reader.",
		              lock);
		f->advice =
		    xasprintf("take %s for writing (pthread_rwlock_wrlock) around the "
		              "code that changes %s.",
		              lock, var);
		free(lock);
	} else if (a->nheld || b->nheld) {
		const struct access *one = a->nheld ? a : b;
		char *lock = held_name(p, pid, &one->held[0]);

		*why_text =
		    xasprintf("The two threads hold no lock in common, so nothing "
		              "keeps the accesses apart.");
		f->advice =
		    xasprintf("protect every access to %s with the same lock (%s, "
		              "say, which one side already holds), or make them all "
		              "atomic.",
		              var, lock);
		free(lock);
	} else {
		*why_text = xstrdup0("");
		f->advice =
		    xasprintf("protect every access to %s with one lock, or make "
		              "them all atomic (_Atomic, or the __atomic builtins).",
		              var);
	}
}

bool
explain_data_race(struct logproc *p, const struct logrecord *r, struct finding *f,
                  char *why, size_t whysz)
{
	const struct json_value *acc = json_get_array(r->v, "accesses");
	const char *how = json_get_str(r->v, "how");
	bool change = how && strcmp(how, "value-change") == 0;
	struct access a = {0}, b = {0};
	uint64_t pid = p->pid, addr = 0;
	char *var, *ta, *wa, *hold_a;
	bool ok = false;

	json_get_u64(r->v, "pid", &pid);
	json_get_hex(r->v, "addr", &addr);
	if (!acc || acc->n < (change ? 1u : 2u)) {
		snprintf(why, whysz, "data-race record: \"accesses\" has fewer than %s",
		         change ? "one access" : "two accesses");
		return false;
	}
	if (!decode_access(&acc->items[0], &a, why, whysz) ||
	    (!change && !decode_access(&acc->items[1], &b, why, whysz)))
		goto out;
	if (!addr)
		addr = a.addr;
	var = variable(p, r, addr);
	add_side(f, p, pid, &a, var);
	if (!change)
		add_side(f, p, pid, &b, var);
	ta = thread_text(&a);
	ta[0] = 'T';
	wa = fstack_where(&f->stacks[0]);
	hold_a = holding_text(p, pid, &a);
	f->rule = xstrdup0("data-race");
	f->level = LEVEL_ERROR;
	if (change) {
		const char *old = json_get_str(r->v, "old"),
		           *new = json_get_str(r->v, "new");

		f->title =
		    xasprintf("%s changed under a %s, by a writer lockhound cannot see",
		              var, a.write ? "write" : "read");
		f->text = xasprintf("%s %s %s at %s, %s, and while that access was under "
		                    "way the value changed "
		                    "(from %s to %s) without any instrumented access: "
		                    "the writer runs code "
		                    "built without -fsanitize=thread (a library, "
		                    "assembly) or is the kernel.",
		                    ta, verb(&a), var, wa, hold_a, old ? old : "?",
		                    new ? new : "?");
		f->advice =
		    xasprintf("find who else writes %s (a watchpoint in gdb: watch "
		              "-l %s), and protect both sides with one lock.",
		              var, var);
	} else {
		char *tb = thread_text(&b), *wb = fstack_where(&f->stacks[1]);
		char *hold_b = holding_text(p, pid, &b), *reason = NULL;

		f->title = xasprintf("%s of %s at the same moment",
		                     a.write && b.write ? "two writes"
		                     : a.write          ? "a write and a read"
		                                        : "a read and a write",
		                     var);
		why_unordered(f, p, pid, &a, &b, var, &reason);
		f->text = xasprintf("%s %s %s at %s, %s, while %s %s it at %s, %s. Both "
		                    "accesses were under "
		                    "way at the same moment and at least one writes, so "
		                    "the result depends on "
		                    "timing: updates get lost, and a reader can see a "
		                    "half-written value.%s%s",
		                    ta, verb(&a), var, wa, hold_a, tb, verb(&b), wb,
		                    hold_b, *reason ? " " : "", reason);
		free(reason);
		free(hold_b);
		free(wb);
		free(tb);
	}
	free(hold_a);
	free(wa);
	free(ta);
	free(var);
	ok = true;
out:
	free(a.frames);
	free(b.frames);
	return ok;
}
