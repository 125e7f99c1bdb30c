/*
 * lockhound stats LOG...: the contention profile of logs (contention.h),
 * worst first, as a table, JSON or CSV. Reads every log first (an input
 * error anywhere prints nothing but the error). A profile is not a finding:
 * the exit status is 0 whatever it shows, 2 on usage and input errors.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "contention.h"
#include "lockhound-cli.h"

enum stats_format { STATS_TEXT, STATS_JSON, STATS_CSV };

void
usage_stats(void)
{
	printf(
	    "usage: lockhound stats [--sort=wait|hold|contended|acquisitions] [--top=N]\n"
	    "                       [--format=text|json|csv] [--no-symbolize] LOG...\n\n"
	    "Prints the lock contention profile of the logs (the runtime's contention\n"
	    "records, stats=on or stats=hold), worst first: per lock and per class of\n"
	    "locks (made by one init call), acquisitions, contended acquisitions, wait\n"
	    "(and hold) times, and the call sites of the top waiters and of the holders\n"
	    "whose releases ended waits, symbolized offline. Several logs and processes\n"
	    "add up, locks matched by variable, annotation or init call.\n"
	    "  --sort=KEY        wait (total wait, the default), hold (total hold time;\n"
	    "                    needs stats=hold), contended, or acquisitions\n"
	    "  --top=N           at most N locks and N classes\n"
	    "  --format=FORMAT   text (default), json, or csv\n"
	    "  --no-symbolize    show raw addresses, read no binaries\n\n"
	    "Exit status: 0 (a profile is not a finding), 2 usage or input error.\n");
}

/* "--name=value" or "--name value": the value, advancing *i; NULL if argv[*i]
 * is not the option. A missing value is said and gives "". */
static const char *
option_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		cli_error("stats", "%s: needs a value (see 'lockhound stats --help')",
		          name);
		return "";
	}
	return argv[++*i];
}

static bool
parse_top(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	if (!s[0] || s[0] == '-' || s[0] == '+')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v == 0 || v > SIZE_MAX)
		return false;
	*out = (size_t)v;
	return true;
}

int
cmd_stats(int argc, char **argv)
{
	enum csort sort = CSORT_WAIT;
	enum stats_format format = STATS_TEXT;
	size_t top = 0, nlogs;
	struct logfile **logs;
	struct cprofile cp;
	const char *file = NULL, *v;
	unsigned line = 0;
	char why[200] = "";
	int i, rc = EXIT_CLEAN;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0')
			break;
		if ((v = option_value(argc, argv, &i, "--sort")) != NULL) {
			if (!csort_parse(v, &sort)) {
				if (v[0])
					cli_error(
					    "stats",
					    "--sort=%s: sort by wait, hold, contended "
					    "or acquisitions",
					    v);
				return EXIT_USAGE;
			}
		} else if ((v = option_value(argc, argv, &i, "--top")) != NULL) {
			if (!parse_top(v, &top)) {
				if (v[0])
					cli_error("stats",
					          "--top=%s: not a positive number", v);
				return EXIT_USAGE;
			}
		} else if ((v = option_value(argc, argv, &i, "--format")) != NULL) {
			if (strcmp(v, "text") == 0)
				format = STATS_TEXT;
			else if (strcmp(v, "json") == 0)
				format = STATS_JSON;
			else if (strcmp(v, "csv") == 0)
				format = STATS_CSV;
			else {
				if (v[0])
					cli_error(
					    "stats",
					    "--format=%s: the format is text, json or "
					    "csv",
					    v);
				return EXIT_USAGE;
			}
		} else if (strcmp(argv[i], "--no-symbolize") == 0) {
			finding_symbolize = false;
		} else {
			cli_error("stats",
			          "%s: unknown option (see 'lockhound stats --help')",
			          argv[i]);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		cli_error("stats", "no log to read (see 'lockhound stats --help')");
		return EXIT_USAGE;
	}
	nlogs = (size_t)(argc - i);
	logs = load_logs(argv + i, nlogs);
	if (!logs)
		return EXIT_USAGE;
	cprofile_init(&cp);
	if (!cprofile_add_logs(&cp, logs, nlogs, &file, &line, why, sizeof(why))) {
		fprintf(stderr, "lockhound: %s:%u: %s\n", file, line, why);
		rc = EXIT_USAGE;
	} else if (sort == CSORT_HOLD && cp.nrecords && !cp.any_hold) {
		cli_error(
		    "stats",
		    "--sort=hold: the logs have no hold times (the runtime measures "
		    "them with stats=hold)");
		rc = EXIT_USAGE;
	} else {
		cprofile_finish(&cp, sort);
		report_sym_problems(logs, nlogs);
		if (sort == CSORT_HOLD && cp.nprocs > 1) {
			size_t without = 0;

			for (size_t k = 0; k < cp.nlocks; k++)
				without += !cp.locks[k].has_hold;
			if (without)
				fprintf(stderr,
				        "lockhound: stats: note: %zu lock%s without hold "
				        "times (not "
				        "run with stats=hold) sort%s last\n",
				        without, without == 1 ? "" : "s",
				        without == 1 ? "s" : "");
		}
		switch (format) {
		case STATS_TEXT:
			cprofile_print_text(stdout, &cp, sort, top);
			break;
		case STATS_JSON:
			cprofile_print_json(stdout, &cp, sort, top);
			break;
		case STATS_CSV:
			cprofile_print_csv(stdout, &cp, top);
			break;
		}
		if (fflush(stdout) != 0 || ferror(stdout)) {
			cli_error("stats", "standard output: %s", strerror(errno));
			rc = EXIT_USAGE;
		}
	}
	cprofile_free(&cp);
	free_logs(logs, nlogs);
	return rc;
}
