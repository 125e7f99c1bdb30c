/* Unit tests for lib/sync.c: the runtime's futex mutex and clocks. */
#include "config.h"

#include <pthread.h>

#include "check-main.h"
#include "lockhound-private.h"

static lh_mutex_t mu = LH_MUTEX_INIT;
static long counter;

static void *
hammer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 200000; i++) {
		lh_mutex_lock(&mu);
		counter++;
		lh_mutex_unlock(&mu);
	}
	return NULL;
}

START_TEST(test_sync_mutex_excludes)
{
	pthread_t t[4];

	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, hammer, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(counter, 800000);
}
END_TEST

START_TEST(test_sync_trylock_and_reset)
{
	lh_mutex_t m = LH_MUTEX_INIT;

	ck_assert(lh_mutex_trylock(&m));
	ck_assert(!lh_mutex_trylock(&m));
	lh_mutex_reset(&m); /* as in a child after fork */
	ck_assert(lh_mutex_trylock(&m));
	lh_mutex_unlock(&m);
}
END_TEST

START_TEST(test_sync_clocks_move_forward)
{
	uint64_t a = lh_now_ns(), b = lh_now_ns();

	ck_assert_uint_ge(b, a);
	ck_assert_uint_gt(lh_realtime_us(), 1600000000ull * 1000000);
	ck_assert_int_gt(lh_gettid(), 0);
}
END_TEST

static Suite *
sync_suite(void)
{
	Suite *s = suite_create("sync");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_sync_mutex_excludes);
	tcase_add_test(tc, test_sync_trylock_and_reset);
	tcase_add_test(tc, test_sync_clocks_move_forward);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(sync_suite)
