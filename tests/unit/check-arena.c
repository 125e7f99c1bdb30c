/* Unit tests for lib/arena.c: the runtime's allocator. */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include "check-main.h"
#include "lockhound-private.h"

START_TEST(test_arena_returns_zeroed_memory)
{
	for (size_t size = 1; size < 100000; size = size * 3 + 1) {
		unsigned char *p = lh_alloc(size);

		ck_assert_ptr_nonnull(p);
		for (size_t i = 0; i < size; i++)
			ck_assert_uint_eq(p[i], 0);
		memset(p, 0xab, size);
		lh_free(p, size);
	}
	/* Freed memory comes back zeroed too. */
	for (size_t size = 1; size < 100000; size = size * 3 + 1) {
		unsigned char *p = lh_alloc(size);

		for (size_t i = 0; i < size; i++)
			ck_assert_uint_eq(p[i], 0);
		lh_free(p, size);
	}
}
END_TEST

START_TEST(test_arena_reuses_freed_blocks)
{
	void *a = lh_alloc(100);
	void *b;

	lh_free(a, 100);
	b = lh_alloc(120); /* same size class */
	ck_assert_ptr_eq(a, b);
	lh_free(b, 120);
}
END_TEST

START_TEST(test_arena_realloc_keeps_content)
{
	char *p = lh_alloc(10);

	memcpy(p, "lockhound", 10);
	p = lh_realloc(p, 10, 100000);
	ck_assert_str_eq(p, "lockhound");
	ck_assert_uint_eq((unsigned char)p[99999], 0);
	lh_free(p, 100000);
	ck_assert_str_eq(lh_strdup("x"), "x");
}
END_TEST

static void *
worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20000; i++) {
		size_t size = (size_t)(i % 500) + 1;
		unsigned char *p = lh_alloc(size);

		if (!p || p[size - 1] != 0)
			return (void *)1;
		memset(p, 0x5a, size);
		lh_free(p, size);
	}
	return NULL;
}

START_TEST(test_arena_is_thread_safe)
{
	pthread_t t[4];
	void *r;

	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &r);
		ck_assert_ptr_null(r);
	}
	ck_assert_uint_gt(lh_arena_mapped(), 0);
}
END_TEST

static Suite *
arena_suite(void)
{
	Suite *s = suite_create("arena");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_arena_returns_zeroed_memory);
	tcase_add_test(tc, test_arena_reuses_freed_blocks);
	tcase_add_test(tc, test_arena_realloc_keeps_content);
	tcase_add_test(tc, test_arena_is_thread_safe);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(arena_suite)
