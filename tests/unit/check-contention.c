/* Unit tests for tools/contention.c: contention records into lock and class
 * rows, added up across processes, sorted and printed. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/contention.h"
#include "../../tools/json.h"
#include "check-main.h"

#define HEADER(pid)                                                                      \
	"{\"lockhound\":1,\"kind\":\"header\",\"pid\":" #pid ",\"exe\":\"/bin/x\","       \
	"\"modules\":[{\"index\":0,\"path\":\"/bin/x\",\"build_id\":\"\",\"base\":"         \
	"\"0x1000\"}]}\n"
/* A static lock (a variable of /bin/x). */
#define SLOCK(pid, id, name)                                                             \
	"{\"kind\":\"lock\",\"pid\":" #pid ",\"time\":1.0,\"id\":" #id ",\"addr\":"        \
	"\"0x5010\",\"type\":\"mutex\",\"name\":\"" name "\",\"symbol\":{\"name\":\"" name  \
	"\",\"offset\":0,\"module\":0,\"module_offset\":\"0x4010\"}}\n"
/* A heap lock made by the init call at /bin/x+0x11c0. */
#define HLOCK(pid, id)                                                                   \
	"{\"kind\":\"lock\",\"pid\":" #pid ",\"time\":1.0,\"id\":" #id ",\"addr\":"        \
	"\"0x9" #id "0\",\"type\":\"mutex\",\"name\":\"mutex 0x9" #id "0\",\"init\":"      \
	"{\"pc\":\"0x21c0\",\"module\":0,\"offset\":\"0x11c0\"}}\n"
#define FRAME(off) "[{\"pc\":\"0x1" off "\",\"module\":0,\"offset\":\"0x" off "\"}]"
#define CONT(pid, id, acq, cont, wait, max, extra)                                       \
	"{\"kind\":\"contention\",\"pid\":" #pid ",\"time\":2.0,\"scope\":\"lock\","        \
	"\"lock\":" #id ",\"name\":\"n\",\"acquisitions\":" #acq ",\"contended\":" #cont    \
	",\"wait_ns\":" #wait ",\"wait_max_ns\":" #max ",\"wait_mean_ns\":0,\"sites\":1"    \
	extra "}\n"
#define SITES                                                                            \
	",\"acquire_sites\":[{\"frame\":" FRAME("200") ",\"acquisitions\":10}],"          \
	"\"wait_sites\":[{\"frame\":" FRAME("200") ",\"count\":3,\"wait_ns\":300}],"       \
	"\"holder_sites\":[{\"frame\":" FRAME("210") ",\"count\":2,\"wait_ns\":250},"      \
	"{\"frame\":" FRAME("220") ",\"count\":1,\"wait_ns\":50}]"
#define HOLD(holds, ns, max)                                                             \
	",\"holds\":" #holds ",\"hold_ns\":" #ns ",\"hold_max_ns\":" #max                  \
	",\"hold_mean_ns\":0"

static struct logfile *
read_log(const char *s)
{
	struct logerror err;
	struct logfile *f = logfile_read_mem("t.log", s, strlen(s), &err);

	ck_assert_msg(f != NULL, "%u: %s", err.line, err.why);
	return f;
}

/* Builds and finishes the profile of one log; NULL-free on success. */
static void
profile(struct logfile *f, struct cprofile *cp, enum csort sort)
{
	const char *file = NULL;
	unsigned line = 0;
	char why[200] = "";

	cprofile_init(cp);
	ck_assert_msg(cprofile_add_logs(cp, &f, 1, &file, &line, why, sizeof(why)), "%u: %s",
		      line, why);
	cprofile_finish(cp, sort);
}

START_TEST(test_contention_sorts_worst_first)
{
	struct logfile *f = read_log(HEADER(1) SLOCK(1, 1, "hot") SLOCK(1, 2, "busy")
					     SLOCK(1, 3, "held") CONT(1, 1, 400, 300, 9000, 100, "")
						     CONT(1, 2, 200000, 1, 10, 10, "")
							     CONT(1, 3, 50, 5, 20, 10,
								  HOLD(50, 99999, 5000)));
	struct cprofile cp;

	profile(f, &cp, CSORT_WAIT);
	ck_assert_uint_eq(cp.nlocks, 3);
	ck_assert_uint_eq(cp.nclasses, 0);
	ck_assert_uint_eq(cp.nprocs, 1);
	ck_assert_str_eq(cp.locks[0].name, "hot");
	ck_assert_str_eq(cp.locks[1].name, "held");
	ck_assert_str_eq(cp.locks[2].name, "busy");
	ck_assert(cp.any_hold);
	cprofile_sort(&cp, CSORT_ACQUISITIONS);
	ck_assert_str_eq(cp.locks[0].name, "busy");
	cprofile_sort(&cp, CSORT_CONTENDED);
	ck_assert_str_eq(cp.locks[0].name, "hot");
	ck_assert_str_eq(cp.locks[1].name, "held");
	cprofile_sort(&cp, CSORT_HOLD);
	ck_assert_str_eq(cp.locks[0].name, "held");
	ck_assert(cp.locks[0].has_hold);
	ck_assert(!cp.locks[1].has_hold);
	cprofile_free(&cp);
	logfile_free(f);
}
END_TEST

START_TEST(test_contention_keeps_the_last_record_of_a_lock)
{
	/* A dump's record, then the one at exit: totals so far, the last wins. */
	struct logfile *f = read_log(HEADER(1) SLOCK(1, 1, "hot") CONT(1, 1, 10, 1, 100, 100, "")
					     CONT(1, 1, 25, 4, 700, 300, ""));
	struct cprofile cp;

	profile(f, &cp, CSORT_WAIT);
	ck_assert_uint_eq(cp.nlocks, 1);
	ck_assert_uint_eq(cp.nrecords, 1);
	ck_assert_uint_eq(cp.locks[0].acquisitions, 25);
	ck_assert_uint_eq(cp.locks[0].contended, 4);
	ck_assert_uint_eq(cp.locks[0].wait_ns, 700);
	cprofile_free(&cp);
	logfile_free(f);
}
END_TEST

START_TEST(test_contention_adds_up_processes_by_variable)
{
	/* Two runs of /bin/x in one file: hot_lock is one row, its sites merge. */
	struct logfile *f = read_log(HEADER(1) SLOCK(1, 1, "hot") CONT(1, 1, 10, 3, 300, 200, SITES)
					     HEADER(2) SLOCK(2, 4, "hot")
						     CONT(2, 4, 30, 6, 900, 500,
							  SITES HOLD(30, 3000, 400)));
	struct cprofile cp;
	const struct crow *r;

	profile(f, &cp, CSORT_WAIT);
	ck_assert_uint_eq(cp.nlocks, 1);
	ck_assert_uint_eq(cp.nprocs, 2);
	r = &cp.locks[0];
	ck_assert_uint_eq(r->nprocs, 2);
	ck_assert_uint_eq(r->acquisitions, 40);
	ck_assert_uint_eq(r->contended, 9);
	ck_assert_uint_eq(r->wait_ns, 1200);
	ck_assert_uint_eq(r->wait_max_ns, 500);
	/* Hold times from one of the two runs only: said so. */
	ck_assert(r->has_hold && r->hold_partial);
	ck_assert_uint_eq(r->holds, 30);
	ck_assert_uint_eq(r->nsite[CSITE_ACQUIRE], 1);
	ck_assert_uint_eq(r->site[CSITE_ACQUIRE][0].count, 20);
	ck_assert_uint_eq(r->nsite[CSITE_WAIT], 1);
	ck_assert_uint_eq(r->site[CSITE_WAIT][0].count, 6);
	ck_assert_uint_eq(r->site[CSITE_WAIT][0].wait_ns, 600);
	ck_assert_uint_eq(r->nsite[CSITE_HOLDER], 2);
	/* worst first: 500 ns of waits ended at +0x210, 100 at +0x220 */
	ck_assert_uint_eq(r->site[CSITE_HOLDER][0].wait_ns, 500);
	ck_assert_uint_eq(r->site[CSITE_HOLDER][0].frame.offset, 0x210);
	ck_assert_uint_eq(r->site[CSITE_HOLDER][1].wait_ns, 100);
	cprofile_free(&cp);
	logfile_free(f);
}
END_TEST

START_TEST(test_contention_rolls_heap_locks_up_by_class)
{
	/* Two live heap locks of one init call, and a class record of three
	 * destroyed ones; in a second process, one more live lock. */
	struct logfile *f = read_log(
		HEADER(1) HLOCK(1, 1) HLOCK(1, 2) HLOCK(1, 3) CONT(1, 1, 7, 1, 10, 10, "")
			CONT(1, 2, 8, 0, 0, 0, "")
				"{\"kind\":\"contention\",\"pid\":1,\"time\":2.0,\"scope\":\"class\","
				"\"locks\":3,\"example_lock\":3,\"name\":\"mutex 0x930\","
				"\"acquisitions\":30,\"contended\":2,\"wait_ns\":40,\"wait_max_ns\":"
				"30,\"wait_mean_ns\":20,\"sites\":1}\n" HEADER(2) HLOCK(2, 1)
					CONT(2, 1, 5, 0, 0, 0, ""));
	struct cprofile cp;
	const struct crow *c;

	profile(f, &cp, CSORT_WAIT);
	/* Heap locks are rows of their own process. */
	ck_assert_uint_eq(cp.nlocks, 3);
	for (size_t i = 0; i < cp.nlocks; i++)
		ck_assert_uint_eq(cp.locks[i].nprocs, 1);
	ck_assert_uint_eq(cp.nclasses, 1);
	c = &cp.classes[0];
	ck_assert_uint_eq(c->locks, 6);
	ck_assert_uint_eq(c->destroyed, 3);
	ck_assert_uint_eq(c->acquisitions, 7 + 8 + 30 + 5);
	ck_assert_uint_eq(c->contended, 3);
	ck_assert_uint_eq(c->wait_ns, 50);
	ck_assert_uint_eq(c->wait_max_ns, 30);
	ck_assert_uint_eq(c->nprocs, 2);
	/* Named by its init call (raw: no symbolizing in unit tests). */
	ck_assert_msg(strncmp(c->name, "mutexes made at ", 16) == 0, "%s", c->name);
	cprofile_free(&cp);
	logfile_free(f);
}
END_TEST

START_TEST(test_contention_shows_no_class_of_one_lock)
{
	struct logfile *f = read_log(HEADER(1) HLOCK(1, 1) CONT(1, 1, 7, 1, 10, 10, ""));
	struct cprofile cp;

	profile(f, &cp, CSORT_WAIT);
	ck_assert_uint_eq(cp.nlocks, 1);
	ck_assert_uint_eq(cp.nclasses, 0); /* it would be the lock's row again */
	cprofile_free(&cp);
	logfile_free(f);
}
END_TEST

START_TEST(test_contention_skips_what_it_does_not_know)
{
	/* A newer scope; a record of an undescribed lock keeps its own name. */
	struct logfile *f = read_log(
		HEADER(1) "{\"kind\":\"contention\",\"pid\":1,\"scope\":\"thread\",\"x\":1}\n"
			"{\"kind\":\"contention\",\"pid\":1,\"scope\":\"lock\",\"lock\":9,\"name\":"
			"\"mystery\",\"acquisitions\":1,\"contended\":0,\"wait_ns\":0,"
			"\"wait_max_ns\":0}\n");
	struct cprofile cp;

	profile(f, &cp, CSORT_WAIT);
	ck_assert_uint_eq(cp.nlocks, 1);
	ck_assert_str_eq(cp.locks[0].name, "mystery");
	cprofile_free(&cp);
	logfile_free(f);
}
END_TEST

static void
refused(const char *log, unsigned want_line, const char *want)
{
	struct logfile *f = read_log(log);
	struct cprofile cp;
	const char *file = NULL;
	unsigned line = 0;
	char why[200] = "";

	cprofile_init(&cp);
	ck_assert_msg(!cprofile_add_logs(&cp, &f, 1, &file, &line, why, sizeof(why)),
		      "accepted: %s", want);
	ck_assert_str_eq(file, "t.log");
	ck_assert_uint_eq(line, want_line);
	ck_assert_msg(strstr(why, want) != NULL, "said '%s', not '%s'", why, want);
	cprofile_free(&cp);
	logfile_free(f);
}

START_TEST(test_contention_refuses_malformed_records)
{
	refused(HEADER(1) "{\"kind\":\"contention\",\"pid\":1,\"lock\":1}\n", 2,
		"without \"scope\"");
	refused(HEADER(1) "{\"kind\":\"contention\",\"pid\":1,\"scope\":\"lock\",\"lock\":1}\n", 2,
		"without \"acquisitions\"");
	refused(HEADER(1) SLOCK(1, 1, "a")
			"{\"kind\":\"contention\",\"pid\":1,\"scope\":\"lock\",\"lock\":1,"
			"\"acquisitions\":-1,\"contended\":0,\"wait_ns\":0,\"wait_max_ns\":0}\n",
		3, "\"acquisitions\" is not a count");
	refused(HEADER(1) CONT(1, 1, 1, 0, 0, 0, ",\"wait_sites\":{}"), 2, "not an array");
	refused(HEADER(1) CONT(1, 1, 1, 0, 0, 0, ",\"wait_sites\":[{\"count\":1}]"), 2,
		"without \"frame\"");
	refused(HEADER(1) CONT(1, 1, 1, 0, 0, 0,
			       ",\"wait_sites\":[{\"frame\":[{\"pc\":1}],\"count\":1,"
			       "\"wait_ns\":1}]"),
		2, "pc");
	refused(HEADER(1) CONT(1, 1, 1, 0, 0, 0, ",\"holds\":1"), 2, "without \"hold_ns\"");
	refused(HEADER(1) "{\"kind\":\"contention\",\"pid\":1,\"scope\":\"class\","
			  "\"example_lock\":1,\"acquisitions\":1,\"contended\":0,\"wait_ns\":0,"
			  "\"wait_max_ns\":0}\n",
		2, "without \"locks\"");
	/* Two bad records of one lock: the first is refused, not replaced. */
	refused(HEADER(1) "{\"kind\":\"contention\",\"pid\":1,\"scope\":\"lock\",\"lock\":1}\n"
			  "{\"kind\":\"contention\",\"pid\":1,\"scope\":\"lock\",\"lock\":1}\n",
		3, "without \"acquisitions\"");
}
END_TEST

START_TEST(test_contention_formats_durations)
{
	char b[32];

	ck_assert_str_eq(cformat_ns(0, b, sizeof(b)), "0");
	ck_assert_str_eq(cformat_ns(850, b, sizeof(b)), "850 ns");
	ck_assert_str_eq(cformat_ns(12500, b, sizeof(b)), "12.5 us");
	ck_assert_str_eq(cformat_ns(330750817, b, sizeof(b)), "330.8 ms");
	ck_assert_str_eq(cformat_ns(2034000000ull, b, sizeof(b)), "2.03 s");
	ck_assert_str_eq(cformat_ns(125000000000ull, b, sizeof(b)), "125 s");
	ck_assert(csort_parse("acquisitions", &(enum csort){0}));
	ck_assert(!csort_parse("time", &(enum csort){0}));
}
END_TEST

/* Runs a printer into a string. */
static char *
printed(void (*fn)(FILE *, const struct cprofile *, enum csort, size_t), const struct cprofile *cp,
	size_t top)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	fn(out, cp, CSORT_WAIT, top);
	fclose(out);
	return buf;
}

static void
csv_printer(FILE *out, const struct cprofile *cp, enum csort sort, size_t top)
{
	(void)sort;
	cprofile_print_csv(out, cp, top);
}

START_TEST(test_contention_prints_text_json_and_csv)
{
	struct logfile *f = read_log(
		HEADER(1) SLOCK(1, 1, "hot") SLOCK(1, 2, "busy") HLOCK(1, 3) HLOCK(1, 4)
			CONT(1, 1, 400, 300, 9000000, 100000, SITES) CONT(1, 2, 200000, 0, 0, 0, "")
				CONT(1, 3, 5, 0, 0, 0, "") CONT(1, 4, 6, 0, 0, 0, "")
		"{\"kind\":\"lock\",\"pid\":1,\"id\":5,\"addr\":\"0x7\",\"type\":\"mutex\",\"name\":"
		"\"x\",\"annotation\":\"a,\\\"b\\\"\"}\n" CONT(1, 5, 1, 0, 0, 0, ""));
	struct cprofile cp;
	char *s, err[100];
	struct json_doc *d;
	const struct json_value *locks;

	profile(f, &cp, CSORT_WAIT);
	s = printed(cprofile_print_text, &cp, 0);
	ck_assert_msg(strstr(s, "Locks:\n") && strstr(s, "Classes ("), "%s", s);
	ck_assert_msg(strstr(s, "  hot\n") && strstr(s, "  busy\n"), "%s", s);
	ck_assert_msg(strstr(s, "9.0 ms"), "total wait in ms: %s", s);
	ck_assert_msg(strstr(s, "3 waits (300 ns) at "), "%s", s);
	ck_assert_msg(strstr(s, "2 waits (250 ns) ended by releases at "), "%s", s);
	ck_assert_msg(strstr(s, "5 locks, 1 class; no hold times"), "%s", s);
	free(s);
	s = printed(cprofile_print_text, &cp, 1);
	ck_assert_msg(strstr(s, "(4 more, not shown: --top 1)"), "%s", s);
	ck_assert_msg(!strstr(s, "  busy\n"), "%s", s);
	free(s);

	s = printed(cprofile_print_json, &cp, 0);
	d = json_parse(s, strlen(s), &json_default_limits, err, sizeof(err), NULL);
	ck_assert_msg(d != NULL, "%s: %s", err, s);
	locks = json_get_array(json_root(d), "locks");
	ck_assert_uint_eq(locks->n, 5);
	ck_assert_str_eq(json_get_str(&locks->items[0], "name"), "hot");
	ck_assert_uint_eq(json_get_array(json_root(d), "classes")->n, 1);
	ck_assert_uint_eq(json_get_array(&locks->items[0], "holder_sites")->n, 2);
	json_doc_free(d);
	free(s);
	s = printed(cprofile_print_json, &cp, 2);
	d = json_parse(s, strlen(s), &json_default_limits, err, sizeof(err), NULL);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(json_get_array(json_root(d), "locks")->n, 2);
	json_doc_free(d);
	free(s);

	s = printed(csv_printer, &cp, 0);
	ck_assert_msg(strncmp(s, "scope,rank,name,", 16) == 0, "%s", s);
	ck_assert_msg(strstr(s, "\r\nlock,1,hot,1,,400,300,9000000,30000,100000,,,,,"), "%s", s);
	/* RFC 4180: a field with a comma or a quote is quoted, quotes doubled */
	ck_assert_msg(strstr(s, ",\"a,\"\"b\"\"\","), "%s", s);
	ck_assert_msg(strstr(s, "\r\nclass,1,mutexes made at "), "%s", s);
	free(s);
	cprofile_free(&cp);
	logfile_free(f);
}
END_TEST

START_TEST(test_contention_of_an_empty_log)
{
	struct logfile *f = read_log(HEADER(1) SLOCK(1, 1, "a"));
	struct cprofile cp;
	char *s;

	profile(f, &cp, CSORT_WAIT);
	ck_assert_uint_eq(cp.nrecords, 0);
	s = printed(cprofile_print_text, &cp, 0);
	ck_assert_msg(strstr(s, "No contention records"), "%s", s);
	free(s);
	cprofile_free(&cp);
	logfile_free(f);
}
END_TEST

static Suite *
contention_suite(void)
{
	Suite *s = suite_create("contention");
	TCase *tc = tcase_create("core");
	TCase *io = tcase_create("input-output");

	finding_symbolize = false; /* the logs' modules do not exist */
	tcase_add_test(tc, test_contention_sorts_worst_first);
	tcase_add_test(tc, test_contention_keeps_the_last_record_of_a_lock);
	tcase_add_test(tc, test_contention_adds_up_processes_by_variable);
	tcase_add_test(tc, test_contention_rolls_heap_locks_up_by_class);
	tcase_add_test(tc, test_contention_shows_no_class_of_one_lock);
	tcase_add_test(io, test_contention_skips_what_it_does_not_know);
	tcase_add_test(io, test_contention_refuses_malformed_records);
	tcase_add_test(io, test_contention_formats_durations);
	tcase_add_test(io, test_contention_prints_text_json_and_csv);
	tcase_add_test(io, test_contention_of_an_empty_log);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, io);
	return s;
}

CHECK_MAIN(contention_suite)
