/*
 * explain: misuse records. One table row per "what": the words for what
 * happened and what to change; an unknown "what" is told with the record's
 * own message.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"

struct misuse_words {
	const char *what;
	const char *happened; /* %1$s thread, %2$s lock, %3$s where, %4$s where taken */
	const char *advice;
};

static const struct misuse_words words[] = {
	{"relock",
	 "%s took %s again at %s while already holding it (taken at %s). A non-recursive "
	 "mutex locked twice by its holder never returns: the thread deadlocks with itself "
	 "(an errorcheck mutex fails with EDEADLK instead).",
	 "do not take the lock again: let the inner code run with the lock already held (a "
	 "*_locked variant of the function), or make the mutex recursive if re-entry is "
	 "intended."},
	{"unlock-not-owner",
	 "%s unlocked %s at %s, but another thread holds it (taken at %s). For a normal "
	 "mutex that is undefined behaviour; the owner's critical section is no longer "
	 "protected.",
	 "unlock a mutex only in the thread that locked it; to hand work over to another "
	 "thread, use a condition variable or a semaphore."},
	{"unlock-unlocked",
	 "%s unlocked %s at %s, but it was not locked%.0s. A double unlock corrupts the "
	 "mutex: the next locker may get in while someone else is inside.",
	 "find the path that unlocks twice (often an error path that unlocks and then "
	 "falls through to a second unlock)."},
	{"destroy-locked",
	 "%s destroyed %s at %s while it was still locked (taken at %s). Destroying a "
	 "locked mutex is undefined behaviour, and its holder will unlock freed memory.",
	 "unlock before pthread_mutex_destroy, and destroy only when no thread can still "
	 "use the lock."},
	{"exit-holding",
	 "%s exited while holding %s (last seen at %s; taken at %s). No one will ever "
	 "unlock it: every thread that takes it later waits forever.",
	 "release every lock before the thread returns; check early returns, error paths "
	 "and pthread_exit calls inside critical sections."},
	{"cond-mutex-mismatch",
	 "%s waited on a condition variable with %s at %s, but other waiters use another "
	 "mutex with it%.0s. POSIX leaves that undefined; signals can be lost.",
	 "use exactly one mutex with each condition variable."},
	{"held-across-fork",
	 "After fork(), %s waits for %s at %s, which another thread of the parent held when "
	 "it forked (taken at %s). That thread does not exist in the child: no one will "
	 "ever release the lock.",
	 "fork only from a single-threaded state, exec right after fork, or take and release "
	 "the locks around fork with pthread_atfork handlers."},
	{"not-held",
	 "%s was required to hold %s at %s, but does not%.0s (lh_assert_held).",
	 "take the lock before calling this code, or fix the assertion."},
};

bool
explain_misuse(struct logproc *p, const struct logrecord *r, struct finding *f, char *why,
	       size_t whysz)
{
	const char *what = json_get_str(r->v, "what"), *msg = json_get_str(r->v, "message");
	const struct json_value *th = json_get_object(r->v, "thread");
	const struct loglock *lk = NULL;
	struct logframe *here = NULL, *taken = NULL;
	size_t nhere = 0, ntaken = 0;
	uint64_t pid = p->pid, id, tid = 0, addr = 0;
	char *thread, *lock, *w1, *w2;
	const char *tname = json_get_str(th, "name");
	const struct misuse_words *mw = NULL;

	if (!what) {
		snprintf(why, whysz, "misuse record without \"what\"");
		return false;
	}
	json_get_u64(r->v, "pid", &pid);
	if (!json_get_u64(th, "tid", &tid))
		json_get_u64(r->v, "tid", &tid);
	json_get_hex(r->v, "addr", &addr);
	if (json_get_u64(r->v, "lock", &id))
		lk = logproc_lock(p, pid, id);
	if ((json_get(r->v, "stack") &&
	     !logframes_decode(json_get(r->v, "stack"), &here, &nhere, why, whysz)) ||
	    (json_get(r->v, "held_stack") &&
	     !logframes_decode(json_get(r->v, "held_stack"), &taken, &ntaken, why, whysz))) {
		free(here);
		return false;
	}
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(words[i].what, what) == 0)
			mw = &words[i];
	thread = thread_label(tid, tname);
	if (lk) {
		lock = lock_display(p, lk);
		finding_add_lock(f, p, lk);
	} else {
		lock = xasprintf("the lock at 0x%" PRIx64, addr);
	}
	{
		char *l1 = xasprintf("%s, at:", thread);

		finding_add_stack(f, p, l1, here, nhere);
		free(l1);
	}
	if (ntaken) {
		char *l2 = xasprintf("%s was taken at:", lock);

		finding_add_stack(f, p, l2, taken, ntaken);
		free(l2);
	}
	w1 = fframe_where(fstack_site(&f->stacks[0]), true);
	w2 = f->nstacks > 1 ? fframe_where(fstack_site(&f->stacks[1]), false)
			    : xstrdup0("an unknown place");
	f->rule = xasprintf("misuse/%s", what);
	f->title = xasprintf("%s: %s", what, msg ? msg : "a lock used the wrong way");
	f->level = LEVEL_ERROR;
	if (mw) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		/* The table's formats all take four strings. */
		f->text = xasprintf(mw->happened, thread, lock, w1, w2);
#pragma GCC diagnostic pop
		f->text[0] = (char)(f->text[0] == 't' ? 'T' : f->text[0]);
		f->advice = xstrdup0(mw->advice);
	} else {
		f->text = xasprintf("%s, at %s: %s.", thread, w1, msg ? msg : what);
		f->text[0] = (char)(f->text[0] == 't' ? 'T' : f->text[0]);
	}
	free(thread);
	free(lock);
	free(w1);
	free(w2);
	free(here);
	free(taken);
	return true;
}
