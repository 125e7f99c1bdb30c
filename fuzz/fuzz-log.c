/*
 * libFuzzer target: lockhound logs (lockhound-report(5)) through the real
 * subcommands. Each input is written to a file and read by explain (text,
 * JSON, SARIF), replay, graph and stats, exactly as `lockhound CMD FILE` would
 * (without reading binaries: --no-symbolize). Any crash, hang, leak or
 * sanitizer report is a bug; exit statuses 0, 1 and 2 are all fine.
 * Build and run: fuzz/run.sh (or `make fuzz`).
 */
#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tools/explain.h"
#include "../tools/lockhound-cli.h"

const char *cli_progname = "lockhound";

void
cli_error(const char *what, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "lockhound: %s: ", what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd;

	(void)argc;
	(void)argv;
	snprintf(path, sizeof(path), "/tmp/lockhound-fuzz-log.%d", (int)getpid());
	/* The subcommands print on stdout: keep it quiet. */
	fd = open("/dev/null", O_WRONLY);
	if (fd >= 0) {
		dup2(fd, 1);
		close(fd);
	}
	return 0;
}

static void
run(int (*cmd)(int, char **), const char *a, const char *b)
{
	char *argv[5];
	int argc = 0, rc;

	argv[argc++] = (char *)"cmd";
	argv[argc++] = (char *)"--no-symbolize";
	if (a)
		argv[argc++] = (char *)a;
	if (b)
		argv[argc++] = (char *)b;
	argv[argc++] = path;
	rc = cmd(argc, argv);
	if (rc < 0 || rc > 2)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	run(cmd_explain, NULL, NULL);
	run(cmd_explain, "--format=sarif", "--all");
	run(cmd_explain, "--format=json", NULL);
	run(cmd_replay, NULL, NULL);
	run(cmd_graph, NULL, NULL);
	run(cmd_stats, NULL, NULL);
	run(cmd_stats, "--format=json", "--sort=acquisitions");
	run(cmd_stats, "--format=csv", "--top=2");
	unlink(path);
	return 0;
}
