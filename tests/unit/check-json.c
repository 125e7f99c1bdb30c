/* Unit tests for tools/json.c: the strict, bounded JSON parser. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "../../tools/json.h"
#include "check-main.h"

static struct json_doc *
parse(const char *s, char *err)
{
	return json_parse(s, strlen(s), NULL, err, 160, NULL);
}

static void
rejects(const char *s, const char *why)
{
	char err[160] = "";
	struct json_doc *d = parse(s, err);

	ck_assert_msg(d == NULL, "accepted: %s", s);
	ck_assert_msg(strstr(err, why) != NULL, "'%s': said '%s', not '%s'", s, err, why);
}

START_TEST(test_json_parses_values)
{
	char err[160];
	struct json_doc *d = parse(" {\"a\":[1,-2.5e3,true,false,null,\"x\\u00e9\\ud83d\\ude00\\n\"],"
				   "\"id\":18446744073709551615,\"pc\":\"0x7f00aB\",\"o\":{}} ",
				   err);
	const struct json_value *r, *a;
	uint64_t u;

	ck_assert_msg(d != NULL, "%s", err);
	r = json_root(d);
	ck_assert_int_eq(r->type, JSON_OBJECT);
	a = json_get_array(r, "a");
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->n, 6);
	ck_assert(json_as_u64(&a->items[0], &u) && u == 1);
	ck_assert(!json_as_u64(&a->items[1], &u));
	ck_assert(a->items[1].num.d == -2500.0);
	ck_assert_int_eq(a->items[2].type, JSON_TRUE);
	ck_assert_int_eq(a->items[4].type, JSON_NULL);
	ck_assert_str_eq(a->items[5].str, "x\xc3\xa9\xf0\x9f\x98\x80\n");
	ck_assert(json_get_u64(r, "id", &u) && u == UINT64_MAX);
	ck_assert(json_get_hex(r, "pc", &u) && u == 0x7f00ab);
	ck_assert_ptr_nonnull(json_get_object(r, "o"));
	ck_assert_ptr_null(json_get(r, "missing"));
	json_doc_free(d);
}
END_TEST

START_TEST(test_json_rejects_what_is_not_json)
{
	rejects("", "unexpected end");
	rejects("{\"a\":1,}", "expected a string");
	rejects("[1,]", "unexpected character");
	rejects("01", "trailing");
	rejects("NaN", "unexpected character");
	rejects("{'a':1}", "expected a string");
	rejects("\"a\tb\"", "control character");
	rejects("\"\xff\"", "invalid UTF-8");
	rejects("\"\xc0\xaf\"", "invalid UTF-8");
	rejects("\"\\ud800\"", "unpaired surrogate");
	rejects("\"\\u0000\"", "NUL");
	rejects("\"\\x\"", "invalid escape");
	rejects("{\"a\" 1}", "expected ':'");
	rejects("[1 2]", "expected ','");
	rejects("{} {}", "trailing");
	rejects("\"abc", "unterminated");
	rejects("tru", "invalid literal");
}
END_TEST

START_TEST(test_json_limits_bound_the_work)
{
	static const struct json_limits small = {4, 10, 8, 10};
	char err[160], *deep;
	size_t n = 100000;
	struct json_doc *d;

	rejects("1e400", "out of range");
	rejects("-1e999999999", "out of range");
	rejects("123456789012345678901234567890123456789012345678901234567890123456789", "longer");
	d = parse("123456789012345678901234567890", err);
	ck_assert_ptr_nonnull(d); /* a big number is a number, not a u64 */
	ck_assert(!json_root(d)->num.is_u64);
	json_doc_free(d);

	deep = malloc(2 * n + 1);
	memset(deep, '[', n);
	memset(deep + n, ']', n);
	deep[2 * n] = '\0';
	ck_assert_ptr_null(parse(deep, err));
	ck_assert_msg(strstr(err, "nested deeper than 64") != NULL, "%s", err);
	free(deep);

	ck_assert_ptr_null(json_parse("[[[[[1]]]]]", 11, &small, err, sizeof(err), NULL));
	ck_assert_ptr_null(json_parse("[1,2,3,4,5,6,7,8,9,10,11]", 25, &small, err, sizeof(err), NULL));
	ck_assert_msg(strstr(err, "more than 10 values") != NULL, "%s", err);
	ck_assert_ptr_null(json_parse("\"123456789\"", 11, &small, err, sizeof(err), NULL));
	ck_assert_ptr_null(json_parse("12345678901", 11, &small, err, sizeof(err), NULL));
	d = json_parse("[[[1]]]", 7, &small, err, sizeof(err), NULL);
	ck_assert_ptr_nonnull(d);
	json_doc_free(d);
}
END_TEST

START_TEST(test_json_never_reads_past_the_length)
{
	char err[160];
	/* The length stops before the closing brace: not a whole value. */
	const char *s = "{\"a\":1}";

	ck_assert_ptr_null(json_parse(s, 6, NULL, err, sizeof(err), NULL));
	{
		uint64_t v;

		ck_assert(!json_parse_hex("0x", &v));
		ck_assert(!json_parse_hex("0x12345678901234567", &v));
		ck_assert(json_parse_hex("0xffffffffffffffff", &v) && v == UINT64_MAX);
		ck_assert(!json_parse_hex("12", &v));
		ck_assert(!json_parse_hex("0x1g", &v));
	}
}
END_TEST

static Suite *
json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *core = tcase_create("core"), *limits = tcase_create("limits");

	tcase_add_test(core, test_json_parses_values);
	tcase_add_test(core, test_json_rejects_what_is_not_json);
	tcase_add_test(limits, test_json_limits_bound_the_work);
	tcase_add_test(limits, test_json_never_reads_past_the_length);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}

CHECK_MAIN(json_suite)
