/*
 * lockhound: the command-line tool. main() dispatches to a subcommand; the
 * subcommands share the error convention of lockhound-cli.h.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lockhound-cli.h"

const char *cli_progname = "lockhound";

static const struct cli_command commands[] = {
	{"run", "run a program under the lockhound runtime", cmd_run, usage_run},
	{"explain", "tell every finding of logs in plain words, symbolized", cmd_explain,
	 usage_explain},
	{"replay", "find lock-order cycles across the orders of many runs", cmd_replay,
	 usage_replay},
	{"graph", "print the lock-order graph of logs as Graphviz DOT", cmd_graph, usage_graph},
	{"stats", "print the lock contention profile of logs, worst first", cmd_stats,
	 usage_stats},
	{"dump", "print the thread dump of a running process", cmd_dump, usage_dump},
	{"attach", "diagnose a running process: stacks, locks, owners, deadlocks", cmd_attach,
	 usage_attach},
};

/* Prints "lockhound: <what>: <why>" on stderr. */
void
cli_error(const char *what, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s: ", cli_progname, what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

bool
cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: lockhound <command> [options] [args]\n"
		   "       lockhound --help | --version\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'lockhound <command> --help' describes a command; lockhound(1) has "
		   "the details.\nExit status: 0 nothing found, 1 findings, 2 usage or input "
		   "error.\n");
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return EXIT_CLEAN;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("lockhound %s\n", PACKAGE_VERSION);
		return EXIT_CLEAN;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		if (cli_wants_help(argc - 1, argv + 1) && commands[i].usage) {
			commands[i].usage();
			return EXIT_CLEAN;
		}
		return commands[i].main(argc - 1, argv + 1);
	}
	cli_error(argv[1], "unknown command (see 'lockhound --help')");
	return EXIT_USAGE;
}
