/*
 * lockhound replay LOG...: rebuilds the lock-order graph from the orders
 * that one or many runs recorded (ordergraph.h: locks matched by stable
 * identity, the runtime's own cycle rules) and reports every cycle, also
 * those no single run could see: run 1 took A then B, run 2 B then A.
 * Each cycle is told like an inversion, edge by edge with both stacks,
 * each edge from the first process that made that order.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "lockhound-cli.h"
#include "ordergraph.h"

void
usage_replay(void)
{
	printf("usage: lockhound replay [--format=text|json|sarif] [--suppressions=FILE]...\n"
	       "                        [--suppressions-out=FILE] [--source-root=DIR]\n"
	       "                        [--no-symbolize] LOG...\n\n"
	       "Rebuilds the lock-order graph from the orders recorded by every run and\n"
	       "process in the logs and reports each cycle: a potential deadlock, also when\n"
	       "its orders come from different runs. Locks are matched across runs by their\n"
	       "variable (static locks), annotation, or class (init site), never by address.\n"
	       "Options as for 'lockhound explain'.\n\n"
	       "Exit status: 0 no cycle, 1 cycles found, 2 usage or input error.\n");
}

static const char *
base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s && s[1] ? s + 1 : p;
}

static struct finding *
cycle_finding(const struct ordergraph *g, const struct og_cycle *c)
{
	struct finding *f = xcalloc(1, sizeof(*f));
	struct cycle_edge *ce = xcalloc(c->n, sizeof(*ce));
	char **origins = xcalloc(c->n, sizeof(*origins));
	char **names = xcalloc(2 * c->n, sizeof(*names));
	char *procs = NULL, *classes = NULL;
	const struct logproc **seen = xcalloc(c->n, sizeof(*seen));
	size_t nseen = 0;

	for (size_t i = 0; i < c->n; i++) {
		const struct og_edge *e = &g->edges[c->edges[i]];
		const struct og_origin *o = &e->origins[0];
		const struct logstack *hs = logproc_stack(o->proc, o->o->pid, o->o->held_stack_id);
		const struct logstack *ts = logproc_stack(o->proc, o->o->pid, o->o->stack_id);
		bool dup = false;

		ce[i].proc = o->proc;
		ce[i].from = logproc_lock(o->proc, o->o->pid, o->o->from);
		ce[i].to = logproc_lock(o->proc, o->o->pid, o->o->to);
		ce[i].tid = o->o->tid;
		ce[i].thread_name = o->o->thread_name;
		ce[i].combos = o->o->combos;
		ce[i].held = hs ? hs->frames : NULL;
		ce[i].nheld = hs ? hs->n : 0;
		ce[i].taken = ts ? ts->frames : NULL;
		ce[i].ntaken = ts ? ts->n : 0;
		ce[i].held_partial = o->o->held_partial;
		names[2 * i] = og_lock_name(g, e->from);
		names[2 * i + 1] = og_lock_name(g, e->to);
		ce[i].from_name = names[2 * i];
		ce[i].to_name = names[2 * i + 1];
		origins[i] = xasprintf("pid %" PRIu64 " in %s", o->o->pid,
				       base_name(o->proc->file->path));
		ce[i].origin = c->across ? origins[i] : NULL;
		for (size_t k = 0; k < nseen; k++)
			dup |= seen[k] == o->proc;
		if (!dup) {
			char *n = xasprintf("%s%s%s", procs ? procs : "", nseen ? ", " : "",
					    origins[i]);

			free(procs);
			procs = n;
			seen[nseen++] = o->proc;
		}
		if (strncmp(g->locks[e->from].key, "C:", 2) == 0 && !classes)
			classes = xstrdup0(names[2 * i]);
	}
	f->kind = "lock-order-inversion";
	f->rule = xstrdup0("lock-order-inversion");
	f->proc = ce[0].proc;
	f->file = ce[0].proc->file->path;
	f->line = g->edges[c->edges[0]].origins[0].o->line;
	f->across = c->across;
	explain_cycle(f, ce, c->n, c->truncated);
	if (c->across) {
		char *t = xasprintf("%s No single run took all these orders: they come from %s. "
				    "Each run alone is clean; together they can deadlock.",
				    f->text, procs);
		char *title = xasprintf("%s, across runs", f->title);

		free(f->text);
		free(f->title);
		f->text = t;
		f->title = title;
	}
	if (classes) {
		char *t = xasprintf("%s (Locks made by one line, like the %s, are matched across "
				    "runs by the order in which they were made.)",
				    f->text, classes);

		free(f->text);
		f->text = t;
	}
	for (size_t i = 0; i < c->n; i++) {
		free(origins[i]);
		free(names[2 * i]);
		free(names[2 * i + 1]);
	}
	free(origins);
	free(names);
	free(procs);
	free(classes);
	free(seen);
	free(ce);
	return f;
}

int
cmd_replay(int argc, char **argv)
{
	struct out_opts o = {.format = FMT_TEXT};
	struct logfile **logs;
	struct ordergraph *g;
	struct finding **fs;
	size_t nfs = 0, nsupp = 0, nlogs;
	int i, rc;

	for (i = 1; i < argc; i++) {
		int r;

		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0')
			break;
		r = parse_out_option("replay", argv[i], &o);
		if (r == 0)
			cli_error("replay", "%s: unknown option (see 'lockhound replay --help')",
				  argv[i]);
		if (r <= 0) {
			lh_supp_free(&o.supp);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		cli_error("replay", "no log to read (see 'lockhound replay --help')");
		lh_supp_free(&o.supp);
		return EXIT_USAGE;
	}
	nlogs = (size_t)(argc - i);
	logs = load_logs(argv + i, nlogs);
	if (!logs) {
		lh_supp_free(&o.supp);
		return EXIT_USAGE;
	}
	g = og_build(logs, nlogs);
	fs = xcalloc(g->ncycles + 1, sizeof(*fs));
	for (size_t k = 0; k < g->ncycles; k++) {
		struct finding *f = cycle_finding(g, &g->cycles[k]);

		if (finding_suppressed(&o.supp, f)) {
			nsupp++;
			finding_free(f);
			free(f);
			continue;
		}
		fs[nfs++] = f;
	}
	if (g->capped)
		fprintf(stderr, "lockhound: replay: more than %d cycles; only the first %d are "
				"reported\n",
			OG_MAX_CYCLES, OG_MAX_CYCLES);
	report_sym_problems(logs, nlogs);
	{
		char *none = xasprintf("No cycle in the lock orders of %zu process%s (%zu locks, "
				       "%zu orders)",
				       g->nprocs, g->nprocs == 1 ? "" : "es", g->nlocks, g->nedges);

		rc = emit_findings("replay", &o, fs, nfs, nsupp, none);
		free(none);
	}
	if (rc == EXIT_CLEAN && nfs)
		rc = EXIT_FINDINGS;
	for (size_t k = 0; k < nfs; k++) {
		finding_free(fs[k]);
		free(fs[k]);
	}
	free(fs);
	og_free(g);
	free_logs(logs, nlogs);
	lh_supp_free(&o.supp);
	return rc;
}
