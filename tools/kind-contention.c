/*
 * explain: contention records, told in words (explain --all; they are a
 * profile, not findings, and never change explain's exit status). One
 * record becomes a one-row profile (contention.h): how often the lock was
 * taken, how often and how long threads waited for it, where they waited
 * and where the holders released it to them. `lockhound stats` shows all
 * of them as a table.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "contention.h"
#include "explain.h"

/* Appends s to *acc (both malloc'd; s is freed). */
static void
cat(char **acc, char *s)
{
	char *n = xasprintf("%s%s", *acc, s);

	free(*acc);
	free(s);
	*acc = n;
}

static void
add_sites(struct finding *f, const struct crow *r, enum csite_role role, const char *what)
{
	char b[32];

	for (size_t i = 0; i < r->nsite[role] && i < 3; i++) {
		const struct csite *s = &r->site[role][i];
		char *l = role == CSITE_ACQUIRE
		              ? xasprintf("%s (%" PRIu64 " time%s):", what, s->count,
		                          s->count == 1 ? "" : "s")
		              : xasprintf("%s (%" PRIu64 " time%s, %s):", what, s->count,
		                          s->count == 1 ? "" : "s",
		                          cformat_ns(s->wait_ns, b, sizeof(b)));
		finding_add_stack(f, s->proc, l, &s->frame, 1);
		free(l);
	}
}

bool
explain_contention(struct logproc *p, const struct logrecord *r, struct finding *f,
                   char *why, size_t whysz)
{
	struct cprofile cp;
	const struct crow *row;
	char total[32], avg[32], max[32];
	char *text, *w = NULL, *h = NULL;

	cprofile_init(&cp);
	if (!cprofile_add_record(&cp, p, r, why, whysz)) {
		cprofile_free(&cp);
		return false;
	}
	cprofile_finish(&cp, CSORT_WAIT);
	row = cp.nlocks ? &cp.locks[0] : cp.nclasses ? &cp.classes[0] : NULL;
	if (!row) { /* a scope of a newer runtime */
		f->title = xstrdup0(
		    "contention statistics of a kind this lockhound does not know");
		cprofile_free(&cp);
		return true;
	}
	f->level = LEVEL_NOTE;
	if (row->lock)
		finding_add_lock(f, p, row->lock);
	if (row->nsite[CSITE_WAIT])
		w = csite_where(&row->site[CSITE_WAIT][0]);
	if (row->nsite[CSITE_HOLDER])
		h = csite_where(&row->site[CSITE_HOLDER][0]);
	f->title =
	    row->scope == CROW_CLASS
	        ? xasprintf("%s (%" PRIu64 " destroyed locks): taken %" PRIu64
	                    " times, %" PRIu64 " waited",
	                    row->name, row->locks, row->acquisitions, row->contended)
	        : xasprintf("%s: taken %" PRIu64 " times, %" PRIu64 " waited", row->name,
	                    row->acquisitions, row->contended);
	if (row->contended) {
		text = xasprintf(
		    "%s %s taken %" PRIu64 " times; %" PRIu64
		    " of those acquisitions found it held and waited, %s in all (%s "
		    "on average, %s at most).",
		    row->name, row->scope == CROW_CLASS ? "were" : "was",
		    row->acquisitions, row->contended,
		    cformat_ns(row->wait_ns, total, sizeof(total)),
		    cformat_ns(row->wait_ns / row->contended, avg, sizeof(avg)),
		    cformat_ns(row->wait_max_ns, max, sizeof(max)));
		if (w)
			cat(&text,
			    xasprintf(
			        " Most of the waiting was at %s%s%s.", w,
			        h ? "; the releases that ended waits were mostly at "
			          : "",
			        h ? h : ""));
		else if (h)
			cat(&text,
			    xasprintf(" The releases that ended waits were mostly at %s.",
			              h));
		f->advice =
		    xasprintf("if this wait matters, hold %s for less time (move slow "
		              "work out of the critical sections, above all at the "
		              "holders' sites), split it into finer locks, or use a "
		              "reader-writer lock if most holders only read.",
		              row->name);
	} else {
		text = xasprintf("%s %s taken %" PRIu64 " times and never waited for.",
		                 row->name, row->scope == CROW_CLASS ? "were" : "was",
		                 row->acquisitions);
	}
	if (row->has_hold)
		cat(&text,
		    xasprintf(" Held %" PRIu64 " times, %s in all (%s on average, %s at "
		              "most).",
		              row->holds, cformat_ns(row->hold_ns, total, sizeof(total)),
		              cformat_ns(row->holds ? row->hold_ns / row->holds : 0, avg,
		                         sizeof(avg)),
		              cformat_ns(row->hold_max_ns, max, sizeof(max))));
	f->text = text;
	add_sites(f, row, CSITE_WAIT, "threads waited here");
	add_sites(f, row, CSITE_HOLDER, "holders released it to waiters here");
	if (!row->nsite[CSITE_WAIT])
		add_sites(f, row, CSITE_ACQUIRE, "taken here");
	free(w);
	free(h);
	cprofile_free(&cp);
	return true;
}
