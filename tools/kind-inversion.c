/*
 * explain: lock-order-inversion records, and the cycle telling that replay
 * shares. A cycle of orders is told edge by edge ("thread T took B at f.c:10
 * while holding A (taken at f.c:9)"), then what can happen and what to
 * change, then both stacks of every edge.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"

static char *
thread_text(const struct cycle_edge *e)
{
	char *t = thread_label(e->tid, e->thread_name);

	if (e->origin) {
		char *r = xasprintf("%s (%s)", t, e->origin);

		free(t);
		return r;
	}
	return t;
}

static char *
name_of(const struct cycle_edge *e, bool to)
{
	const char *n = to ? e->to_name : e->from_name;

	return n ? xstrdup0(n) : lock_display(e->proc, to ? e->to : e->from);
}

static bool
held_read(unsigned combos)
{
	return !(combos & (LOG_COMBO(0, 0) | LOG_COMBO(0, 1)));
}

static bool
taken_read(unsigned combos)
{
	return !(combos & (LOG_COMBO(0, 0) | LOG_COMBO(1, 0)));
}

/* Appends s to *acc (both malloc'd; s is freed). */
static void
cat(char **acc, char *s)
{
	char *n = xasprintf("%s%s", *acc ? *acc : "", s);

	free(*acc);
	free(s);
	*acc = n;
}

void
explain_cycle(struct finding *f, const struct cycle_edge *e, size_t n, bool truncated)
{
	char **names = xcalloc(n, sizeof(*names));
	char *text = NULL, *cycle = NULL;
	const struct fframe **taken_at = xcalloc(n, sizeof(*taken_at));
	size_t base = f->nstacks;
	const struct fframe **held_at = xcalloc(n, sizeof(*held_at));

	f->level = LEVEL_ERROR;
	for (size_t i = 0; i < n; i++) {
		names[i] = name_of(&e[i], false);
		finding_add_lock(f, e[i].proc, e[i].from);
	}
	/* Stacks first, so that the words can name their sites. */
	for (size_t i = 0; i < n; i++) {
		char *th = thread_text(&e[i]);
		char *to = name_of(&e[i], true);
		char *l1 = xasprintf("%s took %s at:", th, to);
		char *l2 = xasprintf("while holding %s, taken at:", names[i]);
		struct fstack *s;
		size_t k1 = f->nstacks;

		finding_add_stack(f, e[i].proc, l1, e[i].taken, e[i].ntaken);
		s = finding_add_stack(f, e[i].proc, l2, e[i].held, e[i].nheld);
		s->partial = e[i].held_partial;
		taken_at[i] = fstack_site(&f->stacks[k1]);
		held_at[i] = fstack_site(&f->stacks[k1 + 1]);
		free(th);
		free(to);
		free(l1);
		free(l2);
	}
	f->primary = 0;
	for (size_t i = 0; i < n; i++) {
		char *th = thread_text(&e[i]);
		char *to = name_of(&e[i], true);
		char *w1 = fstack_where(&f->stacks[base + 2 * i]);
		char *w2 = fframe_where(held_at[i], false);

		cat(&text, xasprintf("%s took %s%s at %s while holding %s%s (taken at %s)%s", th, to,
				     taken_read(e[i].combos) ? " for reading" : "", w1, names[i],
				     held_read(e[i].combos) ? " for reading" : "", w2,
				     i + 1 < n ? "; " : "."));
		free(th);
		free(to);
		free(w1);
		free(w2);
	}
	text[0] = (char)(text[0] == 't' ? 'T' : text[0]);
	if (n == 2)
		cat(&text, xstrdup0(" If both run at once, each waits for the other forever."));
	else
		cat(&text, xasprintf(" If these %zu run at once, each waits for a lock the next "
				     "one holds, forever.",
				     n));
	if (truncated)
		cat(&text, xstrdup0(" (The cycle is longer than shown.)"));
	f->text = text;

	for (size_t i = 0; i < n; i++)
		cat(&cycle, xasprintf("%s%s", i ? " => " : "", names[i]));
	cat(&cycle, xasprintf(" => %s", names[0]));
	if (n == 2)
		f->title = xasprintf("potential deadlock between %s and %s", names[0], names[1]);
	else
		f->title = xasprintf("potential deadlock: %zu locks in a cycle: %s", n, cycle);

	/*
	 * Keep the orders seen first and change the one that closed the cycle
	 * (edge 0): its thread should take edge[0].to before edge[0].from.
	 */
	{
		char *to = name_of(&e[0], true);
		char *w = fframe_where(taken_at[0], true);
		char *order = xstrdup0(""); /* never NULL, even for n == 0 (gcc -Werror) */

		for (size_t i = 0; i < n; i++)
			cat(&order, xasprintf("%s%s", i ? ", then " : "", names[(i + 1) % n]));
		f->advice = xasprintf(
			"take these locks in one order everywhere, for example %s: that means "
			"changing %s, which takes %s while holding %s. Or make the paths "
			"exclusive by holding one common lock around them, or take the inner lock "
			"with a trylock and back off when it fails.",
			order ? order : "", w, to, names[0]);
		free(order);
		free(to);
		free(w);
	}
	free(cycle);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(taken_at);
	free(held_at);
}

bool
explain_inversion(struct logproc *p, const struct logrecord *r, struct finding *f, char *why,
		  size_t whysz)
{
	const struct json_value *edges = json_get_array(r->v, "edges");
	const struct json_value *trunc = json_get(r->v, "truncated");
	struct cycle_edge *ce;
	struct logframe **frames;
	uint64_t pid = p->pid;
	size_t n;
	bool ok = true;

	json_get_u64(r->v, "pid", &pid);
	if (!edges || edges->n == 0) {
		snprintf(why, whysz, "lock-order-inversion without \"edges\"");
		return false;
	}
	if (edges->n > 4096) {
		snprintf(why, whysz, "lock-order-inversion with more than 4096 edges");
		return false;
	}
	n = edges->n;
	ce = xcalloc(n, sizeof(*ce));
	frames = xcalloc(2 * n, sizeof(*frames));
	for (size_t i = 0; i < n && ok; i++) {
		const struct json_value *e = &edges->items[i], *th, *modes;
		uint64_t from, to;

		if (e->type != JSON_OBJECT || !json_get_u64(e, "from", &from) ||
		    !json_get_u64(e, "to", &to)) {
			snprintf(why, whysz, "an edge without \"from\" and \"to\" lock ids");
			ok = false;
			break;
		}
		ce[i].proc = p;
		ce[i].from = logproc_lock(p, pid, from);
		ce[i].to = logproc_lock(p, pid, to);
		if (!ce[i].from || !ce[i].to) {
			snprintf(why, whysz, "an edge names lock %" PRIu64 ", never described",
				 ce[i].from ? to : from);
			ok = false;
			break;
		}
		th = json_get_object(e, "thread");
		json_get_u64(th, "tid", &ce[i].tid);
		ce[i].thread_name = json_get_str(th, "name");
		ce[i].combos = 0;
		modes = json_get_array(e, "modes");
		for (uint32_t k = 0; modes && k < modes->n; k++) {
			const struct json_value *pr = &modes->items[k];

			if (pr->type == JSON_ARRAY && pr->n == 2 &&
			    pr->items[0].type == JSON_STRING && pr->items[1].type == JSON_STRING)
				ce[i].combos |= LOG_COMBO(strcmp(pr->items[0].str, "read") == 0,
							  strcmp(pr->items[1].str, "read") == 0);
		}
		if (!ce[i].combos)
			ce[i].combos = LOG_COMBO(0, 0);
		ce[i].held_partial = json_get(e, "held_stack_partial") &&
				     json_get(e, "held_stack_partial")->type == JSON_TRUE;
		if ((json_get(e, "held_stack") &&
		     !logframes_decode(json_get(e, "held_stack"), &frames[2 * i], &ce[i].nheld, why,
				       whysz)) ||
		    (json_get(e, "stack") &&
		     !logframes_decode(json_get(e, "stack"), &frames[2 * i + 1], &ce[i].ntaken, why,
				       whysz))) {
			ok = false;
			break;
		}
		ce[i].held = frames[2 * i];
		ce[i].taken = frames[2 * i + 1];
	}
	if (ok)
		explain_cycle(f, ce, n, trunc && trunc->type == JSON_TRUE);
	for (size_t i = 0; i < 2 * n; i++)
		free(frames[i]);
	free(frames);
	free(ce);
	return ok;
}
