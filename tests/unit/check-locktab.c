/* Unit tests for lib/locktab.c: the address -> lock node table. */
#include "config.h"

#include <pthread.h>

#include "check-main.h"
#include "lockhound-private.h"

static char objects[20000];

START_TEST(test_locktab_get_makes_then_finds)
{
	struct lh_lock *a = lh_locktab_get(&objects[0], LH_TYPE_MUTEX, 1, 0x1234, true);

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_eq(lh_locktab_find(&objects[0]), a);
	ck_assert_ptr_eq(lh_locktab_get(&objects[0], LH_TYPE_MUTEX, 0, 0, false), a);
	ck_assert_int_eq(a->kind, 1);
	ck_assert_uint_eq(a->init_pc, 0x1234);
	ck_assert(a->from_init);
	ck_assert_ptr_null(lh_locktab_find(&objects[1]));
}
END_TEST

START_TEST(test_locktab_reuse_gives_new_identity)
{
	struct lh_lock *a = lh_locktab_get(&objects[0], LH_TYPE_MUTEX, 0, 0, false);
	uint64_t id = a->id;
	struct lh_lock *b;

	lh_locktab_remove(a);
	ck_assert_ptr_null(lh_locktab_find(&objects[0]));
	b = lh_locktab_get(&objects[0], LH_TYPE_MUTEX, 0, 0, false);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_ne(b->id, id);
}
END_TEST

START_TEST(test_locktab_holds_many_locks)
{
	size_t before = lh_locktab_count();

	for (int i = 0; i < 20000; i++)
		ck_assert_ptr_nonnull(lh_locktab_get(&objects[i], LH_TYPE_MUTEX, 0, 0, false));
	ck_assert_uint_eq(lh_locktab_count(), before + 20000);
	for (int i = 0; i < 20000; i++)
		ck_assert_uint_eq(atomic_load(&lh_locktab_find(&objects[i])->addr),
				 (uintptr_t)&objects[i]);
	for (int i = 0; i < 20000; i += 2)
		lh_locktab_remove(lh_locktab_find(&objects[i]));
	for (int i = 0; i < 20000; i++)
		ck_assert((lh_locktab_find(&objects[i]) != NULL) == (i % 2 == 1));
}
END_TEST

static _Atomic int stop;

static void *
churn(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		for (int i = 100; i < 200; i++)
			lh_locktab_get(&objects[i], LH_TYPE_MUTEX, 0, 0, false);
		for (int i = 100; i < 200; i++)
			lh_locktab_remove(lh_locktab_find(&objects[i]));
	}
	return NULL;
}

START_TEST(test_locktab_readers_survive_concurrent_churn)
{
	pthread_t t;

	for (int i = 0; i < 100; i++)
		lh_locktab_get(&objects[i], LH_TYPE_MUTEX, 0, 0, false);
	pthread_create(&t, NULL, churn, NULL);
	for (int n = 0; n < 200000; n++) {
		struct lh_lock *lk = lh_locktab_find(&objects[n % 100]);

		/* A stable lock may be missed under churn, never misidentified. */
		if (lk)
			ck_assert_uint_eq(atomic_load(&lk->addr), (uintptr_t)&objects[n % 100]);
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	for (int i = 0; i < 100; i++)
		ck_assert_ptr_nonnull(lh_locktab_find(&objects[i]));
}
END_TEST

START_TEST(test_locktab_grows_with_its_locks)
{
	const struct lh_locktab *t;

	/* 20,000 locks: the bucket array doubles from its first 1024 buckets
	 * to more buckets than locks, and every lock is still found. */
	ck_assert_ptr_nonnull(lh_locktab_get(&objects[0], LH_TYPE_MUTEX, 0, 0, false));
	ck_assert_uint_eq(atomic_load(&lh_locktab_cur)->bits, 10);
	for (int i = 0; i < 20000; i++)
		ck_assert_ptr_nonnull(lh_locktab_get(&objects[i], LH_TYPE_MUTEX, 0, 0, false));
	t = atomic_load(&lh_locktab_cur);
	ck_assert_uint_eq(t->bits, 15); /* 32,768 >= 20,000 > 16,384 */
	ck_assert_ptr_nonnull(t->older);
	ck_assert_uint_eq(t->older->bits, 14);
	for (int i = 0; i < 20000; i++)
		ck_assert_uint_eq(atomic_load(&lh_locktab_find(&objects[i])->addr),
				 (uintptr_t)&objects[i]);
}
END_TEST

static _Atomic int grown;

/* Makes 19,900 locks, which grows the array five times. */
static void *
grow(void *arg)
{
	(void)arg;
	for (int i = 100; i < 20000; i++)
		lh_locktab_get(&objects[i], LH_TYPE_MUTEX, 0, 0, false);
	atomic_store(&grown, 1);
	return NULL;
}

START_TEST(test_locktab_readers_survive_growth)
{
	pthread_t t;
	long n = 0;

	/* Readers in an array being replaced walk its chains intact: a live
	 * lock can be missed only by a reader that two growths overtook. */
	for (int i = 0; i < 100; i++)
		lh_locktab_get(&objects[i], LH_TYPE_MUTEX, 0, 0, false);
	pthread_create(&t, NULL, grow, NULL);
	while (!atomic_load(&grown) || n < 100000) {
		unsigned before = atomic_load(&lh_locktab_cur)->bits;
		struct lh_lock *lk = lh_locktab_find(&objects[n % 100]);

		if (!lk)
			ck_assert_uint_ge(atomic_load(&lh_locktab_cur)->bits, before + 2);
		else
			ck_assert_uint_eq(atomic_load(&lk->addr), (uintptr_t)&objects[n % 100]);
		n++;
	}
	pthread_join(t, NULL);
	ck_assert_uint_ge(atomic_load(&lh_locktab_cur)->bits, 15);
}
END_TEST

static Suite *
locktab_suite(void)
{
	Suite *s = suite_create("locktab");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_locktab_get_makes_then_finds);
	tcase_add_test(tc, test_locktab_reuse_gives_new_identity);
	tcase_add_test(tc, test_locktab_holds_many_locks);
	tcase_add_test(tc, test_locktab_readers_survive_concurrent_churn);
	tcase_add_test(tc, test_locktab_grows_with_its_locks);
	tcase_add_test(tc, test_locktab_readers_survive_growth);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(locktab_suite)
