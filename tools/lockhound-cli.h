/*
 * The lockhound command: one file per subcommand, dispatched from main.c.
 * Every subcommand returns the process exit status: 0 nothing found,
 * 1 findings, 2 usage or input error (after one line on stderr).
 */
#ifndef LOCKHOUND_CLI_H
#define LOCKHOUND_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define EXIT_CLEAN 0
#define EXIT_FINDINGS 1
#define EXIT_USAGE 2

struct cli_command {
	const char *name;
	const char *summary;
	int (*main)(int argc, char **argv);
	void (*usage)(void);
};

extern const char *cli_progname;

void cli_error(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool cli_wants_help(int argc, char **argv);

/* The runtime this lockhound belongs to: $LOCKHOUND_LIBRARY, else the one in
 * its build tree, else the installed one. Its path into buf; false if it
 * cannot be read (attach-runtime.c). */
bool cli_find_runtime(char *buf, size_t size);

/* A thread of process pid whose /proc/PID/task/TID/FILE (e.g. "comm")
 * pick() takes: the main thread if it is one, else the first; 0 if none
 * (attach-ptrace.c). */
pid_t cli_find_task(pid_t pid, bool (*pick)(const char *buf), const char *file);

int cmd_run(int argc, char **argv);
void usage_run(void);
int cmd_dump(int argc, char **argv);
void usage_dump(void);

/* Offline commands over logs (explain.c, replay.c, graph.c). */
int cmd_explain(int argc, char **argv);
void usage_explain(void);
int cmd_replay(int argc, char **argv);
void usage_replay(void);
int cmd_graph(int argc, char **argv);
void usage_graph(void);

/* The contention profile of logs (stats.c). */
int cmd_stats(int argc, char **argv);
void usage_stats(void);
/* lockhound attach PID (attach.c). */
int cmd_attach(int argc, char **argv);
void usage_attach(void);

#endif
