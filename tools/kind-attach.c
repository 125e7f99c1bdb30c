/*
 * explain: the thread dumps of lockhound attach (attach-dump records), told
 * as a note: every thread, its state, the lock it waits for, and its stack.
 * (Its deadlock records are the runtime's layout: kind-deadlock.c.)
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
	return thread_label(tid, name);
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
