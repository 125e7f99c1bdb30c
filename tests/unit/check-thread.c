/* Unit tests for lib/thread.c: per-thread state, its growth and recycling. */
#include "config.h"

#include <pthread.h>
#include <string.h>
#include <sys/prctl.h>

#include "check-main.h"
#include "acquire.h"

START_TEST(test_thread_state_is_made_once)
{
	struct lh_thread *t = lh_enter();

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(t->tid, lh_gettid());
	ck_assert_ptr_eq(lh_self, t);
	ck_assert_ptr_null(lh_enter()); /* busy: re-entry passes through */
	lh_leave(t);
	ck_assert_ptr_eq(lh_enter(), t);
	lh_leave(t);
}
END_TEST

START_TEST(test_thread_held_stack_grows_and_keeps_entries)
{
	struct lh_thread *t = lh_enter();

	for (uint32_t i = 0; i < 1000; i++) {
		if (t->nheld == t->held_cap)
			ck_assert(lh_thread_grow_held(t));
		t->held[t->nheld++].addr = i;
	}
	for (uint32_t i = 0; i < 1000; i++)
		ck_assert_uint_eq(t->held[i].addr, i);
	t->nheld = 0;
	lh_leave(t);
}
END_TEST

static void *
named(void *arg)
{
	char name[16];

	(void)arg;
	prctl(PR_SET_NAME, "lh-worker");
	lh_thread_name(lh_gettid(), name, sizeof(name));
	return strcmp(name, "lh-worker") == 0 ? NULL : (void *)1;
}

START_TEST(test_thread_name_from_proc)
{
	pthread_t t;
	void *r;
	char name[16];

	pthread_create(&t, NULL, named, NULL);
	pthread_join(t, &r);
	ck_assert_ptr_null(r);
	lh_thread_name(999999999, name, sizeof(name));
	ck_assert_str_eq(name, "");
}
END_TEST

START_TEST(test_thread_own_name_is_cached)
{
	struct lh_thread *t = lh_enter();
	char name[16], tiny[4];

	lh_thread_name_ttl_ms = UINT32_MAX; /* no copy grows old meanwhile */
	prctl(PR_SET_NAME, "lh-first");
	lh_thread_own_name(t, name, sizeof(name));
	ck_assert_str_eq(name, "lh-first");
	/* Renamed behind the runtime's back: the copy stands for a while... */
	prctl(PR_SET_NAME, "lh-second");
	lh_thread_own_name(t, name, sizeof(name));
	ck_assert_str_eq(name, "lh-first");
	lh_thread_own_name(t, tiny, sizeof(tiny));
	ck_assert_str_eq(tiny, "lh-");
	/* ...until pthread_setname_np says names changed, */
	lh_thread_names_changed();
	lh_thread_own_name(t, name, sizeof(name));
	ck_assert_str_eq(name, "lh-second");
	/* or the copy is old (a second, normally). */
	prctl(PR_SET_NAME, "lh-third");
	lh_thread_name_ttl_ms = 0;
	lh_thread_own_name(t, name, sizeof(name));
	ck_assert_str_eq(name, "lh-third");
	lh_leave(t);
}
END_TEST

static void *
short_lived(void *arg)
{
	struct lh_thread *t = lh_enter();

	*(struct lh_thread **)arg = t;
	lh_leave(t);
	return NULL;
}

START_TEST(test_thread_states_are_recycled)
{
	struct lh_thread *seen[64];
	pthread_t t;
	int reused = 0;

	for (int i = 0; i < 64; i++) {
		pthread_create(&t, NULL, short_lived, &seen[i]);
		pthread_join(t, NULL);
		ck_assert_ptr_nonnull(seen[i]);
		for (int j = 0; j < i; j++)
			reused += seen[j] == seen[i];
	}
	/* Exited threads give their blocks back: far fewer than 64 distinct. */
	ck_assert_int_gt(reused, 32);
}
END_TEST

static Suite *
thread_suite(void)
{
	Suite *s = suite_create("thread");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_thread_state_is_made_once);
	tcase_add_test(tc, test_thread_held_stack_grows_and_keeps_entries);
	tcase_add_test(tc, test_thread_name_from_proc);
	tcase_add_test(tc, test_thread_own_name_is_cached);
	tcase_add_test(tc, test_thread_states_are_recycled);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(thread_suite)
