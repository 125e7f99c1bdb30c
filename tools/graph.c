/*
 * lockhound graph LOG...: the lock-order graph of the logs (ordergraph.h)
 * as Graphviz DOT: one node per lock identity, named; one edge per order,
 * labelled with where it was made; the locks and orders of every cycle in
 * red. --svg pipes the DOT through Graphviz's dot(1).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "explain.h"
#include "lockhound-cli.h"
#include "ordergraph.h"

void
usage_graph(void)
{
	printf("usage: lockhound graph [--svg] [--no-symbolize] LOG...\n\n"
	       "Prints the lock-order graph of the logs in Graphviz DOT: each lock named,\n"
	       "each order (an arrow from the lock held to the lock taken) labelled with\n"
	       "where it was taken, cycles in red. Locks of different runs are matched as\n"
	       "by 'lockhound replay'.\n"
	       "  --svg           render with dot(1) (Graphviz) and print SVG\n"
	       "  --no-symbolize  name locks and sites without reading binaries\n\n"
	       "  lockhound graph run.log | dot -Tpng > locks.png\n\n"
	       "Exit status: 0 no cycle, 1 cycles found, 2 usage or input error.\n");
}

static void
dot_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

/* Where the order was made: the site of its "taken" stack. */
static char *
edge_site(const struct og_edge *e)
{
	const struct og_origin *o = &e->origins[0];
	const struct logstack *ts = logproc_stack(o->proc, o->o->pid, o->o->stack_id);
	struct finding tmp = {0};
	char *r;

	if (!ts || ts->n == 0)
		return xstrdup0("");
	finding_add_stack(&tmp, o->proc, "", ts->frames, ts->n);
	r = fframe_where(fstack_site(&tmp.stacks[0]), true);
	finding_free(&tmp);
	return r;
}

/*
 * The graph has a node for each lock in an order, not for every lock the
 * logs name: a program with 100,000 per-object locks, a few of them nested,
 * would otherwise draw 100,000 boxes that Graphviz cannot lay out. The
 * label says how many were left out.
 */
static void
write_dot(FILE *out, const struct ordergraph *g, size_t nlogs)
{
	bool *ordered = xcalloc(g->nlocks ? g->nlocks : 1, sizeof(*ordered));
	size_t alone = 0;

	for (size_t i = 0; i < g->nedges; i++)
		if (g->edges[i].norigins)
			ordered[g->edges[i].from] = ordered[g->edges[i].to] = true;
	for (size_t i = 0; i < g->nlocks; i++)
		alone += g->locks[i].first && !ordered[i];
	fprintf(out, "digraph lockorder {\n"
		     "\tgraph [rankdir=LR, fontname=\"Helvetica\", label=");
	{
		char *l = xasprintf("lock order of %zu process%s in %zu log%s: an arrow A -> B "
				    "means B was taken while A was held; red: cycles",
				    g->nprocs, g->nprocs == 1 ? "" : "es", nlogs, nlogs == 1 ? "" : "s");
		char *full = alone ? xasprintf("%s\n(%zu lock%s in no order left out)", l, alone,
					       alone == 1 ? "" : "s")
				   : xstrdup0(l);

		dot_str(out, full);
		free(full);
		free(l);
	}
	fprintf(out, "];\n\tnode [shape=box, style=rounded, fontname=\"Helvetica\"];\n"
		     "\tedge [fontname=\"Helvetica\", fontsize=10];\n");
	for (size_t i = 0; i < g->nlocks; i++) {
		const struct og_lock *l = &g->locks[i];
		char *name;

		if (!l->first || !ordered[i])
			continue; /* a gate lock known only by id, or in no order */
		name = og_lock_name(g, i);
		fprintf(out, "\tL%zu [label=", i);
		dot_str(out, name);
		fprintf(out, ", tooltip=");
		dot_str(out, l->key);
		if (l->in_cycle)
			fprintf(out, ", color=red, fontcolor=red, penwidth=2");
		fprintf(out, "];\n");
		free(name);
	}
	for (size_t i = 0; i < g->nedges; i++) {
		const struct og_edge *e = &g->edges[i];
		char *site, *label;

		if (!e->norigins)
			continue;
		site = edge_site(e);
		label = e->nseen > 1 ? xasprintf("%s\n(%zu runs)", site, e->nseen) : xstrdup0(site);
		fprintf(out, "\tL%zu -> L%zu [label=", e->from, e->to);
		dot_str(out, label);
		if (e->in_cycle)
			fprintf(out, ", color=red, fontcolor=red, penwidth=2");
		fprintf(out, "];\n");
		free(site);
		free(label);
	}
	fprintf(out, "}\n");
	free(ordered);
}

/* The path of `dot` in PATH, or NULL. */
static char *
find_dot(void)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL;

	if (!path || !*path)
		return NULL;
	copy = xstrdup0(path);
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		char *p = xasprintf("%s/dot", *dir ? dir : ".");

		if (access(p, X_OK) == 0) {
			free(copy);
			return p;
		}
		free(p);
	}
	free(copy);
	return NULL;
}

/* Runs dot -Tsvg with the graph on its input and its output on ours. */
static int
render_svg(const struct ordergraph *g, size_t nlogs)
{
	char *dot = find_dot();
	int fds[2], status;
	pid_t pid;
	FILE *w;

	if (!dot) {
		cli_error("graph", "--svg needs Graphviz's dot, which is not installed (on "
				   "Debian: apt-get install graphviz); without --svg the DOT text "
				   "is printed");
		return EXIT_USAGE;
	}
	fflush(stdout);
	if (pipe(fds) < 0) {
		cli_error("graph", "pipe: %s", strerror(errno));
		free(dot);
		return EXIT_USAGE;
	}
	pid = fork();
	if (pid < 0) {
		cli_error("graph", "fork: %s", strerror(errno));
		free(dot);
		close(fds[0]);
		close(fds[1]);
		return EXIT_USAGE;
	}
	if (pid == 0) {
		dup2(fds[0], 0);
		close(fds[0]);
		close(fds[1]);
		execl(dot, "dot", "-Tsvg", (char *)NULL);
		fprintf(stderr, "lockhound: graph: %s: %s\n", dot, strerror(errno));
		_exit(127);
	}
	close(fds[0]);
	free(dot);
	w = fdopen(fds[1], "w");
	if (w) {
		write_dot(w, g, nlogs);
		fclose(w);
	} else {
		close(fds[1]);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		cli_error("graph", "dot failed (status %d)",
			  WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		return EXIT_USAGE;
	}
	return EXIT_CLEAN;
}

int
cmd_graph(int argc, char **argv)
{
	struct logfile **logs;
	struct ordergraph *g;
	bool svg = false;
	size_t nlogs;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0')
			break;
		if (strcmp(argv[i], "--svg") == 0) {
			svg = true;
		} else if (strcmp(argv[i], "--no-symbolize") == 0) {
			finding_symbolize = false;
		} else {
			cli_error("graph", "%s: unknown option (see 'lockhound graph --help')",
				  argv[i]);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		cli_error("graph", "no log to read (see 'lockhound graph --help')");
		return EXIT_USAGE;
	}
	nlogs = (size_t)(argc - i);
	logs = load_logs(argv + i, nlogs);
	if (!logs)
		return EXIT_USAGE;
	g = og_build(logs, nlogs);
	if (svg) {
		rc = render_svg(g, nlogs);
	} else {
		write_dot(stdout, g, nlogs);
		rc = fflush(stdout) == 0 ? EXIT_CLEAN : EXIT_USAGE;
		if (rc)
			cli_error("graph", "standard output: %s", strerror(errno));
	}
	report_sym_problems(logs, nlogs);
	if (rc == EXIT_CLEAN && g->ncycles)
		rc = EXIT_FINDINGS;
	og_free(g);
	free_logs(logs, nlogs);
	return rc;
}
