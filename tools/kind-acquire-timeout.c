/*
 * explain: acquire-timeout records (lib/deadlock.c), an acquisition that
 * waited timeout_ms. Told as who waits for which lock and where, who holds
 * it, since about when and where it took it, and what the holder was doing
 * then (running, waiting for another lock, on a condition variable...),
 * which decides what to change. Stacks: the waiter's, where the holder took
 * the lock, and where the holder itself waited or was (the runtime asks a
 * holder that runs or reads; in_call names the call of one it left alone).
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"

static char *
thread_text(uint64_t tid, const char *name)
{
	return thread_label(tid, name);
}

bool
explain_acquire_timeout(struct logproc *p, const struct logrecord *r, struct finding *f,
                        char *why, size_t whysz)
{
	const struct json_value *th = json_get_object(r->v, "thread");
	const struct json_value *ho = json_get_object(r->v, "holder");
	const struct json_value *part = ho ? json_get(ho, "held_stack_partial") : NULL;
	const struct loglock *lk = NULL, *other = NULL;
	const char *mode = json_get_str(r->v, "mode"), *state = NULL, *in_call = NULL;
	struct logframe *wf = NULL, *hf = NULL, *of = NULL;
	size_t nw = 0, nh = 0, no = 0;
	uint64_t pid = p->pid, tid = 0, htid = 0, id, addr = 0, waited = 0, timeout = 0,
	         held_ms = 0;
	bool has_waited, has_timeout, has_held_ms = false,
	                              reading = mode && !strcmp(mode, "read");
	char *waiter, *holder = NULL, *lock, *other_name = NULL, *wat, *hat = NULL,
	              *oat = NULL;
	char *since, *now;
	int hstack = -1, ostack = -1;

	if (!th || !json_get_u64(th, "tid", &tid)) {
		if (!json_get_u64(r->v, "tid", &tid)) {
			snprintf(why, whysz, "acquire-timeout record without \"thread\"");
			return false;
		}
	}
	if (ho && !json_get_u64(ho, "tid", &htid)) {
		snprintf(why, whysz,
		         "acquire-timeout record: \"holder\" without \"tid\"");
		return false;
	}
	json_get_u64(r->v, "pid", &pid);
	json_get_hex(r->v, "addr", &addr);
	has_waited = json_get_u64(r->v, "waited_ms", &waited);
	has_timeout = json_get_u64(r->v, "timeout_ms", &timeout);
	if (json_get_u64(r->v, "lock", &id))
		lk = logproc_lock(p, pid, id);
	if (ho && json_get_u64(ho, "waits_for", &id))
		other = logproc_lock(p, pid, id);
	if (ho) {
		state = json_get_str(ho, "state");
		in_call = json_get_str(ho, "in_call");
		has_held_ms = json_get_u64(ho, "held_ms", &held_ms);
	}
	if ((json_get(r->v, "stack") &&
	     !logframes_decode(json_get(r->v, "stack"), &wf, &nw, why, whysz)) ||
	    (ho && json_get(ho, "held_stack") &&
	     !logframes_decode(json_get(ho, "held_stack"), &hf, &nh, why, whysz)) ||
	    (ho && json_get(ho, "stack") &&
	     !logframes_decode(json_get(ho, "stack"), &of, &no, why, whysz))) {
		free(wf);
		free(hf);
		free(of);
		return false;
	}

	waiter = thread_text(tid, th ? json_get_str(th, "name") : NULL);
	lock = lk ? lock_display(p, lk) : xasprintf("the lock at 0x%" PRIx64, addr);
	if (lk)
		finding_add_lock(f, p, lk);
	if (other) {
		other_name = lock_display(p, other);
		finding_add_lock(f, p, other);
	}
	{
		char *l = xasprintf("%s waits %s %s, at:", waiter,
		                    reading ? "to read" : "for", lock);

		finding_add_stack(f, p, l, wf, nw);
		free(l);
	}
	if (ho) {
		holder = thread_text(htid, json_get_str(ho, "name"));
		if (nh) {
			char *l = xasprintf(
			    "%s took %s at%s:", holder, lock,
			    part && part->type == JSON_TRUE
			        ? " (only the lock call is known, not its callers)"
			        : "");

			hstack = (int)f->nstacks;
			finding_add_stack(f, p, l, hf, nh);
			free(l);
		}
		if (no) {
			char *l = other_name
			              ? xasprintf("%s itself waits for %s, at:", holder,
			                          other_name)
			              : xasprintf("%s itself is %s, at:", holder,
			                          state ? state : "waiting");

			ostack = (int)f->nstacks;
			finding_add_stack(f, p, l, of, no);
			free(l);
		}
	}
	wat = fstack_where(&f->stacks[0]);
	if (hstack >= 0)
		hat = fframe_where(fstack_site(&f->stacks[hstack]), true);
	if (ostack >= 0)
		oat = fframe_where(fstack_site(&f->stacks[ostack]), true);
	f->level = LEVEL_WARNING;
	f->primary = 0;

	since =
	    has_waited && has_timeout
	        ? xasprintf(" %" PRIu64 " ms (timeout_ms=%" PRIu64 ")", waited, timeout)
	    : has_waited ? xasprintf(" %" PRIu64 " ms", waited)
	                 : xstrdup0("");
	if (!ho) {
		f->title = xasprintf("%s waited%s for %s, whose holder is unknown",
		                     waiter, has_waited ? since : "", lock);
		f->text = xasprintf(
		    "%s waited%s %s %s at %s. Its holder is not known: the lock was "
		    "taken where "
		    "lockhound did not see it (before the runtime started, or by another "
		    "process sharing it). The waiter went on waiting.",
		    waiter, since, reading ? "to read" : "for", lock, wat);
		f->advice =
		    xasprintf("find the code that takes %s and does not release it soon "
		              "(or at all); every path that locks it must unlock it.",
		              lock);
	} else {
		char *held = has_held_ms
		                 ? xasprintf(" (for about %" PRIu64 " ms then)", held_ms)
		                 : xstrdup0("");
		char *where = hat ? xasprintf(", taken at %s", hat) : xstrdup0("");

		if (other_name)
			now = xasprintf("it was itself waiting for %s%s%s: a chain of "
			                "waits, which is a "
			                "deadlock if it ever comes back to %s",
			                other_name, oat ? " at " : "", oat ? oat : "",
			                waiter);
		else if (state && strcmp(state, "not waiting for any lock") == 0 && oat) {
			char *at = fstack_where(&f->stacks[ostack]); /* with its caller */

			now = xasprintf("it was not waiting for a lock then but at %s, "
			                "with the lock held",
			                at);
			free(at);
		}
		else if (state && strcmp(state, "not waiting for any lock") == 0 && in_call)
			now = xasprintf("it was not waiting for a lock then but in %s, "
			                "with the lock held",
			                in_call);
		else if (state && strcmp(state, "not waiting for any lock") == 0)
			now = xstrdup0(
			    "it was not waiting for a lock then: it was running, or "
			    "blocked in something lockhound does not watch (I/O, sleep, "
			    "a system call), with the lock held");
		else if (state && strcmp(state, "exited") == 0)
			now = xstrdup0(
			    "it had exited without releasing it: nobody ever will");
		else if (state)
			now = xasprintf("it was %s%s%s, with the lock held", state,
			                oat ? " at " : "", oat ? oat : "");
		else
			now = xstrdup0("what it was doing is not known");
		f->title = xasprintf("%s waited%s for %s, held by %s", waiter,
		                     has_waited ? since : "", lock, holder);
		holder[0] = 'T'; /* starts a sentence */
		f->text = xasprintf(
		    "%s waited%s %s %s at %s. %s holds it%s%s; %s. The waiter went "
		    "on waiting: this is slow, not necessarily stuck.",
		    waiter, since, reading ? "to read" : "for", lock, wat, holder, held,
		    where, now);
		holder[0] = 't';
		if (other_name)
			f->advice = xasprintf(
			    "keep lock nesting short and take nested locks in one order "
			    "everywhere: %s holds %s while it waits for %s. Release %s "
			    "before "
			    "waiting for another lock where you can.",
			    holder, lock, other_name, lock);
		else if (state &&
		         (strstr(state, "condition") || strstr(state, "semaphore") ||
		          strstr(state, "barrier")))
			f->advice = xasprintf(
			    "do not wait for other threads (a condition variable of "
			    "another mutex, a semaphore, a barrier) while holding "
			    "%s: release it first.",
			    lock);
		else if (state && strcmp(state, "exited") == 0)
			f->advice = xasprintf(
			    "release every lock before a thread returns: look for an "
			    "early return or an error path after %s.",
			    hat ? hat : "the place it took the lock");
		else
			f->advice = xasprintf(
			    "shorten the critical section that begins at %s: move slow "
			    "work "
			    "(I/O, sleeping, long computations, waiting for other "
			    "threads) out "
			    "of it, or split %s into finer locks. If waits this long are "
			    "expected, raise timeout_ms.",
			    hat ? hat : "the holder's lock call", lock);
		free(held);
		free(where);
		free(now);
	}
	f->text[0] = (char)(f->text[0] == 't' ? 'T' : f->text[0]);
	free(since);
	free(waiter);
	free(holder);
	free(lock);
	free(other_name);
	free(wat);
	free(hat);
	free(oat);
	free(wf);
	free(hf);
	free(of);
	return true;
}
