/* Unit tests for lib/symbols.c: naming code and data addresses in-process. */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include "check-main.h"
#include "lockhound-private.h"

static pthread_mutex_t accounts_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int id;
	pthread_mutex_t lock;
} account;

__attribute__((noinline)) static int
symbol_test_function(int x)
{
	return x * 3 + 1;
}

START_TEST(test_symbols_name_functions)
{
	const struct lh_module *m;
	const char *name;
	uintptr_t off;

	ck_assert(lh_symbolize((uintptr_t)symbol_test_function + 2, false, &name, &off, &m));
	ck_assert_str_eq(name, "symbol_test_function");
	ck_assert_uint_eq(off, 2);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(symbol_test_function(1), 4);
}
END_TEST

START_TEST(test_symbols_name_static_locks)
{
	const struct lh_module *m;
	const char *name;
	uintptr_t off;

	ck_assert(lh_symbolize((uintptr_t)&accounts_lock, true, &name, &off, &m));
	ck_assert_str_eq(name, "accounts_lock");
	ck_assert_uint_eq(off, 0);
	ck_assert(lh_symbolize((uintptr_t)&account.lock, true, &name, &off, &m));
	ck_assert_str_eq(name, "account");
	ck_assert_uint_eq(off, offsetof(__typeof__(account), lock));
}
END_TEST

START_TEST(test_symbols_name_library_functions)
{
	const struct lh_module *m;
	const char *name;
	uintptr_t off;

	/* libc is stripped: names come from its debug file or .dynsym. */
	ck_assert(lh_symbolize((uintptr_t)&pthread_create + 1, false, &name, &off, &m));
	ck_assert(strstr(name, "pthread_create") != NULL);
}
END_TEST

START_TEST(test_symbols_unknown_addresses)
{
	const struct lh_module *m;
	const char *name;
	uintptr_t off;
	int local;

	ck_assert(!lh_symbolize((uintptr_t)&local, true, &name, &off, &m));
	ck_assert_ptr_null(m);
	ck_assert(!lh_symbolize(8, false, &name, &off, &m));
}
END_TEST

static Suite *
symbols_suite(void)
{
	Suite *s = suite_create("symbols");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_symbols_name_functions);
	tcase_add_test(tc, test_symbols_name_static_locks);
	tcase_add_test(tc, test_symbols_name_library_functions);
	tcase_add_test(tc, test_symbols_unknown_addresses);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(symbols_suite)
