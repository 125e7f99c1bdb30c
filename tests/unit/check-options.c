/* Unit tests for lib/options.c: LOCKHOUND_OPTIONS parsing and validation. */
#include "config.h"

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

static Suite *
options_suite(void)
{
	Suite *s = suite_create("options");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_options_defaults);
	tcase_add_test(tc, test_options_parse_valid_pairs);
	tcase_add_test(tc, test_options_skip_empty_pairs);
	tcase_add_test(tc, test_options_warn_unknown_key_and_keep_going);
	tcase_add_test(tc, test_options_reject_bad_numbers);
	tcase_add_test(tc, test_options_reject_missing_value);
	tcase_add_test(tc, test_options_reject_overlong_values);
	tcase_add_test(tc, test_options_check_for_cli);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(options_suite)
