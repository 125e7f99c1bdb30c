/* Unit tests for lib/options.c: LOCKHOUND_OPTIONS parsing and validation. */
#include "config.h"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "check-main.h"
#include "lockhound-private.h"

static char warned[8][64];
static int nwarned;

static void
warn(const char *key, const char *why, void *arg)
{
	(void)why;
	(void)arg;
	if (nwarned < 8)
		strncpy(warned[nwarned], key, sizeof(warned[0]) - 1);
	nwarned++;
}

static struct lh_options o;

static void
setup(void)
{
	lh_options_defaults(&o);
	memset(warned, 0, sizeof(warned));
	nwarned = 0;
}

START_TEST(test_options_defaults)
{
	ck_assert_str_eq(o.log_path, "");
	ck_assert_int_eq(o.exitcode, -1);
	ck_assert_int_eq(o.inline_locks, 1);
	ck_assert_int_eq(o.dump_interrupt, 1);
}
END_TEST

/* The switches: 0 or 1, anything else warned about by name and left. */
START_TEST(test_options_switches_are_0_or_1)
{
	static const struct {
		const char *key;
		size_t off;
	} sw[] = {
		{"inline_locks", offsetof(struct lh_options, inline_locks)},
		{"dump_interrupt", offsetof(struct lh_options, dump_interrupt)},
	};

	for (size_t i = 0; i < sizeof(sw) / sizeof(sw[0]); i++) {
		char opts[96];
		const int *v = (const int *)(const void *)((const char *)&o + sw[i].off);

		setup();
		snprintf(opts, sizeof(opts), "%s=0", sw[i].key);
		ck_assert_int_eq(lh_options_parse(&o, opts, warn, NULL), 0);
		ck_assert_int_eq(*v, 0);
		snprintf(opts, sizeof(opts), "%s=2:%s=yes", sw[i].key, sw[i].key);
		ck_assert_int_eq(lh_options_parse(&o, opts, warn, NULL), 2);
		ck_assert_str_eq(warned[0], sw[i].key);
		ck_assert_int_eq(*v, 0);
	}
}
END_TEST

START_TEST(test_options_parse_valid_pairs)
{
	ck_assert_int_eq(lh_options_parse(&o, "log_path=/tmp/x.%p:exitcode=3", warn, NULL), 0);
	ck_assert_str_eq(o.log_path, "/tmp/x.%p");
	ck_assert_int_eq(o.exitcode, 3);
}
END_TEST

START_TEST(test_options_skip_empty_pairs)
{
	ck_assert_int_eq(lh_options_parse(&o, "::exitcode=0::", warn, NULL), 0);
	ck_assert_int_eq(o.exitcode, 0);
}
END_TEST

START_TEST(test_options_warn_unknown_key_and_keep_going)
{
	ck_assert_int_eq(lh_options_parse(&o, "nosuch=1:exitcode=5", warn, NULL), 1);
	ck_assert_str_eq(warned[0], "nosuch");
	ck_assert_int_eq(o.exitcode, 5);
}
END_TEST

START_TEST(test_options_reject_bad_numbers)
{
	ck_assert_int_eq(lh_options_parse(&o, "exitcode=abc:exitcode=256:exitcode=-1:"
					      "exitcode=:exitcode=99999999999999999999",
					  warn, NULL),
			 5);
	ck_assert_int_eq(o.exitcode, -1);
	for (int i = 0; i < 5; i++)
		ck_assert_str_eq(warned[i], "exitcode");
}
END_TEST

START_TEST(test_options_reject_missing_value)
{
	ck_assert_int_eq(lh_options_parse(&o, "log_path", warn, NULL), 1);
	ck_assert_int_eq(lh_options_parse(&o, "log_path=", warn, NULL), 1);
	ck_assert_str_eq(o.log_path, "");
}
END_TEST

START_TEST(test_options_reject_overlong_values)
{
	char big[LH_PATH_MAX + 64] = "log_path=";

	memset(big + 9, 'x', LH_PATH_MAX + 10);
	big[LH_PATH_MAX + 19] = '\0';
	ck_assert_int_eq(lh_options_parse(&o, big, warn, NULL), 1);
	ck_assert_str_eq(o.log_path, "");
	memset(big, 'k', 200);
	big[200] = '\0';
	ck_assert_int_eq(lh_options_parse(&o, big, warn, NULL), 1);
	ck_assert_uint_lt(strlen(warned[1]), 64);
}
END_TEST

START_TEST(test_options_check_for_cli)
{
	const char *why = NULL;

	ck_assert(lh_option_known("exitcode"));
	ck_assert(!lh_option_known("exit"));
	ck_assert_int_eq(lh_option_check("exitcode", "7", &why), 0);
	ck_assert_int_lt(lh_option_check("exitcode", "x", &why), 0);
	ck_assert_str_eq(why, "not a number");
	ck_assert_int_lt(lh_option_check("bogus", "1", &why), 0);
	ck_assert_str_eq(why, "unknown option");
}
END_TEST

START_TEST(test_options_dump_signal_by_name_or_number)
{
	const char *why = NULL;
	char name[32];

	ck_assert_int_eq(o.dump_signal, SIGUSR1);
	ck_assert_int_eq(lh_options_parse(&o, "dump_signal=SIGUSR2", warn, NULL), 0);
	ck_assert_int_eq(o.dump_signal, SIGUSR2);
	ck_assert_int_eq(lh_options_parse(&o, "dump_signal=0", warn, NULL), 0);
	ck_assert_int_eq(o.dump_signal, 0);
	ck_assert_int_eq(lh_signal_parse("USR1", &why), SIGUSR1);
	ck_assert_int_eq(lh_signal_parse("10", &why), SIGUSR1);
	ck_assert_int_eq(lh_signal_parse("SIGQUIT", &why), SIGQUIT);
	ck_assert_int_eq(lh_signal_parse("SIGRTMIN", &why), SIGRTMIN);
	ck_assert_int_eq(lh_signal_parse("SIGRTMIN+3", &why), SIGRTMIN + 3);
	ck_assert_int_eq(lh_signal_parse("RTMAX-5", &why), SIGRTMAX - 5);
	ck_assert_str_eq(lh_signal_name(SIGUSR2, name, sizeof(name)), "SIGUSR2");
	ck_assert_str_eq(lh_signal_name(SIGRTMIN + 3, name, sizeof(name)), "SIGRTMIN+3");
}
END_TEST

START_TEST(test_options_dump_signal_refuses_what_cannot_dump)
{
	static const char *const bad[] = {
		"SIGKILL",    "9",	   "SIGSTOP", "SIGSEGV", "SIGBUS", "SIGABRT",
		"33",	      "SIGRTMAX-2", "62",	 "65",	    "SIGRTMIN-1", "SIGRTMIN+",
		"USR3",	      "",	   "1x",	 "-1",
	};
	const char *why;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		ck_assert_msg(lh_signal_parse(bad[i], &why) < 0, "%s accepted", bad[i]);
		ck_assert_ptr_nonnull(why);
	}
	ck_assert_int_eq(lh_options_parse(&o, "dump_signal=SIGKILL", warn, NULL), 1);
	ck_assert_str_eq(warned[0], "dump_signal");
	ck_assert_int_eq(o.dump_signal, SIGUSR1);
	ck_assert_int_lt(lh_option_check("dump_signal", "SIGSEGV", &why), 0);
	ck_assert_int_eq(lh_option_check("dump_signal", "SIGUSR2", &why), 0);
}
END_TEST

static Suite *
options_suite(void)
{
	Suite *s = suite_create("options");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_options_defaults);
	tcase_add_test(tc, test_options_switches_are_0_or_1);
	tcase_add_test(tc, test_options_parse_valid_pairs);
	tcase_add_test(tc, test_options_skip_empty_pairs);
	tcase_add_test(tc, test_options_warn_unknown_key_and_keep_going);
	tcase_add_test(tc, test_options_reject_bad_numbers);
	tcase_add_test(tc, test_options_reject_missing_value);
	tcase_add_test(tc, test_options_reject_overlong_values);
	tcase_add_test(tc, test_options_check_for_cli);
	tcase_add_test(tc, test_options_dump_signal_by_name_or_number);
	tcase_add_test(tc, test_options_dump_signal_refuses_what_cannot_dump);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(options_suite)
