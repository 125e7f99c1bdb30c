/*
 * Unit tests for lib/misuse.c: reading glibc's lock state, and which
 * re-entries are counted, refused or reported.
 */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "acquire.h"
#include "check-main.h"

static struct lh_thread *t;

static void
setup(void)
{
	ck_assert(lh_ready());
	t = lh_enter();
	ck_assert_ptr_nonnull(t);
}

static void
teardown(void)
{
	lh_leave(t);
}

START_TEST(test_misuse_reads_mutex_state)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

	ck_assert_int_eq(lh_lock_state(&m, LH_TYPE_MUTEX), 0);
	pthread_mutex_lock(&m);
	ck_assert_int_eq(lh_lock_state(&m, LH_TYPE_MUTEX), 1);
	ck_assert_int_eq(lh_lock_owner(&m, LH_TYPE_MUTEX), lh_gettid());
	pthread_mutex_unlock(&m);
	ck_assert_int_eq(lh_lock_owner(&m, LH_TYPE_MUTEX), 0);
}
END_TEST

START_TEST(test_misuse_reads_rwlock_state)
{
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;

	ck_assert_int_eq(lh_lock_state(&rw, LH_TYPE_RWLOCK), 0);
	pthread_rwlock_rdlock(&rw);
	ck_assert_int_eq(lh_lock_state(&rw, LH_TYPE_RWLOCK), 1);
	ck_assert_int_eq(lh_lock_owner(&rw, LH_TYPE_RWLOCK), 0); /* readers: unknown */
	pthread_rwlock_unlock(&rw);
	pthread_rwlock_wrlock(&rw);
	ck_assert_int_eq(lh_lock_owner(&rw, LH_TYPE_RWLOCK), lh_gettid());
	pthread_rwlock_unlock(&rw);
	ck_assert_int_eq(lh_lock_state(&rw, LH_TYPE_RWLOCK), 0); /* write phase bit stays */
	ck_assert_int_eq(lh_lock_state(&rw, LH_TYPE_SPIN), -1);
}
END_TEST

static int
hold(volatile void *vaddr, enum lh_lock_type type, enum lh_mode mode)
{
	void *addr = (void *)vaddr;
	int slot = lh_before_lock(t, addr, type, mode, LH_BLOCKING, 0, 0);

	lh_after_lock(t, slot, addr);
	return slot;
}

START_TEST(test_misuse_reentry_decisions)
{
	pthread_mutexattr_t attr;
	pthread_mutex_t rec, ec;
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&rec, &attr);
	lh_on_init(&rec, LH_TYPE_MUTEX, lh_lock_kind_of(&rec, LH_TYPE_MUTEX), 0);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&ec, &attr);
	lh_on_init(&ec, LH_TYPE_MUTEX, lh_lock_kind_of(&ec, LH_TYPE_MUTEX), 0);

	ck_assert_int_eq(hold(&rec, LH_TYPE_MUTEX, LH_MODE_WRITE), 0);
	ck_assert_int_eq(hold(&rec, LH_TYPE_MUTEX, LH_MODE_WRITE), 0); /* counted */
	ck_assert_int_eq(hold(&ec, LH_TYPE_MUTEX, LH_MODE_WRITE), 1);
	ck_assert_int_eq(hold(&ec, LH_TYPE_MUTEX, LH_MODE_WRITE), LH_SLOT_FAILS);
	ck_assert_int_eq(hold(&rw, LH_TYPE_RWLOCK, LH_MODE_READ), 2);
	ck_assert_int_eq(hold(&rw, LH_TYPE_RWLOCK, LH_MODE_READ), 2); /* reader-preferring */
	ck_assert_uint_eq(t->nheld, 3);
	ck_assert_uint_eq(t->held[0].count, 2);
	ck_assert_uint_eq(t->held[2].count, 2);
	ck_assert_uint_eq(lh_report_findings(), 0);
}
END_TEST

START_TEST(test_misuse_relock_is_reported_and_hangs)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	uint64_t before = lh_report_findings();
	int devnull = open("/dev/null", 1);

	dup2(devnull, 2);
	ck_assert_int_eq(hold(&m, LH_TYPE_MUTEX, LH_MODE_WRITE), 0);
	ck_assert_int_eq(hold(&m, LH_TYPE_MUTEX, LH_MODE_WRITE), LH_SLOT_HANGS);
	ck_assert_uint_eq(lh_report_findings(), before + 1);
}
END_TEST

static void
abort_setup(void)
{
	setup();
	lh_opt.on_deadlock = LH_ON_DEADLOCK_ABORT;
}

START_TEST(test_misuse_relock_aborts_with_on_deadlock_abort)
{
	pthread_spinlock_t s;
	int devnull = open("/dev/null", 1);

	dup2(devnull, 2);
	pthread_spin_init(&s, 0);
	hold(&s, LH_TYPE_SPIN, LH_MODE_WRITE);
	hold(&s, LH_TYPE_SPIN, LH_MODE_WRITE); /* reported, then abort() */
}
END_TEST

static Suite *
misuse_suite(void)
{
	Suite *s = suite_create("misuse");
	TCase *tc = tcase_create("core");
	TCase *dies = tcase_create("abort");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_misuse_reads_mutex_state);
	tcase_add_test(tc, test_misuse_reads_rwlock_state);
	tcase_add_test(tc, test_misuse_reentry_decisions);
	tcase_add_test(tc, test_misuse_relock_is_reported_and_hangs);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(dies, abort_setup, teardown);
	tcase_add_test_raise_signal(dies, test_misuse_relock_aborts_with_on_deadlock_abort,
				    SIGABRT);
	suite_add_tcase(s, dies);
	return s;
}

CHECK_MAIN(misuse_suite)
