/* What the runtime's unit suites share to look at its output: a fresh log
 * path for log_path, stderr captured into a file, and reading them back. */
#ifndef CHECK_LOG_H
#define CHECK_LOG_H

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lockhound-private.h"

/* The whole file at path (empty if missing), in a buffer the next call
 * reuses; at most 4 MiB are read. */
static inline char *
check_slurp(const char *path)
{
	static char buf[1 << 22];
	int fd = open(path, O_RDONLY);
	ssize_t n = 0, r;

	while (fd >= 0 && (size_t)n < sizeof(buf) - 1 &&
	       (r = read(fd, buf + n, sizeof(buf) - 1 - (size_t)n)) > 0)
		n += r;
	if (fd >= 0)
		close(fd);
	buf[n] = '\0';
	return buf;
}

/* How many times needle occurs in hay. */
static inline int
check_count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* Points the runtime's log at a new file: path gets its name (64 bytes),
 * made from tag. The file does not exist until the runtime writes. */
static inline void
check_fresh_log(char *path, const char *tag)
{
	int fd;

	snprintf(path, 64, "/tmp/lh-check-%s.XXXXXX", tag);
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	unlink(path);
	strcpy(lh_opt.log_path, path);
	lh_report_init();
}

/* Sends stderr to a new file named in path (64 bytes); *saved keeps the
 * real one (-1 the first time) for check_restore_stderr. */
static inline void
check_capture_stderr(char *path, const char *tag, int *saved)
{
	int fd;

	snprintf(path, 64, "/tmp/lh-check-%s-err.XXXXXX", tag);
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	if (*saved < 0)
		*saved = dup(2);
	dup2(fd, 2);
	close(fd);
}

static inline void
check_restore_stderr(int saved)
{
	if (saved >= 0)
		dup2(saved, 2);
}

#endif
