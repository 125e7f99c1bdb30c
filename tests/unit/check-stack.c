/* Unit tests for lib/stack.c: unwinding and the stack depot. */
#include "config.h"

#include <pthread.h>

#include "check-main.h"
#include "lockhound-private.h"

__attribute__((noinline)) static int
capture(struct lh_frame *f, int max)
{
	return lh_unwind(f, max, (uintptr_t)__builtin_dwarf_cfa());
}

__attribute__((noinline)) static int
outer(struct lh_frame *f, int max)
{
	int n = capture(f, max);

	__asm__ volatile("" ::: "memory"); /* no tail call */
	return n;
}

START_TEST(test_stack_unwind_starts_at_the_caller)
{
	struct lh_frame f[LH_STACK_MAX];
	int n;

	lh_stack_init();
	n = outer(f, LH_STACK_MAX);
	ck_assert_int_gt(n, 2);
	/* f[0] is in outer(), where it called capture(). */
	ck_assert_uint_eq(f[0].start, lh_function_start(f[0].pc));
	ck_assert_uint_eq(f[0].start, (uintptr_t)outer);
	ck_assert_uint_eq(lh_function_start(f[1].pc), f[1].start);
	for (int i = 1; i < n; i++)
		ck_assert_uint_ge(f[i].cfa, f[i - 1].cfa);
}
END_TEST

START_TEST(test_stack_unwind_respects_max)
{
	struct lh_frame f[2];

	ck_assert_int_eq(outer(f, 2), 2);
}
END_TEST

START_TEST(test_stack_intern_dedups)
{
	uintptr_t a[] = {1, 2, 3}, b[] = {1, 2, 4};
	lh_stack_id ia = lh_stack_intern(a, 3, 0);
	lh_stack_id ib = lh_stack_intern(b, 3, 0);
	lh_stack_id ic = lh_stack_intern(a, 3, LH_STACK_PARTIAL);
	const uintptr_t *p;
	unsigned flags;
	int n;

	ck_assert_uint_ne(ia, 0);
	ck_assert_uint_ne(ia, ib);
	ck_assert_uint_ne(ia, ic);
	ck_assert_uint_eq(lh_stack_intern(a, 3, 0), ia);
	ck_assert_uint_eq(lh_stack_intern(a, 2, 0) != ia, 1);
	p = lh_stack_get(ic, &n, &flags);
	ck_assert_int_eq(n, 3);
	ck_assert_uint_eq(p[2], 3);
	ck_assert_uint_eq(flags, LH_STACK_PARTIAL);
	ck_assert_ptr_null(lh_stack_get(0, &n, NULL));
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(lh_stack_intern(a, 0, 0), 0);
}
END_TEST

START_TEST(test_stack_depot_grows)
{
	for (uintptr_t i = 1; i <= 50000; i++) {
		uintptr_t pcs[2] = {i, i * 7};
		lh_stack_id id = lh_stack_intern(pcs, 2, 0);
		const uintptr_t *p;
		int n;

		ck_assert_uint_ne(id, 0);
		p = lh_stack_get(id, &n, NULL);
		ck_assert_uint_eq(p[1], i * 7);
	}
	for (uintptr_t i = 1; i <= 50000; i += 997) {
		uintptr_t pcs[2] = {i, i * 7};
		lh_stack_id id = lh_stack_intern(pcs, 2, 0);
		const uintptr_t *p;
		int n;

		p = lh_stack_get(id, &n, NULL);
		ck_assert_uint_eq(p[0], i);
	}
}
END_TEST

static void *
interner(void *arg)
{
	uintptr_t base = (uintptr_t)arg;

	for (uintptr_t i = 0; i < 5000; i++) {
		uintptr_t pcs[1] = {i % 100 + 1};
		lh_stack_id id = lh_stack_intern(pcs, 1, (unsigned)base);
		int n;

		if (lh_stack_get(id, &n, NULL)[0] != pcs[0])
			return (void *)1;
	}
	return NULL;
}

START_TEST(test_stack_intern_is_thread_safe)
{
	pthread_t t[4];
	void *r;

	for (long i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, interner, (void *)(i % 2));
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &r);
		ck_assert_ptr_null(r);
	}
}
END_TEST

static Suite *
stack_suite(void)
{
	Suite *s = suite_create("stack");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_stack_unwind_starts_at_the_caller);
	tcase_add_test(tc, test_stack_unwind_respects_max);
	tcase_add_test(tc, test_stack_intern_dedups);
	tcase_add_test(tc, test_stack_depot_grows);
	tcase_add_test(tc, test_stack_intern_is_thread_safe);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(stack_suite)
