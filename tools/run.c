/*
 * lockhound run [--key=value]... [--] PROG [ARGS]: runs PROG with the runtime
 * preloaded and the options in LOCKHOUND_OPTIONS. It execs PROG in place, so
 * PROG keeps our pid and its exit status (or the `exitcode` option's) is
 * ours; signals reach it directly.
 *
 * The runtime is found, in order: $LOCKHOUND_LIBRARY; next to this binary in
 * a build tree (../lib/.libs/liblockhound.so); the installed $libdir.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/lockhound-private.h"
#include "lockhound-cli.h"

void
usage_run(void)
{
	printf("usage: lockhound run [--KEY=VALUE]... [--] PROG [ARGS]...\n\n"
	       "Runs PROG with the lockhound runtime preloaded. Each --KEY=VALUE is a\n"
	       "runtime option (see lockhound(7)), added to LOCKHOUND_OPTIONS:\n"
	       "  --log_path=FILE   write JSON-lines records to FILE (%%p: the pid)\n"
	       "  --exitcode=N      exit with N if anything was reported\n"
	       "  --timeout_ms=N    report an acquisition that has waited N ms\n"
	       "  --stats=off|on|hold contention profiling (hold: also hold times)\n"
	       "  --on_deadlock=report|abort\n"
	       "                    abort (with a core) when a thread can never return\n"
	       "  --dump_signal=SIG the thread-dump signal (default SIGUSR1; 0: none)\n"
	       "  --dump_interrupt=0 dumps leave sleeping and polling threads alone\n\n"
	       "Exits with PROG's status; 2 if PROG cannot be run or an option is bad.\n");
}

/* Returns s + sep + add (just add when s is empty) and frees s. */
static char *
append(char *s, const char *sep, const char *add)
{
	size_t a = s ? strlen(s) : 0, b = strlen(add);
	char *r = malloc(a + strlen(sep) + b + 1);

	if (!r) {
		cli_error("run", "out of memory");
		exit(EXIT_USAGE);
	}
	if (a) {
		memcpy(r, s, a);
		strcpy(r + a, sep);
		strcat(r, add);
	} else {
		strcpy(r, add);
	}
	free(s);
	return r;
}

int
cmd_run(int argc, char **argv)
{
	char lib[PATH_MAX];
	char *opts = NULL, *preload;
	const char *env;
	int i;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *why = NULL;
		char key[64];
		const char *eq;
		size_t klen;

		if (strcmp(arg, "--") == 0) {
			i++;
			break;
		}
		if (strncmp(arg, "--", 2) != 0)
			break;
		eq = strchr(arg, '=');
		if (!eq) {
			cli_error("run", "%s: options take the form --key=value", arg);
			goto usage;
		}
		klen = (size_t)(eq - arg - 2);
		if (klen >= sizeof(key))
			klen = sizeof(key) - 1;
		memcpy(key, arg + 2, klen);
		key[klen] = '\0';
		if (lh_option_check(key, eq + 1, &why) < 0) {
			cli_error("run", "--%s: %s", key, why);
			goto usage;
		}
		if (strchr(eq + 1, ':')) {
			cli_error("run", "--%s: a value cannot contain ':'", key);
			goto usage;
		}
		opts = append(opts, ":", arg + 2);
	}
	if (i >= argc) {
		cli_error("run", "no program to run (see 'lockhound run --help')");
		goto usage;
	}
	if (!cli_find_runtime(lib, sizeof(lib))) {
		cli_error("run", "%s: the runtime library is missing (set LOCKHOUND_LIBRARY)",
			  lib);
		goto usage;
	}
	/* Options given here come last, so they win over the environment's. */
	env = getenv("LOCKHOUND_OPTIONS");
	if (opts) {
		char *all = append(env && *env ? strdup(env) : NULL, ":", opts);

		setenv("LOCKHOUND_OPTIONS", all, 1);
		free(all);
	}
	env = getenv("LD_PRELOAD");
	preload = append(strdup(lib), ":", env && *env ? env : "");
	if (preload[strlen(preload) - 1] == ':')
		preload[strlen(preload) - 1] = '\0';
	setenv("LD_PRELOAD", preload, 1);
	execvp(argv[i], argv + i);
	cli_error("run", "%s: %s", argv[i], strerror(errno));
	free(preload);
usage:
	free(opts);
	return EXIT_USAGE;
}
