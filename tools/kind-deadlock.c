/*
 * explain: deadlock records (lib/deadlock.c), threads that are deadlocked
 * now. Told member by member ("thread 11 holds lock_a (taken at f.c:9) and
 * waits for lock_b at f.c:10"), then why it cannot end and what to change,
 * then every thread's wait stack and the stacks where it took its locks,
 * and the locks other threads held at the time.
 *
 * Three shapes: a cycle of two or more threads (a lock-order inversion that
 * happened), a thread waiting for a lock it holds itself, and a chain of
 * waits that ends at a lock whose holder has exited.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"

#define MAX_MEMBERS 4096
#define MAX_HELD    1024

struct held {
	uint64_t lock; /* 0 if unknown */
	bool has_lock;
	uint64_t addr;
	bool read;
	bool has_ms;
	uint64_t ms;
	bool partial;
	struct logframe *frames;
	size_t n;
};

struct member {
	uint64_t tid;
	const char *name;
	uint64_t wait_lock, wait_addr;
	bool has_wait_lock, wait_read;
	bool has_ms;
	uint64_t waited_ms;
	const char *state; /* other threads */
	struct logframe *frames;
	size_t n;
	struct held *held;
	size_t nheld;
};

static void
member_free(struct member *m)
{
	free(m->frames);
	for (size_t i = 0; i < m->nheld; i++)
		free(m->held[i].frames);
	free(m->held);
}

static bool
decode_held(const struct json_value *arr, struct member *m, char *why, size_t whysz)
{
	if (!arr)
		return true;
	if (arr->type != JSON_ARRAY || arr->n > MAX_HELD) {
		snprintf(why, whysz,
		         "deadlock record: \"held\" is not an array of held locks");
		return false;
	}
	m->held = xcalloc(arr->n, sizeof(*m->held));
	for (uint32_t i = 0; i < arr->n; i++) {
		const struct json_value *h = &arr->items[i];
		struct held *x = &m->held[m->nheld++];
		const char *mode = json_get_str(h, "mode");
		const struct json_value *part = json_get(h, "stack_partial");

		if (h->type != JSON_OBJECT) {
			snprintf(why, whysz,
			         "deadlock record: a held lock is not an object");
			return false;
		}
		x->has_lock = json_get_u64(h, "lock", &x->lock);
		json_get_hex(h, "addr", &x->addr);
		x->read = mode && strcmp(mode, "read") == 0;
		x->has_ms = json_get_u64(h, "held_ms", &x->ms);
		x->partial = part && part->type == JSON_TRUE;
		if (json_get(h, "stack") &&
		    !logframes_decode(json_get(h, "stack"), &x->frames, &x->n, why,
		                      whysz))
			return false;
	}
	return true;
}

static bool
decode_member(const struct json_value *v, struct member *m, bool waits, char *why,
              size_t whysz)
{
	const struct json_value *w = json_get_object(v, "waits_for");

	if (v->type != JSON_OBJECT || !json_get_u64(v, "tid", &m->tid)) {
		snprintf(why, whysz, "deadlock record: a thread without \"tid\"");
		return false;
	}
	m->name = json_get_str(v, "name");
	m->state = json_get_str(v, "state");
	if (waits) {
		const char *mode = json_get_str(w, "mode");

		if (!w) {
			snprintf(why, whysz,
			         "deadlock record: a thread of the cycle without "
			         "\"waits_for\"");
			return false;
		}
		m->has_wait_lock = json_get_u64(w, "lock", &m->wait_lock);
		json_get_hex(w, "addr", &m->wait_addr);
		m->wait_read = mode && strcmp(mode, "read") == 0;
		m->has_ms = json_get_u64(v, "waited_ms", &m->waited_ms);
		if (json_get(v, "stack") &&
		    !logframes_decode(json_get(v, "stack"), &m->frames, &m->n, why,
		                      whysz))
			return false;
	}
	return decode_held(json_get(v, "held"), m, why, whysz);
}

static char *
thread_text(const struct member *m)
{
	return thread_label(m->tid, m->name);
}

static const char *
tid_of(const struct member *m, char buf[24])
{
	snprintf(buf, 24, "%" PRIu64, m->tid);
	return buf;
}

static char *
lock_text(struct logproc *p, uint64_t pid, bool has_id, uint64_t id, uint64_t addr)
{
	const struct loglock *lk = has_id ? logproc_lock(p, pid, id) : NULL;

	return lk ? lock_display(p, lk) : xasprintf("the lock at 0x%" PRIx64, addr);
}

static void
add_lock(struct finding *f, struct logproc *p, uint64_t pid, bool has_id, uint64_t id)
{
	const struct loglock *lk = has_id ? logproc_lock(p, pid, id) : NULL;

	if (lk)
		finding_add_lock(f, p, lk);
}

/* The held lock of m that is the lock (id or address) w, or NULL. */
static const struct held *
holding(const struct member *m, bool has_id, uint64_t id, uint64_t addr)
{
	for (size_t i = 0; i < m->nheld; i++) {
		const struct held *h = &m->held[i];

		if ((has_id && h->has_lock && h->lock == id) || (addr && h->addr == addr))
			return h;
	}
	return NULL;
}

static void
cat(char **acc, char *s)
{
	char *n = xasprintf("%s%s", *acc ? *acc : "", s);

	free(*acc);
	free(s);
	*acc = n;
}

/* Stacks of one thread's held locks; returns the index of the stack of
 * `mark` (or -1). */
static int
held_stacks(struct finding *f, struct logproc *p, uint64_t pid, const struct member *m,
            const char *who, const struct held *mark)
{
	int at = -1;

	for (size_t i = 0; i < m->nheld; i++) {
		const struct held *h = &m->held[i];
		char *lock = lock_text(p, pid, h->has_lock, h->lock, h->addr);
		char *since = h->has_ms ? xasprintf(" for about %" PRIu64 " ms", h->ms)
		                        : xstrdup0("");
		char *label = xasprintf(
		    "%s holds %s%s%s, taken at%s:", who, lock,
		    h->read ? " for reading" : "", since,
		    h->partial ? " (only the lock call is known, not its callers)" : "");

		if (h == mark)
			at = (int)f->nstacks;
		finding_add_stack(f, p, label, h->frames, h->n);
		free(lock);
		free(since);
		free(label);
	}
	return at;
}

bool
explain_deadlock(struct logproc *p, const struct logrecord *r, struct finding *f,
                 char *why, size_t whysz)
{
	const struct json_value *cyc = json_get_array(r->v, "cycle");
	const struct json_value *ex = json_get_object(r->v, "exited_holder");
	const struct json_value *others = json_get_array(r->v, "threads");
	const char *cause = json_get_str(r->v, "cause");
	struct member *m, dead = {0}, *o = NULL;
	size_t n, no = 0;
	uint64_t pid = p->pid;
	bool exited = cause && strcmp(cause, "holder-exited") == 0, ok = true;
	char **who, **waited, **wat, **hat, *text = NULL;
	const struct held **rel;
	int *wstack, *hstack, dstack = -1;

	if (!cyc || cyc->n == 0) {
		snprintf(why, whysz, "deadlock record without \"cycle\"");
		return false;
	}
	if (cyc->n > MAX_MEMBERS) {
		snprintf(why, whysz, "deadlock record with more than %d threads",
		         MAX_MEMBERS);
		return false;
	}
	json_get_u64(r->v, "pid", &pid);
	n = cyc->n;
	m = xcalloc(n, sizeof(*m));
	for (size_t i = 0; i < n && ok; i++)
		ok = decode_member(&cyc->items[i], &m[i], true, why, whysz);
	if (ok && exited) {
		if (!ex) {
			snprintf(why, whysz,
			         "deadlock record: cause holder-exited without "
			         "\"exited_holder\"");
			ok = false;
		} else {
			ok = decode_member(ex, &dead, false, why, whysz);
		}
	}
	if (ok && others) {
		o = xcalloc(others->n > MAX_MEMBERS ? MAX_MEMBERS : others->n,
		            sizeof(*o));
		for (uint32_t i = 0; i < others->n && i < MAX_MEMBERS && ok; i++)
			ok =
			    decode_member(&others->items[i], &o[no++], false, why, whysz);
	}
	if (!ok) {
		for (size_t i = 0; i < n; i++)
			member_free(&m[i]);
		for (size_t i = 0; i < no; i++)
			member_free(&o[i]);
		member_free(&dead);
		free(m);
		free(o);
		return false;
	}

	who = xcalloc(n, sizeof(*who));
	waited = xcalloc(n, sizeof(*waited));
	wat = xcalloc(n, sizeof(*wat));
	hat = xcalloc(n, sizeof(*hat));
	rel = xcalloc(n, sizeof(*rel));
	wstack = xcalloc(n, sizeof(*wstack));
	hstack = xcalloc(n, sizeof(*hstack));
	/* Member i waits for waited[i], which the next member holds. */
	for (size_t i = 0; i < n; i++) {
		who[i] = thread_text(&m[i]);
		waited[i] =
		    lock_text(p, pid, m[i].has_wait_lock, m[i].wait_lock, m[i].wait_addr);
		add_lock(f, p, pid, m[i].has_wait_lock, m[i].wait_lock);
	}
	for (size_t i = 0; i < n; i++) {
		const struct member *prev = i ? &m[i - 1] : exited ? NULL : &m[n - 1];

		rel[i] = prev ? holding(&m[i], prev->has_wait_lock, prev->wait_lock,
		                        prev->wait_addr)
		              : NULL;
	}
	/* Stacks first, so that the words can name their sites. */
	for (size_t i = 0; i < n; i++) {
		char *since = m[i].has_ms
		                  ? xasprintf(" (for %" PRIu64 " ms)", m[i].waited_ms)
		                  : xstrdup0("");
		char *label =
		    xasprintf("%s waits %s %s%s, at:", who[i],
		              m[i].wait_read ? "to read" : "for", waited[i], since);

		wstack[i] = (int)f->nstacks;
		finding_add_stack(f, p, label, m[i].frames, m[i].n);
		hstack[i] = held_stacks(f, p, pid, &m[i], who[i], rel[i]);
		free(since);
		free(label);
	}
	if (exited) {
		char *d = thread_text(&dead), *dw = xasprintf("%s (exited)", d);

		dstack = held_stacks(f, p, pid, &dead, dw,
		                     holding(&dead, m[n - 1].has_wait_lock,
		                             m[n - 1].wait_lock, m[n - 1].wait_addr));
		free(d);
		free(dw);
	}
	for (size_t i = 0; i < no; i++) {
		char *t = thread_text(&o[i]);
		char *w = xasprintf("%s (not in the deadlock: %s)", t,
		                    o[i].state ? o[i].state : "state unknown");

		held_stacks(f, p, pid, &o[i], w, NULL);
		free(t);
		free(w);
	}
	for (size_t i = 0; i < n; i++) {
		wat[i] = fstack_where(&f->stacks[wstack[i]]);
		hat[i] = hstack[i] >= 0
		             ? fframe_where(fstack_site(&f->stacks[hstack[i]]), false)
		             : xstrdup0("an unknown place");
	}

	f->level = LEVEL_ERROR;
	f->primary = wstack[0];
	if (exited) {
		char *d = thread_text(&dead);
		char *dat = dstack >= 0
		                ? fframe_where(fstack_site(&f->stacks[dstack]), true)
		                : xstrdup0("an unknown place");

		for (size_t i = 0; i < n; i++) {
			if (i + 1 < n)
				cat(&text,
				    xasprintf("%s waits %s %s at %s, which %s holds; ",
				              who[i], m[i].wait_read ? "to read" : "for",
				              waited[i], wat[i], who[i + 1]));
			else
				cat(&text,
				    xasprintf(
				        "%s waits %s %s at %s, but %s took it at %s and "
				        "exited without releasing it.",
				        who[i], m[i].wait_read ? "to read" : "for",
				        waited[i], wat[i], d, dat));
		}
		cat(&text,
		    xstrdup0(n == 1
		                 ? " Nobody can ever release it: this thread will never "
		                   "go on."
		                 : " Nobody can ever release it: these threads will "
		                   "never go on."));
		f->title =
		    n == 1 ? xasprintf("%s waits forever for %s: its holder, %s, exited",
		                       who[0], waited[0], d)
		           : xasprintf("%zu threads wait forever: %s exited holding %s",
		                       n, d, waited[n - 1]);
		f->advice = xasprintf("release every lock before a thread returns or "
		                      "calls pthread_exit: look "
		                      "for an early return or an error path between %s "
		                      "and the end of %s. A "
		                      "lock that must survive a thread that dies holding "
		                      "it can be a robust "
		                      "mutex (PTHREAD_MUTEX_ROBUST): the next locker "
		                      "gets EOWNERDEAD instead "
		                      "of waiting forever.",
		                      dat, d);
		if (dstack >= 0)
			f->primary = dstack;
		free(d);
		free(dat);
	} else if (n == 1) {
		const struct held *h = rel[0];
		bool upgrade = h && h->read && !m[0].wait_read;

		text = xasprintf(
		    "%s waits %s %s at %s, but it holds %s itself%s (taken at %s). %s",
		    who[0], m[0].wait_read ? "to read" : "for", waited[0], wat[0],
		    waited[0], h && h->read ? " for reading" : "", hat[0],
		    upgrade ? "A write lock waits until every reader has left, this "
		              "thread included: it will never go on."
		            : "A lock taken again by its own holder never returns "
		              "(unless it is a recursive mutex): this thread will never "
		              "go on.");
		f->title =
		    xasprintf("%s is deadlocked with itself on %s", who[0], waited[0]);
		f->advice = xstrdup0(
		    upgrade
		        ? "an rwlock cannot be upgraded in place: release the read lock "
		          "before taking it for writing (and check again what you read), "
		          "or take it for writing from the start."
		        : "do not take the lock again: let the inner code run with the "
		          "lock "
		          "already held (a *_locked variant of the function), or make "
		          "the "
		          "mutex recursive if re-entry is intended.");
	} else {
		char *order = NULL, *cycle = NULL, tidbuf[24];

		/* Member i holds waited[i - 1] (member 0: waited[n - 1]). */
		for (size_t i = 0; i < n; i++) {
			size_t held = (i + n - 1) % n;

			cat(&text,
			    xasprintf("thread %" PRIu64
			              " holds %s%s (taken at %s) and waits "
			              "%s %s at %s%s%s%s",
			              m[i].tid, waited[held],
			              rel[i] && rel[i]->read ? " for reading" : "",
			              hat[i], m[i].wait_read ? "to read" : "for",
			              waited[i], wat[i], n > 2 ? ", held by thread " : "",
			              n > 2 ? tid_of(&m[(i + 1) % n], tidbuf) : "",
			              i + 1 < n ? "; " : "."));
			cat(&order, xasprintf("%s%s", i ? ", then " : "", waited[held]));
			cat(&cycle, xasprintf("%s%s", i ? " => " : "", waited[held]));
		}
		cat(&cycle, xasprintf(" => %s", waited[n - 1]));
		{
			char *head = NULL, *all;

			for (size_t i = 0; i < n; i++)
				cat(&head, xasprintf("%s%s",
				                     i == 0      ? ""
				                     : i + 1 < n ? ", "
				                                 : " and ",
				                     who[i] + strlen("thread ")));
			all = xasprintf(
			    "Threads %s are deadlocked now: %s %s This process will not "
			    "recover.",
			    head, text,
			    n == 2
			        ? "Each waits for the other forever."
			        : "Each waits for a lock the next one holds, forever.");
			free(text);
			text = all;
			free(head);
		}
		f->title = n == 2 ? xasprintf("threads %" PRIu64 " and %" PRIu64
		                              " are deadlocked on %s and %s",
		                              m[0].tid, m[1].tid, waited[1], waited[0])
		                  : xasprintf("%zu threads are deadlocked: %s", n, cycle);
		/* Keep the order of the first n - 1 members; the last one breaks it. */
		char *change = fframe_where(fstack_site(&f->stacks[wstack[n - 1]]), true);

		f->advice = xasprintf(
		    "take these locks in one order everywhere, for example %s: that "
		    "means "
		    "changing %s, where %s takes %s while holding %s. Or make the paths "
		    "exclusive by holding one common lock around them, or take the inner "
		    "lock with a trylock and back off when it fails. Runs that do not "
		    "hang "
		    "report this as a lock-order-inversion, so the tests can find it "
		    "before "
		    "production does.",
		    order, change, who[n - 1], waited[n - 1], waited[(2 * n - 2) % n]);
		free(change);
		f->primary = wstack[n - 1];
		free(order);
		free(cycle);
	}
	text[0] = (char)(text[0] == 't' ? 'T' : text[0]);
	f->text = text;

	for (size_t i = 0; i < n; i++) {
		free(who[i]);
		free(waited[i]);
		free(wat[i]);
		free(hat[i]);
		member_free(&m[i]);
	}
	for (size_t i = 0; i < no; i++)
		member_free(&o[i]);
	member_free(&dead);
	free(m);
	free(o);
	free(who);
	free(waited);
	free(wat);
	free(hat);
	free(rel);
	free(wstack);
	free(hstack);
	return true;
}
