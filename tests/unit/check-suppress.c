/* Unit tests for lib/suppress.c: the suppression rules of runtime and CLI. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check-main.h"
#include "lockhound-private.h"

START_TEST(test_suppress_globs)
{
	ck_assert(lh_supp_glob("accounts_lock", "accounts_lock"));
	ck_assert(!lh_supp_glob("accounts_lock", "accounts_lock2"));
	ck_assert(lh_supp_glob("take_*", "take_b_then_a"));
	ck_assert(lh_supp_glob("*_then_?", "take_b_then_a"));
	ck_assert(lh_supp_glob("*", ""));
	ck_assert(!lh_supp_glob("?", ""));
	ck_assert(lh_supp_glob("*/vendor/*.c", "/src/vendor/x/y.c"));
	ck_assert(lh_supp_glob("a\\*b", "a*b"));
	ck_assert(!lh_supp_glob("a\\*b", "axb"));
	ck_assert(lh_supp_glob("mutex?0x*", "mutex 0x5610"));
	/* Backtracking stays linear-ish: this must finish at once. */
	ck_assert(!lh_supp_glob("*a*a*a*a*a*a*a*a*a*a*b",
				"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}
END_TEST

struct names {
	const char *locks[4], *funcs[4];
};

static bool
any(void *arg, int type, const char *pattern)
{
	const struct names *n = arg;
	const char *const *v = type == LH_SUPP_LOCK ? n->locks : type == LH_SUPP_FUNCTION ? n->funcs
											     : NULL;

	for (int i = 0; v && i < 4 && v[i]; i++)
		if (lh_supp_glob(pattern, v[i]))
			return true;
	return false;
}

START_TEST(test_suppress_rules_need_every_condition)
{
	struct lh_suppressions s = {0};
	const char *text = "# comment\n\n"
			   "kind:lock-order-inversion lock:lock_a lock:lock_b   # trailing\n"
			   "  function:legacy_*\n"
			   "file:*.c\n";
	char err[160];
	unsigned line;
	struct names ab = {{"lock_a", "lock_b"}, {"main"}};
	struct names ac = {{"lock_a", "lock_c"}, {"main"}};
	struct names legacy = {{"x"}, {"main", "legacy_io"}};

	ck_assert_int_eq(lh_supp_parse(&s, text, strlen(text), err, sizeof(err), &line), 0);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_uint_eq(s.rules[0].line, 3);
	ck_assert_int_eq(s.rules[0].n, 3);
	ck_assert_ptr_nonnull(lh_supp_match(&s, "lock-order-inversion", any, &ab));
	ck_assert_ptr_null(lh_supp_match(&s, "misuse", any, &ab));
	ck_assert_ptr_null(lh_supp_match(&s, "lock-order-inversion", any, &ac));
	ck_assert_uint_eq(lh_supp_match(&s, "misuse", any, &legacy)->line, 4);
	lh_supp_free(&s);
	ck_assert_uint_eq(s.n, 0);
}
END_TEST

START_TEST(test_suppress_says_what_is_wrong)
{
	struct lh_suppressions s = {0};
	char err[160];
	unsigned line;

	ck_assert_int_lt(lh_supp_parse(&s, "lock:a\nfrobnicate:x\n", 20, err, sizeof(err), &line), 0);
	ck_assert_uint_eq(line, 2);
	ck_assert_ptr_nonnull(strstr(err, "unknown condition type"));
	lh_supp_free(&s);
	ck_assert_int_lt(lh_supp_parse(&s, "lock:", 5, err, sizeof(err), &line), 0);
	ck_assert_ptr_nonnull(strstr(err, "empty pattern"));
	lh_supp_free(&s);
	ck_assert_int_lt(lh_supp_parse(&s, "justaword", 9, err, sizeof(err), &line), 0);
	lh_supp_free(&s);
	ck_assert_int_lt(lh_supp_parse(&s, "lock:a\0b", 8, err, sizeof(err), &line), 0);
	ck_assert_ptr_nonnull(strstr(err, "NUL"));
	lh_supp_free(&s);
	ck_assert_int_lt(lh_supp_load(&s, "/nonexistent/rules", err, sizeof(err), &line), 0);
	ck_assert_str_eq(err, "No such file or directory");
	lh_supp_free(&s);
}
END_TEST

START_TEST(test_suppress_loads_the_runtime_option)
{
	char path[] = "/tmp/check-suppress.XXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "lock:accounts_lock\n", 19), 19);
	close(fd);
	lh_suppress_init(path);
	ck_assert_uint_eq(lh_supp.n, 1);
	lh_suppress_init(NULL);
	ck_assert_uint_eq(lh_supp.n, 0);
	unlink(path);
	/* A file that cannot be read hides nothing (and warns). */
	lh_suppress_init("/nonexistent/rules");
	ck_assert_uint_eq(lh_supp.n, 0);
	ck_assert(lh_option_known("suppressions"));
}
END_TEST

static Suite *
suppress_suite(void)
{
	Suite *s = suite_create("suppress");
	TCase *core = tcase_create("core");

	tcase_add_test(core, test_suppress_globs);
	tcase_add_test(core, test_suppress_rules_need_every_condition);
	tcase_add_test(core, test_suppress_says_what_is_wrong);
	tcase_add_test(core, test_suppress_loads_the_runtime_option);
	suite_add_tcase(s, core);
	return s;
}

CHECK_MAIN(suppress_suite)
