/*
 * Unit tests for lib/report.c: the log (header, lock, stack, lock-order and
 * inversion records) and the text on stderr.
 */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check-main.h"
#include "lockhound-private.h"

static pthread_mutex_t accounts_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t ledger_lock = PTHREAD_MUTEX_INITIALIZER;
static char logpath[64], errpath[64];
static struct lh_gnode ga, gb;
static struct lh_edge ab, ba;

__attribute__((noinline)) static void
transfer(void)
{
	__asm__ volatile("");
}

static char *
slurp(const char *path)
{
	static char buf[1 << 16];
	int fd = open(path, O_RDONLY);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void
setup(void)
{
	uintptr_t pcs[2] = {(uintptr_t)transfer + 4, (uintptr_t)transfer + 8};
	int fd;

	ck_assert(lh_ready());
	strcpy(logpath, "/tmp/lh-check-report.XXXXXX");
	fd = mkstemp(logpath);
	close(fd);
	unlink(logpath);
	strcpy(lh_opt.log_path, logpath);
	lh_report_init();
	strcpy(errpath, "/tmp/lh-check-err.XXXXXX");
	fd = mkstemp(errpath);
	dup2(fd, 2);
	close(fd);

	ga = (struct lh_gnode){.id = 1, .addr = (uintptr_t)&accounts_lock};
	gb = (struct lh_gnode){.id = 2, .addr = (uintptr_t)&ledger_lock, .init_pc = pcs[0]};
	ab = (struct lh_edge){.from = &ga, .to = &gb, .combos = 1, .tid = 77, .count = 1,
			      .seq = 1};
	strcpy(ab.thread_name, "payer");
	ab.from_stack = lh_stack_intern(pcs, 2, 0);
	ab.to_stack = lh_stack_intern(pcs + 1, 1, 0);
	ba = (struct lh_edge){.from = &gb, .to = &ga, .combos = 1, .tid = 78, .count = 1,
			      .seq = 2};
	ba.from_stack = lh_stack_intern(pcs, 1, LH_STACK_PARTIAL);
	ba.to_stack = ab.from_stack;
}

static void
teardown(void)
{
	unlink(logpath);
	unlink(errpath);
}

START_TEST(test_report_log_is_made_by_the_first_record)
{
	ck_assert_int_ne(access(logpath, F_OK), 0);
	lh_report_new_edge(&ab, NULL);
	ck_assert_int_eq(access(logpath, F_OK), 0);
}
END_TEST

START_TEST(test_report_log_starts_with_header)
{
	char *log;

	lh_report_new_edge(&ab, NULL);
	log = slurp(logpath);

	ck_assert_msg(strncmp(log, "{\"lockhound\":1,\"kind\":\"header\",\"pid\":", 37) == 0,
		      "%s", log);
	ck_assert(strstr(log, "\"modules\":[{\"index\":0,") != NULL);
	ck_assert(strstr(log, "\"build_id\":\"") != NULL);
	ck_assert_ptr_null(strstr(strchr(log, '\n'), "header")); /* one header */
}
END_TEST

START_TEST(test_report_log_is_private)
{
	struct stat st;

	lh_report_new_edge(&ab, NULL);
	ck_assert_int_eq(stat(logpath, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
}
END_TEST

START_TEST(test_report_new_edge_writes_lock_stack_and_order)
{
	char *log;

	lh_report_new_edge(&ab, NULL);
	log = slurp(logpath);
	ck_assert(strstr(log, "{\"kind\":\"lock\",") != NULL);
	ck_assert(strstr(log, "\"name\":\"accounts_lock\"") != NULL);
	ck_assert(strstr(log, "\"name\":\"ledger_lock\"") != NULL);
	ck_assert(strstr(log, "\"init\":{\"pc\":") != NULL);
	ck_assert(strstr(log, "{\"kind\":\"stack\",") != NULL);
	ck_assert(strstr(log, "\"kind\":\"lock-order\",") != NULL);
	ck_assert(strstr(log, "\"from\":1,\"to\":2,") != NULL);
	ck_assert(strstr(log, "\"thread\":{\"tid\":77,\"name\":\"payer\"}") != NULL);
	/* A second edge reuses the lock and stack records. */
	lh_report_new_edge(&ab, NULL);
	log = slurp(logpath);
	ck_assert_ptr_null(strstr(strstr(log, "lock-order") + 1, "\"kind\":\"lock\""));
}
END_TEST

START_TEST(test_report_cycle_text_and_record)
{
	struct lh_cycle c = {.n = 2, .edges = {&ab, &ba}};
	uint64_t before = lh_report_findings();
	char *err, *log;

	lh_report_cycle(&c, NULL);
	ck_assert_uint_eq(lh_report_findings(), before + 1);
	err = slurp(errpath);
	ck_assert_msg(strncmp(err, "lockhound: lock-order-inversion: potential deadlock: 2 "
				   "locks",
			      60) == 0,
		      "%s", err);
	ck_assert(strstr(err, "cycle: accounts_lock => ledger_lock => accounts_lock") != NULL);
	ck_assert(strstr(err, "in transfer+0x") != NULL);
	ck_assert(strstr(err, "thread 77 \"payer\" took ledger_lock") != NULL);
	ck_assert(strstr(err, "only the caller is known") != NULL);
	log = slurp(logpath);
	ck_assert(strstr(log, "\"kind\":\"lock-order-inversion\"") != NULL);
	ck_assert(strstr(log, "\"cycle\":[1,2]") != NULL);
	ck_assert(strstr(log, "\"held_stack_partial\":true") != NULL);
}
END_TEST

START_TEST(test_report_json_begin_fields)
{
	struct lh_buf b;

	lh_buf_init(&b);
	lh_json_begin(&b, "contention", 42);
	ck_assert(strncmp(b.p, "{\"kind\":\"contention\",\"pid\":", 27) == 0);
	ck_assert(strstr(b.p, ",\"tid\":42,\"time\":") != NULL);
	ck_assert_int_eq(strchr(b.p, '.')[7], '\0'); /* microseconds */
	lh_buf_release(&b);
}
END_TEST

__attribute__((noinline)) static bool
misuse_here(struct lh_lock *lk)
{
	return lh_report_misuse("relock", &accounts_lock, lk, "taken again by its holder",
				ab.from_stack, (uintptr_t)__builtin_dwarf_cfa(), 0);
}

START_TEST(test_report_misuse_once_per_site)
{
	struct lh_lock *lk = lh_locktab_get(&accounts_lock, LH_TYPE_MUTEX, 0, 0, false);
	uint64_t before = lh_report_findings();
	char *err, *log;

	for (int i = 0; i < 3; i++)
		ck_assert(misuse_here(lk) == (i == 0)); /* one call site: once */
	ck_assert_uint_eq(lh_report_findings(), before + 1);
	err = slurp(errpath);
	ck_assert_msg(strncmp(err, "lockhound: misuse: relock: taken again by its holder",
			      52) == 0,
		      "%s", err);
	ck_assert(strstr(err, "in test_report_misuse_once_per_site_fn+0x") != NULL);
	ck_assert(strstr(err, "the lock was taken at:") != NULL);
	log = slurp(logpath);
	ck_assert(strstr(log, "\"kind\":\"misuse\"") != NULL);
	ck_assert(strstr(log, "\"what\":\"relock\"") != NULL);
	ck_assert(strstr(log, "\"held_stack\":[") != NULL);
	ck_assert(strstr(log, "\"name\":\"accounts_lock\"") != NULL);
}
END_TEST

static Suite *
report_suite(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_report_log_is_made_by_the_first_record);
	tcase_add_test(tc, test_report_log_starts_with_header);
	tcase_add_test(tc, test_report_log_is_private);
	tcase_add_test(tc, test_report_new_edge_writes_lock_stack_and_order);
	tcase_add_test(tc, test_report_cycle_text_and_record);
	tcase_add_test(tc, test_report_json_begin_fields);
	tcase_add_test(tc, test_report_misuse_once_per_site);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(report_suite)
