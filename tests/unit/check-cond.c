/*
 * Unit tests for lib/cond.c: the mutex leaves the held stack for a condition
 * wait and comes back after it; a second mutex is misuse.
 */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "acquire.h"
#include "check-main.h"

static struct lh_thread *t;
static pthread_mutex_t m1 = PTHREAD_MUTEX_INITIALIZER, m2 = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void
setup(void)
{
	int slot;

	ck_assert(lh_ready());
	t = lh_enter();
	slot = lh_before_lock(t, &m1, LH_TYPE_MUTEX, LH_MODE_WRITE, LH_BLOCKING, 0, 0);
	lh_after_lock(t, slot, &m1);
}

START_TEST(test_cond_wait_releases_and_retakes)
{
	struct lh_cond_wait w = {.cond = &cv, .mutex = &m1, .mutex_type = LH_TYPE_MUTEX};

	lh_cond_enter(t, &w);
	ck_assert(w.tracked);
	ck_assert_uint_eq(t->nheld, 0);
	ck_assert_int_eq(atomic_load(&t->wait_kind), LH_WAIT_COND);
	ck_assert_uint_eq(t->wait_mutex, (uintptr_t)&m1);
	lh_cond_exit(&w, true);
	ck_assert_uint_eq(t->nheld, 1);
	ck_assert_uint_eq(t->held[0].addr, (uintptr_t)&m1);
	ck_assert_int_eq(atomic_load(&t->wait_kind), LH_WAIT_NONE);
}
END_TEST

START_TEST(test_cond_failed_wait_does_not_retake)
{
	struct lh_cond_wait w = {.cond = &cv, .mutex = &m1, .mutex_type = LH_TYPE_MUTEX};

	lh_cond_enter(t, &w);
	lh_cond_exit(&w, false);
	ck_assert_uint_eq(t->nheld, 0);
}
END_TEST

START_TEST(test_cond_two_mutexes_at_once_is_misuse)
{
	struct lh_cond_wait a = {.cond = &cv, .mutex = &m1, .mutex_type = LH_TYPE_MUTEX};
	struct lh_cond_wait b = {.cond = &cv, .mutex = &m2, .mutex_type = LH_TYPE_MUTEX};
	uint64_t before = lh_report_findings();
	int devnull = open("/dev/null", 1);

	dup2(devnull, 2);
	lh_cond_enter(t, &a);
	lh_cond_enter(t, &b); /* as if a second thread waited meanwhile */
	ck_assert_uint_eq(lh_report_findings(), before + 1);
	lh_cond_exit(&b, false);
	lh_cond_exit(&a, false);
	/* All waiters gone: another mutex is fine now. */
	lh_cond_enter(t, &b);
	lh_cond_exit(&b, false);
	ck_assert_uint_eq(lh_report_findings(), before + 1);
}
END_TEST

static Suite *
cond_suite(void)
{
	Suite *s = suite_create("cond");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_cond_wait_releases_and_retakes);
	tcase_add_test(tc, test_cond_failed_wait_does_not_retake);
	tcase_add_test(tc, test_cond_two_mutexes_at_once_is_misuse);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(cond_suite)
