/* Unit tests for tools/logread.c: the record layer of the offline CLI. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../tools/logread.h"
#include "check-main.h"

#define HEADER(pid)                                                                      \
	"{\"lockhound\":1,\"kind\":\"header\",\"pid\":" #pid ",\"exe\":\"/bin/x\","       \
	"\"modules\":[{\"index\":0,\"path\":\"/bin/x\",\"build_id\":\"ab\",\"base\":\"0x1000\"}]}\n"
#define LOCK(id, name)                                                                   \
	"{\"kind\":\"lock\",\"pid\":1,\"time\":1.0,\"id\":" #id ",\"addr\":\"0x10\",\"type\":" \
	"\"mutex\",\"name\":\"" name "\",\"symbol\":{\"name\":\"" name "\",\"offset\":0,"      \
	"\"module\":0,\"module_offset\":\"0x10\"}}\n"
#define STACK(id)                                                                        \
	"{\"kind\":\"stack\",\"pid\":1,\"id\":" #id ",\"frames\":[{\"pc\":\"0x1234\","        \
	"\"module\":0,\"offset\":\"0x234\"}]}\n"
#define ORDER(from, to)                                                                  \
	"{\"kind\":\"lock-order\",\"pid\":1,\"tid\":2,\"from\":" #from ",\"to\":" #to         \
	",\"modes\":[[\"write\",\"read\"]],\"thread\":{\"tid\":2,\"name\":\"t\"},"             \
	"\"held_stack_id\":1,\"stack_id\":1,\"gates\":[3],\"count\":1,\"seq\":1}\n"

static struct logfile *
read_str(const char *s, struct logerror *err)
{
	return logfile_read_mem("t.log", s, strlen(s), err);
}

static void
fails_at(const char *s, unsigned line, const char *why)
{
	struct logerror err;
	struct logfile *f = read_str(s, &err);

	ck_assert_msg(f == NULL, "accepted a bad log (%s)", why);
	ck_assert_uint_eq(err.line, line);
	ck_assert_msg(strstr(err.why, why) != NULL, "said '%s', not '%s'", err.why, why);
}

START_TEST(test_logread_reads_records)
{
	struct logerror err;
	struct logfile *f = read_str(HEADER(1) LOCK(1, "lock_a") LOCK(2, "lock_b") STACK(1)
					     ORDER(1, 2)
				     "{\"kind\":\"lock-order-inversion\",\"pid\":1,\"cycle\":[1]}\n"
				     "{\"kind\":\"from-the-future\",\"pid\":1,\"x\":[]}\n",
				     &err);
	struct logproc *p;
	const struct loglock *lk;
	const struct logstack *st;

	ck_assert_msg(f != NULL, "%u: %s", err.line, err.why);
	ck_assert_uint_eq(f->nprocs, 1);
	ck_assert(!f->truncated);
	p = f->procs[0];
	ck_assert_uint_eq(p->pid, 1);
	ck_assert_str_eq(p->exe, "/bin/x");
	ck_assert_uint_eq(p->nmodules, 1);
	ck_assert_uint_eq(p->modules[0].base, 0x1000);
	lk = logproc_lock(p, 1, 2);
	ck_assert_ptr_nonnull(lk);
	ck_assert_str_eq(lk->sym_name, "lock_b");
	ck_assert_int_eq(lk->sym_module, 0);
	st = logproc_stack(p, 1, 1);
	ck_assert_ptr_nonnull(st);
	ck_assert_uint_eq(st->n, 1);
	ck_assert_uint_eq(st->frames[0].offset, 0x234);
	ck_assert_uint_eq(p->norders, 1);
	ck_assert_uint_eq(p->orders[0].combos, LOG_COMBO(0, 1));
	ck_assert_uint_eq(p->orders[0].ngates, 1);
	ck_assert_str_eq(p->orders[0].thread_name, "t");
	ck_assert_uint_eq(p->nrecords, 2); /* findings and unknown kinds, kept whole */
	ck_assert_str_eq(p->records[1].kind, "from-the-future");
	ck_assert_uint_eq(p->records[1].line, 7);
	logfile_free(f);
}
END_TEST

START_TEST(test_logread_keeps_processes_apart)
{
	struct logerror err;
	struct logfile *f = read_str(HEADER(1) LOCK(1, "lock_a") HEADER(7) LOCK(1, "other"), &err);

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->nprocs, 2);
	ck_assert_str_eq(logproc_lock(f->procs[0], 1, 1)->name, "lock_a");
	/* ids are per process: the second header starts afresh */
	ck_assert_str_eq(logproc_lock(f->procs[1], 1, 1)->name, "other");
	ck_assert_uint_eq(f->procs[1]->header_line, 3);
	logfile_free(f);
}
END_TEST

START_TEST(test_logread_reads_up_to_a_cut)
{
	struct logerror err;
	const char *whole = HEADER(1) LOCK(1, "lock_a") LOCK(2, "lock_b");
	char *cut = malloc(strlen(whole) + 64);
	struct logfile *f;

	sprintf(cut, "%s{\"kind\":\"lock-order\",\"pid\":1,\"fr", whole);
	f = read_str(cut, &err);
	ck_assert_msg(f != NULL, "%s", err.why);
	ck_assert(f->truncated);
	ck_assert_uint_eq(f->cut_line, 4);
	ck_assert_uint_eq(f->nlines, 3);
	ck_assert_ptr_nonnull(logproc_lock(f->procs[0], 1, 2));
	logfile_free(f);
	/* A whole last record without its newline is whole. */
	f = read_str(HEADER(1) "{\"kind\":\"x\",\"pid\":1}", &err);
	ck_assert_ptr_nonnull(f);
	ck_assert(!f->truncated);
	logfile_free(f);
	free(cut);
}
END_TEST

START_TEST(test_logread_refuses_damage)
{
	fails_at("", 0, "empty file");
	fails_at("hello world\n", 1, "not a lockhound log");
	fails_at("{\"kind\":\"lock\",\"id\":1}\n", 1, "not a lockhound log");
	fails_at("{\"lockhound\":2,\"kind\":\"header\",\"pid\":1,\"modules\":[]}\n", 1,
		 "format version 2 is newer");
	fails_at("{\"lockhound\":\"1\",\"kind\":\"header\"}\n", 1, "without a format version");
	fails_at("{\"lockhound\":1,\"kind\":\"hea", 1, "cut short in its header");
	fails_at(HEADER(1) "{\"kind\":\"lock\",\"pid\":1,\"id\":\"one\"}\n", 2, "\"id\"");
	fails_at(HEADER(1) "{\"kind\":\"lock\"\x01}\n" LOCK(1, "a"), 2, "not JSON");
	fails_at(HEADER(1) "[1,2]\n", 2, "not a JSON object");
	fails_at(HEADER(1) "{\"pid\":1}\n", 2, "without a \"kind\"");
	fails_at(HEADER(1) "{\"kind\":\"stack\",\"id\":1,\"frames\":[{\"pc\":12}]}\n", 2,
		 "hexadecimal \"pc\"");
	fails_at(HEADER(1) "{\"kind\":\"lock-order\",\"from\":1,\"to\":2,\"gates\":[-1]}\n", 2,
		 "gates");
	fails_at(HEADER(1) "{\"kind\":\"lock-order\",\"from\":1,\"to\":2,\"modes\":[[\"x\",1]]}\n",
		 2, "modes");
	fails_at(HEADER(1) "{\"kind\":\"modules\",\"modules\":[{\"index\":99999999,\"path\":\"a\","
			   "\"base\":\"0x0\"}]}\n",
		 2, "index");
	fails_at(HEADER(1) "{\"kind\":\"lock\",\"id\":1}\n{\"kind\":\"lock\",\"id\":99999999999999999999}\n", 3, "\"id\"");
}
END_TEST

START_TEST(test_logread_refuses_files_that_are_not_logs)
{
	struct logerror err;
	char dir[] = "/tmp/check-logread.XXXXXX", path[64];
	struct logfile *f;
	FILE *w;
	char *big;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_null(logfile_read(dir, &err));
	ck_assert_str_eq(err.why, "is a directory, not a log file");
	snprintf(path, sizeof(path), "%s/missing", dir);
	ck_assert_ptr_null(logfile_read(path, &err));
	ck_assert_str_eq(err.why, "No such file or directory");
	snprintf(path, sizeof(path), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_ptr_null(logfile_read(path, &err)); /* must not wait for a writer */
	ck_assert_str_eq(err.why, "not a regular file");
	unlink(path);
	ck_assert_ptr_null(logfile_read("/dev/zero", &err));
	/* A line longer than the limit is refused without reading it whole. */
	snprintf(path, sizeof(path), "%s/long", dir);
	w = fopen(path, "w");
	ck_assert_ptr_nonnull(w);
	fputs(HEADER(1), w);
	big = malloc(LOGREAD_MAX_LINE + 2);
	memset(big, ' ', LOGREAD_MAX_LINE + 1);
	big[LOGREAD_MAX_LINE + 1] = '\0';
	fputs(big, w);
	fclose(w);
	free(big);
	f = logfile_read(path, &err);
	ck_assert_ptr_null(f);
	ck_assert_uint_eq(err.line, 2);
	ck_assert_msg(strstr(err.why, "longer than") != NULL, "%s", err.why);
	unlink(path);
	rmdir(dir);
}
END_TEST

static Suite *
logread_suite(void)
{
	Suite *s = suite_create("logread");
	TCase *core = tcase_create("core"), *damage = tcase_create("damage");

	tcase_add_test(core, test_logread_reads_records);
	tcase_add_test(core, test_logread_keeps_processes_apart);
	tcase_add_test(core, test_logread_reads_up_to_a_cut);
	tcase_add_test(damage, test_logread_refuses_damage);
	tcase_add_test(damage, test_logread_refuses_files_that_are_not_logs);
	tcase_set_timeout(damage, 30);
	suite_add_tcase(s, core);
	suite_add_tcase(s, damage);
	return s;
}

CHECK_MAIN(logread_suite)
