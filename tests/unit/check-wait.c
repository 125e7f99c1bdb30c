/* Unit tests for lib/wait.c: a thread's record of what it is blocked on. */
#include "config.h"

#include <pthread.h>

#include "acquire.h"
#include "check-main.h"

START_TEST(test_wait_records_and_clears)
{
	struct lh_thread *t = lh_enter();
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER, c;
	uint64_t before = lh_now_ns();

	ck_assert_uint_eq(atomic_load(&t->wait_addr), 0);
	lh_wait_begin(t, LH_WAIT_LOCK, &m, LH_TYPE_MUTEX, LH_MODE_WRITE, NULL, 0x1234, 0);
	ck_assert_uint_eq(atomic_load(&t->wait_addr), (uintptr_t)&m);
	ck_assert_int_eq(atomic_load(&t->wait_kind), LH_WAIT_LOCK);
	ck_assert_uint_eq(t->wait_pc, 0x1234);
	ck_assert_uint_ge(t->wait_since_ns, before);
	lh_wait_end(t);
	ck_assert_uint_eq(atomic_load(&t->wait_addr), 0);
	ck_assert_int_eq(atomic_load(&t->wait_kind), LH_WAIT_NONE);
	lh_wait_begin(t, LH_WAIT_COND, &c, LH_TYPE_MUTEX, LH_MODE_WRITE, &m, 0, 0);
	ck_assert_uint_eq(t->wait_mutex, (uintptr_t)&m);
	lh_wait_end(t);
	lh_leave(t);
}
END_TEST

static struct lh_thread *waiter;
static _Atomic int release;

static void *
blocked(void *arg)
{
	struct lh_thread *t = lh_enter();

	(void)arg;
	lh_leave(t);
	lh_wait_begin(t, LH_WAIT_SEM, &release, LH_TYPE_COUNT, LH_MODE_WRITE, NULL, 0, 0);
	atomic_store(&waiter, t);
	while (!atomic_load(&release))
		;
	lh_wait_end(t);
	return NULL;
}

START_TEST(test_wait_is_visible_to_other_threads)
{
	pthread_t th;

	pthread_create(&th, NULL, blocked, NULL);
	while (!atomic_load(&waiter))
		;
	ck_assert_uint_eq(atomic_load(&waiter->wait_addr), (uintptr_t)&release);
	ck_assert_int_eq(atomic_load(&waiter->wait_kind), LH_WAIT_SEM);
	atomic_store(&release, 1);
	pthread_join(th, NULL);
}
END_TEST

static Suite *
wait_suite(void)
{
	Suite *s = suite_create("wait");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_wait_records_and_clears);
	tcase_add_test(tc, test_wait_is_visible_to_other_threads);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(wait_suite)
