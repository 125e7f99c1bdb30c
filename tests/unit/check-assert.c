/*
 * Unit tests for lib/assert.c: lh_assert_held() and its reader/writer
 * variants, through lockhound.h as a program uses them. Locks on the held
 * stack are driven through acquire.h; real locks taken here (unit tests do
 * not interpose) exercise the fallback on glibc's own records.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check-log.h"
#include "check-main.h"
#include "acquire.h"
#include "lockhound.h"

static char logpath[64], errpath[64];
static int saved_stderr = -1;

static int
reports(void)
{
	return check_count(check_slurp(logpath), "\"what\":\"not-held\"");
}

static void
setup(void)
{
	ck_assert(lh_ready());
	check_fresh_log(logpath, "assert");
	check_capture_stderr(errpath, "assert", &saved_stderr);
}

static void
teardown(void)
{
	check_restore_stderr(saved_stderr);
	unlink(logpath);
	unlink(errpath);
}

/* Puts lock on the calling thread's held stack, as the wrappers do. */
static void
track(void *lock, enum lh_lock_type type, enum lh_mode mode)
{
	struct lh_thread *t = lh_enter();
	int slot = lh_before_lock(t, lock, type, mode, LH_BLOCKING,
				  (uintptr_t)__builtin_return_address(0),
				  (uintptr_t)__builtin_dwarf_cfa());

	lh_after_lock(t, slot, lock);
	lh_leave(t);
}

static void
untrack(void *lock, enum lh_lock_type type)
{
	struct lh_thread *t = lh_enter();

	lh_on_unlock(t, lock, type, 0, (uintptr_t)__builtin_dwarf_cfa());
	lh_leave(t);
}

START_TEST(test_assert_types_come_from_the_c_type)
{
	pthread_mutex_t m;
	pthread_rwlock_t rw;
	pthread_spinlock_t sp;
	int other;

	ck_assert_int_eq(LH__LOCK_TYPE(&m), LH_LOCK_MUTEX);
	ck_assert_int_eq(LH__LOCK_TYPE((const pthread_mutex_t *)&m), LH_LOCK_MUTEX);
	ck_assert_int_eq(LH__LOCK_TYPE(&rw), LH_LOCK_RWLOCK);
	ck_assert_int_eq(LH__LOCK_TYPE(&sp), LH_LOCK_SPIN);
	ck_assert_int_eq(LH__LOCK_TYPE(&other), LH_LOCK_UNKNOWN);
}
END_TEST

START_TEST(test_assert_held_lock_on_the_stack_is_silent)
{
	static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

	track(&m, LH_TYPE_MUTEX, LH_MODE_WRITE);
	lh_assert_held(&m);
	lh_assert_wrheld(&m);
	lh_assert_rdheld(&m);
	untrack(&m, LH_TYPE_MUTEX);
	ck_assert_int_eq(reports(), 0);
}
END_TEST

static pthread_mutex_t never_locked = PTHREAD_MUTEX_INITIALIZER;

START_TEST(test_assert_not_held_is_reported_once_per_call_site)
{
	char *err;

	for (int k = 0; k < 3; k++)
		lh_assert_held(&never_locked);
	ck_assert_int_eq(reports(), 1);
	ck_assert(strstr(check_slurp(logpath), "\"kind\":\"misuse\"") != NULL);
	err = check_slurp(errpath);
	ck_assert_msg(strstr(err, "lockhound: misuse: not-held: lh_assert_held: this thread "
				  "does not hold the lock") != NULL,
		      "%s", err);
	ck_assert(strstr(err, "never_locked") != NULL);
	ck_assert(strstr(err, "test_assert_not_held_is_reported_once_per_call_site_fn+0x") !=
		  NULL);
	lh_assert_wrheld(&never_locked); /* another call site */
	ck_assert_int_eq(reports(), 2);
}
END_TEST

START_TEST(test_assert_released_lock_is_not_held)
{
	static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

	track(&m, LH_TYPE_MUTEX, LH_MODE_WRITE);
	untrack(&m, LH_TYPE_MUTEX);
	lh_assert_held(&m);
	ck_assert_int_eq(reports(), 1);
}
END_TEST

START_TEST(test_assert_mutex_taken_without_the_runtime_counts)
{
	pthread_mutex_t m;

	/* Unit tests do not interpose: glibc's owner field answers. */
	pthread_mutex_init(&m, NULL);
	pthread_mutex_lock(&m);
	lh_assert_held(&m);
	lh_assert_wrheld(&m);
	pthread_mutex_unlock(&m);
	ck_assert_int_eq(reports(), 0);
	lh_assert_held(&m);
	ck_assert_int_eq(reports(), 1);
	pthread_mutex_destroy(&m);
}
END_TEST

static pthread_mutex_t theirs = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t barrier;

static void *
hold_theirs(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&theirs);
	pthread_barrier_wait(&barrier);
	pthread_barrier_wait(&barrier);
	pthread_mutex_unlock(&theirs);
	return NULL;
}

START_TEST(test_assert_lock_held_by_another_thread_is_not_held)
{
	pthread_t t;

	pthread_barrier_init(&barrier, NULL, 2);
	pthread_create(&t, NULL, hold_theirs, NULL);
	pthread_barrier_wait(&barrier);
	lh_assert_held(&theirs);
	pthread_barrier_wait(&barrier);
	pthread_join(t, NULL);
	ck_assert_int_eq(reports(), 1);
}
END_TEST

START_TEST(test_assert_rwlock_modes)
{
	pthread_rwlock_t rw;

	pthread_rwlock_init(&rw, NULL);
	/* Write-locked here (glibc records the writer). */
	pthread_rwlock_wrlock(&rw);
	lh_assert_wrheld(&rw);
	lh_assert_rdheld(&rw);
	lh_assert_held(&rw);
	pthread_rwlock_unlock(&rw);
	ck_assert_int_eq(reports(), 0);
	/* Read-locked: readers are not recorded, so only wrheld can tell. */
	pthread_rwlock_rdlock(&rw);
	lh_assert_rdheld(&rw);
	ck_assert_int_eq(reports(), 0);
	lh_assert_wrheld(&rw);
	ck_assert_int_eq(reports(), 1);
	pthread_rwlock_unlock(&rw);
	/* Not locked at all. */
	lh_assert_rdheld(&rw);
	ck_assert_int_eq(reports(), 2);
	pthread_rwlock_destroy(&rw);
}
END_TEST

START_TEST(test_assert_read_hold_is_not_a_write_hold)
{
	static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;

	track(&rw, LH_TYPE_RWLOCK, LH_MODE_READ);
	lh_assert_rdheld(&rw);
	lh_assert_held(&rw);
	ck_assert_int_eq(reports(), 0);
	lh_assert_wrheld(&rw);
	untrack(&rw, LH_TYPE_RWLOCK);
	ck_assert_int_eq(reports(), 1);
	ck_assert(strstr(check_slurp(errpath), "holds the lock only for reading") != NULL);
}
END_TEST

START_TEST(test_assert_spinlock)
{
	pthread_spinlock_t sp;

	pthread_spin_init(&sp, PTHREAD_PROCESS_PRIVATE);
	pthread_spin_lock(&sp);
	lh_assert_held(&sp);
	pthread_spin_unlock(&sp);
	ck_assert_int_eq(reports(), 0);
	lh_assert_held(&sp);
	ck_assert_int_eq(reports(), 1);
	pthread_spin_destroy(&sp);
}
END_TEST

START_TEST(test_assert_leaves_errno_alone)
{
	errno = 1234;
	lh_assert_held(&never_locked);
	ck_assert_int_eq(errno, 1234);
}
END_TEST

static Suite *
assert_suite(void)
{
	Suite *s = suite_create("assert");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_assert_types_come_from_the_c_type);
	tcase_add_test(tc, test_assert_held_lock_on_the_stack_is_silent);
	tcase_add_test(tc, test_assert_not_held_is_reported_once_per_call_site);
	tcase_add_test(tc, test_assert_released_lock_is_not_held);
	tcase_add_test(tc, test_assert_mutex_taken_without_the_runtime_counts);
	tcase_add_test(tc, test_assert_lock_held_by_another_thread_is_not_held);
	tcase_add_test(tc, test_assert_rwlock_modes);
	tcase_add_test(tc, test_assert_read_hold_is_not_a_write_hold);
	tcase_add_test(tc, test_assert_spinlock);
	tcase_add_test(tc, test_assert_leaves_errno_alone);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(assert_suite)
