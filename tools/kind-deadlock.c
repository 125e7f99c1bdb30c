/*
 * explain: deadlock records (the runtime's, and lockhound attach's), and
 * attach's thread dumps. A deadlock record without a "cycle" (some other
 * writer's layout) gets the generic handler: its message and stacks. A deadlock is told member by member ("thread T
 * waits for B at f.c:20 while holding A (taken at f.c:12)"), then why none
 * of them can go on and what to change, then every stack: where each waits,
 * and where each held lock was taken when the record knows it.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"

/* Appends s to *acc (both malloc'd; s is freed). */
static void
cat(char **acc, char *s)
{
	char *n = xasprintf("%s%s", *acc ? *acc : "", s);

	free(*acc);
	free(s);
	*acc = n;
}

static char *
thread_text(const struct json_value *t)
{
	uint64_t tid = 0;
	const char *name = json_get_str(t, "name");

	json_get_u64(t, "tid", &tid);
	return name && name[0] ? xasprintf("thread %" PRIu64 " \"%s\"", tid, name)
			       : xasprintf("thread %" PRIu64, tid);
}

/* The name of lock id (or "the lock at ADDR" when the record has no id). */
static char *
lock_name(struct logproc *p, uint64_t pid, const struct json_value *ref, struct finding *f,
	  bool add)
{
	uint64_t id, addr = 0;
	const struct loglock *lk;

	if (json_get_u64(ref, "lock", &id) && (lk = logproc_lock(p, pid, id)) != NULL) {
		bool seen = false;
		char *n = lock_display(p, lk);

		for (size_t i = 0; add && i < f->nlocks; i++)
			seen |= strcmp(f->locks[i], n) == 0;
		if (add && !seen)
			finding_add_lock(f, p, lk);
		return n;
	}
	json_get_hex(ref, "addr", &addr);
	return xasprintf("the lock at 0x%" PRIx64, addr);
}

/* Adds the frames of v as a stack; *out is its index in f->stacks (-1 if
 * none). An index, not a pointer: adding stacks moves them. */
static bool
add_frames(struct finding *f, struct logproc *p, const char *label, const struct json_value *v,
	   bool partial, long *out, char *why, size_t whysz)
{
	struct logframe *fr = NULL;
	size_t n = 0;
	struct fstack *s;

	*out = -1;
	if (!v)
		return true;
	if (!logframes_decode(v, &fr, &n, why, whysz))
		return false;
	s = finding_add_stack(f, p, label, fr, n);
	s->partial = partial;
	*out = (long)f->nstacks - 1;
	free(fr);
	return true;
}

/* "f.c:12 in fn (called from ...)" for stack i, or NULL. Caller frees. */
static char *
where_of(const struct finding *f, long i)
{
	return i >= 0 && f->stacks[i].n ? fstack_where(&f->stacks[i]) : NULL;
}

/* "f.c:12 in fn" for stack i, or NULL. Caller frees. */
static char *
site_of(const struct finding *f, long i)
{
	return i >= 0 && f->stacks[i].n ? fframe_where(fstack_site(&f->stacks[i]), true) : NULL;
}

/* ", while holding A (taken at f.c:12) and B" for a member's held locks;
 * their stacks are added to f. */
static bool
holding(struct finding *f, struct logproc *p, uint64_t pid, const struct json_value *held,
	char **out, char *why, size_t whysz)
{
	*out = NULL;
	for (uint32_t k = 0; held && k < held->n && k < 64; k++) {
		const struct json_value *h = &held->items[k];
		const struct json_value *partial = json_get(h, "stack_partial");
		char *name = lock_name(p, pid, h, f, true), *label;
		const char *mode = json_get_str(h, "mode");
		long s;
		char *w;

		label = xasprintf("%s was taken at:", name);
		if (!add_frames(f, p, label, json_get(h, "stack"),
				partial && partial->type == JSON_TRUE, &s, why, whysz)) {
			free(label);
			free(name);
			return false;
		}
		free(label);
		cat(out, xasprintf("%s%s%s", k == 0 ? " while holding " : k + 1 < held->n ? ", "
											    : " and ",
				   name, mode && strcmp(mode, "read") == 0 ? " for reading" : ""));
		if ((w = site_of(f, s)) != NULL) {
			cat(out, xasprintf(" (taken at %s)", w));
			free(w);
		}
		free(name);
	}
	return true;
}

bool
explain_deadlock(struct logproc *p, const struct logrecord *r, struct finding *f, char *why,
		 size_t whysz)
{
	const struct json_value *cycle = json_get_array(r->v, "cycle");
	const struct json_value *exited = json_get_object(r->v, "exited_holder");
	const char *cause = json_get_str(r->v, "cause");
	const char *source = json_get_str(r->v, "source");
	bool lost = cause && strcmp(cause, "holder-exited") == 0;
	bool join = false;
	uint64_t pid = p->pid;
	char *text = NULL, *names = NULL, *first = NULL;

	json_get_u64(r->v, "pid", &pid);
	if (!cycle)
		return explain_generic(p, r, f, why, whysz); /* another layout: its message */
	if (cycle->n == 0 || cycle->n > 4096) {
		snprintf(why, whysz, "deadlock with %s threads in its cycle",
			 cycle->n ? "more than 4096" : "no");
		return false;
	}
	for (uint32_t i = 0; i < cycle->n; i++) {
		const struct json_value *m = &cycle->items[i];
		const struct json_value *wf = json_get_object(m, "waits_for");
		char *th, *label, *held, *where, *what;
		long s;
		uint64_t joinee;

		if (m->type != JSON_OBJECT || !wf) {
			snprintf(why, whysz, "a deadlock member without \"waits_for\"");
			free(text);
			free(names);
			free(first);
			return false;
		}
		th = thread_text(m);
		if (json_get_u64(wf, "join", &joinee)) {
			what = xasprintf("thread %" PRIu64 " to exit (pthread_join)", joinee);
			join = true;
		} else {
			const char *mode = json_get_str(wf, "mode");
			char *n = lock_name(p, pid, wf, f, true);

			what = xasprintf("%s%s", n, mode && strcmp(mode, "read") == 0 ? " to read" : "");
			cat(&names, xasprintf("%s%s", names ? (i + 1 < cycle->n ? ", " : " and ") : "", n));
			if (!first)
				first = xstrdup0(n);
			free(n);
		}
		label = xasprintf("%s waits for %s at:", th, what);
		if (!add_frames(f, p, label, json_get(m, "stack"), false, &s, why, whysz) ||
		    !holding(f, p, pid, json_get_array(m, "held"), &held, why, whysz)) {
			free(label);
			free(th);
			free(what);
			free(text);
			free(names);
			free(first);
			return false;
		}
		where = where_of(f, s);
		cat(&text, xasprintf("%s%s waits for %s%s%s%s%s", i ? "; " : "", th, what,
				     where ? " at " : "", where ? where : "", held ? held : "",
				     i + 1 < cycle->n ? "" : "."));
		free(where);
		free(held);
		free(label);
		free(th);
		free(what);
	}
	text[0] = (char)(text[0] == 't' ? 'T' : text[0]);
	if (lost) {
		uint64_t tid = 0;
		const struct json_value *held = json_get_array(exited, "held");
		char *h = NULL;

		json_get_u64(exited, "tid", &tid);
		for (uint32_t k = 0; held && k < held->n && k < 64; k++) {
			char *n = lock_name(p, pid, &held->items[k], f, false), *label, *w;
			long s;

			label = xasprintf("thread %" PRIu64 " (exited) took %s at:", tid, n);
			if (!add_frames(f, p, label, json_get(&held->items[k], "stack"), false, &s,
					why, whysz)) {
				free(label);
				free(n);
				free(h);
				free(text);
				free(names);
				free(first);
				return false;
			}
			free(label);
			cat(&h, xasprintf("%s%s", k ? ", " : "", n));
			if ((w = site_of(f, s)) != NULL) {
				cat(&h, xasprintf(" (taken at %s)", w));
				free(w);
			}
			free(n);
		}
		cat(&text, xasprintf(" Thread %" PRIu64 ", which holds %s, has exited: nobody will "
				     "ever release it, and the wait never ends.",
				     tid, h ? h : "it"));
		free(h);
		f->title = xasprintf("a thread waits forever for %s, whose holder has exited",
				     first ? first : "a lock");
		f->advice = xstrdup0(
			"release every lock before a thread returns: check early returns, error "
			"paths and pthread_exit inside critical sections (a scoped guard does it), "
			"or make the mutex robust (PTHREAD_MUTEX_ROBUST) so that the next locker "
			"gets EOWNERDEAD and can repair the state.");
	} else if (cycle->n == 1 && !join) {
		cat(&text, xstrdup0(" It already holds that lock: a normal mutex locked twice by "
				    "its holder never returns."));
		f->title = xasprintf("a thread waits for %s, which it holds itself",
				     first ? first : "a lock");
		f->advice = xstrdup0("do not take the lock again: let the inner code run with the "
				     "lock held (a *_locked variant of the function), or make the "
				     "mutex recursive if re-entry is intended.");
	} else {
		cat(&text, xasprintf(" Each waits for %s the next one holds: none of them can ever "
				     "go on.",
				     join ? "something" : "a lock"));
		f->title = xasprintf("%u threads wait for each other%s%s", cycle->n,
				     names ? ": " : "", names ? names : "");
		f->advice = xstrdup0(
			join ? "never join a thread while holding a lock it may need; release the "
			       "lock first, or have the thread take it before it is joined."
			     : "take these locks in one order everywhere, or under one common lock, "
			       "or take the later ones with a trylock and back off when it fails. "
			       "The deadlocked process has to be restarted.");
	}
	if (source && strcmp(source, "attach") == 0)
		cat(&text, xstrdup0(" (Seen by lockhound attach in the running process.)"));
	f->text = text;
	f->primary = 0;
	free(names);
	free(first);
	return true;
}

/* attach-dump: a note with every thread, its state and stack. */
bool
explain_attach_dump(struct logproc *p, const struct logrecord *r, struct finding *f, char *why,
		    size_t whysz)
{
	const struct json_value *threads = json_get_array(r->v, "threads");
	uint64_t pid = p->pid;
	char *text = NULL;

	json_get_u64(r->v, "pid", &pid);
	if (!threads) {
		snprintf(why, whysz, "attach-dump without \"threads\"");
		return false;
	}
	for (uint32_t i = 0; i < threads->n && i < 4096; i++) {
		const struct json_value *t = &threads->items[i];
		const char *state = json_get_str(t, "state");
		const struct json_value *wf = json_get_object(t, "waits_for");
		char *th = thread_text(t), *label, *w = NULL;
		long s;

		if (wf && json_get(wf, "lock")) {
			char *n = lock_name(p, pid, wf, f, true);

			w = xasprintf(" for %s", n);
			free(n);
		}
		label = xasprintf("%s, %s%s:", th, state ? state : "?", w ? w : "");
		if (!add_frames(f, p, label, json_get(t, "stack"), false, &s, why, whysz)) {
			free(label);
			free(th);
			free(w);
			free(text);
			return false;
		}
		cat(&text, xasprintf("%s%s %s%s", i ? "; " : "", th, state ? state : "?", w ? w : ""));
		free(label);
		free(th);
		free(w);
	}
	f->title = xasprintf("the threads of pid %" PRIu64 ", as lockhound attach saw them", pid);
	if (text)
		cat(&text, xstrdup0("."));
	f->text = text;
	return true;
}
