/* Unit tests for lib/buf.c: number formatting and JSON strings. */
#include "config.h"

#include <string.h>

#include "check-main.h"
#include "lockhound-private.h"

static struct lh_buf b;

static void
setup(void)
{
	lh_buf_init(&b);
}

static void
teardown(void)
{
	lh_buf_release(&b);
}

START_TEST(test_buf_formats_numbers)
{
	lh_buf_put_u64(&b, 0);
	lh_buf_putc(&b, ' ');
	lh_buf_put_u64(&b, UINT64_MAX);
	lh_buf_putc(&b, ' ');
	lh_buf_put_i64(&b, INT64_MIN);
	lh_buf_putc(&b, ' ');
	lh_buf_put_hex(&b, 0);
	lh_buf_putc(&b, ' ');
	lh_buf_put_hex(&b, 0xdeadbeef12ull);
	ck_assert_str_eq(b.p, "0 18446744073709551615 -9223372036854775808 0x0 0xdeadbeef12");
}
END_TEST

START_TEST(test_buf_grows_without_limit)
{
	for (int i = 0; i < 100000; i++)
		lh_buf_puts(&b, "0123456789");
	ck_assert_uint_eq(b.len, 1000000);
	ck_assert(!b.oom);
	ck_assert_int_eq(b.p[b.len], '\0');
}
END_TEST

START_TEST(test_buf_escapes_json)
{
	lh_buf_put_json_str(&b, "a\"b\\c\nd\te\x01");
	ck_assert_str_eq(b.p, "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
}
END_TEST

START_TEST(test_buf_keeps_valid_utf8_and_escapes_invalid)
{
	lh_buf_put_json_str(&b, "caf\xc3\xa9 \xff \xe2\x82");
	ck_assert_str_eq(b.p, "\"caf\xc3\xa9 \\u00ff \\u00e2\\u0082\"");
}
END_TEST

START_TEST(test_buf_pads_columns)
{
	lh_buf_puts(&b, "ab");
	lh_buf_put_pad(&b, 5, 2);
	lh_buf_putc(&b, '|');
	ck_assert_str_eq(b.p, "ab   |");
}
END_TEST

static Suite *
buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_buf_formats_numbers);
	tcase_add_test(tc, test_buf_grows_without_limit);
	tcase_add_test(tc, test_buf_escapes_json);
	tcase_add_test(tc, test_buf_keeps_valid_utf8_and_escapes_invalid);
	tcase_add_test(tc, test_buf_pads_columns);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(buf_suite)
