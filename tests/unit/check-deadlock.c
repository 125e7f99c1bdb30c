/*
 * Unit tests for lib/deadlock.c: the wait-for cycle detector, driven by real
 * threads that hold real mutexes and record waits (without blocking, so the
 * test can finish), and the acquire-timeout report.
 */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "acquire.h"
#include "check-main.h"

static pthread_mutex_t m1 = PTHREAD_MUTEX_INITIALIZER, m2 = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t step;
static _Atomic int reported;

struct role {
	pthread_mutex_t *hold, *want;
	bool wait; /* record a wait for want (else run without waiting) */
};

static void
quiet(void)
{
	int fd = open("/dev/null", O_WRONLY);

	dup2(fd, 2);
	close(fd);
}

/* t takes m as a wrapper would: the hold recorded around the real lock. */
static void
take(struct lh_thread *t, pthread_mutex_t *m)
{
	int slot = lh_before_lock(t, m, LH_TYPE_MUTEX, LH_MODE_WRITE, LH_BLOCKING, 0, 0);

	pthread_mutex_lock(m);
	lh_after_lock(t, slot, m);
}

/* And lets it go, the runtime's part busy as in a wrapper. */
static void
give(struct lh_thread *t, pthread_mutex_t *m)
{
	int busy = t->busy;

	t->busy = 1;
	lh_on_unlock(t, m, LH_TYPE_MUTEX, 0, 0);
	t->busy = busy;
	pthread_mutex_unlock(m);
}

/* t waits for m (NULL: no longer), as lh_wait_begin publishes it, without
 * the deadlock search that comes with it. */
static void
set_wait(struct lh_thread *t, pthread_mutex_t *m)
{
	t->wait_type = LH_TYPE_MUTEX;
	atomic_store(&t->wait_kind, m ? LH_WAIT_LOCK : LH_WAIT_NONE);
	atomic_store(&t->wait_addr, (uintptr_t)m);
}

static void *
actor(void *arg)
{
	struct role *r = arg;
	struct lh_thread *t = lh_enter();

	take(t, r->hold);
	lh_leave(t);
	pthread_barrier_wait(&step);
	if (r->wait)
		lh_wait_begin(t, LH_WAIT_LOCK, r->want, LH_TYPE_MUTEX, LH_MODE_WRITE, NULL, 0, 0);
	pthread_barrier_wait(&step);
	/* A slice ends: each member records its stack and looks again. */
	if (r->wait) {
		t->busy = 1;
		lh_wait_capture_stack(t);
		t->busy = 0;
	}
	pthread_barrier_wait(&step);
	if (r->wait) {
		t->busy = 1;
		if (lh_deadlock_check(t))
			atomic_fetch_add(&reported, 1);
		t->busy = 0;
	}
	pthread_barrier_wait(&step);
	if (r->wait)
		lh_wait_end(t);
	give(t, r->hold);
	return NULL;
}

static void
run_pair(bool second_waits)
{
	struct role a = {&m1, &m2, true}, b = {&m2, &m1, second_waits};
	pthread_t ta, tb;

	pthread_barrier_init(&step, NULL, 2);
	pthread_create(&ta, NULL, actor, &a);
	pthread_create(&tb, NULL, actor, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_barrier_destroy(&step);
}

START_TEST(test_deadlock_cycle_is_reported_once)
{
	uint64_t before = lh_report_findings();

	quiet();
	ck_assert(lh_ready());
	run_pair(true);
	/* Both members looked; one reported, the other saw it was out. */
	ck_assert_int_eq(atomic_load(&reported), 1);
	ck_assert_uint_eq(lh_report_findings(), before + 1);
}
END_TEST

START_TEST(test_deadlock_needs_every_member_waiting)
{
	uint64_t before = lh_report_findings();

	quiet();
	ck_assert(lh_ready());
	run_pair(false); /* the holder of m2 runs on */
	ck_assert_int_eq(atomic_load(&reported), 0);
	ck_assert_uint_eq(lh_report_findings(), before);
}
END_TEST

static void *
self_waiter(void *arg)
{
	struct lh_thread *t = lh_enter();

	(void)arg;
	take(t, &m1);
	lh_leave(t);
	/* Its only member is itself, whose stack is at hand: reported at once,
	 * by the check the wait's beginning runs; not again. */
	lh_wait_begin(t, LH_WAIT_LOCK, &m1, LH_TYPE_MUTEX, LH_MODE_WRITE, NULL, 0, 0);
	t->busy = 1;
	if (lh_deadlock_check(t))
		atomic_fetch_add(&reported, 1);
	lh_wait_end(t);
	t->busy = 0;
	give(t, &m1);
	return NULL;
}

START_TEST(test_deadlock_self_wait_is_a_cycle_of_one)
{
	uint64_t before = lh_report_findings();
	pthread_t th;

	quiet();
	ck_assert(lh_ready());
	pthread_create(&th, NULL, self_waiter, NULL);
	pthread_join(th, NULL);
	ck_assert_uint_eq(lh_report_findings(), before + 1);
	ck_assert_int_eq(atomic_load(&reported), 0);
}
END_TEST

static void *
holder(void *arg)
{
	struct lh_thread *t = lh_enter();

	(void)arg;
	take(t, &m2);
	lh_leave(t);
	pthread_barrier_wait(&step);
	pthread_barrier_wait(&step);
	give(t, &m2);
	return NULL;
}

START_TEST(test_deadlock_timeout_names_the_holder)
{
	char path[] = "/tmp/lh-check-deadlock.XXXXXX", buf[8192] = "";
	struct lh_thread *t;
	pthread_t th;
	uint64_t before;
	int fd = mkstemp(path);
	ssize_t n;

	close(fd);
	unlink(path);
	quiet();
	ck_assert(lh_ready());
	strcpy(lh_opt.log_path, path);
	lh_opt.timeout_ms = 1;
	lh_report_init();
	before = lh_report_findings();
	pthread_barrier_init(&step, NULL, 2);
	pthread_create(&th, NULL, holder, NULL);
	pthread_barrier_wait(&step);
	t = lh_enter();
	lh_leave(t);
	lh_wait_begin(t, LH_WAIT_LOCK, &m2, LH_TYPE_MUTEX, LH_MODE_WRITE, NULL, 0, 0);
	usleep(5000);
	lh_wait_slice(t); /* past timeout_ms: reported */
	lh_wait_slice(t); /* once per wait */
	lh_wait_end(t);
	pthread_barrier_wait(&step);
	pthread_join(th, NULL);
	ck_assert_uint_eq(lh_report_findings(), before + 1);
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	unlink(path);
	ck_assert_int_gt(n, 0);
	ck_assert(strstr(buf, "\"kind\":\"acquire-timeout\"") != NULL);
	ck_assert(strstr(buf, "\"holder\":{\"tid\":") != NULL);
}
END_TEST

static pthread_barrier_t gate;

/* Holds m1; at the first gate records a wait for m2; ends at the second. */
static void *
m1_holder(void *arg)
{
	struct lh_thread *t = lh_enter();

	(void)arg;
	take(t, &m1);
	lh_leave(t);
	pthread_barrier_wait(&gate); /* holds m1, runs */
	pthread_barrier_wait(&gate); /* looked at */
	set_wait(t, &m2);
	pthread_barrier_wait(&gate); /* waits */
	pthread_barrier_wait(&gate); /* looked at */
	set_wait(t, NULL);
	give(t, &m1);
	return NULL;
}

START_TEST(test_deadlock_first_look_passes_a_running_holder)
{
	struct lh_thread *t;
	pthread_t th;

	/* A wait for m1, whose holder runs: no cycle now, so the look without
	 * the registry says so; once the holder waits, it says look in full. */
	quiet();
	ck_assert(lh_ready());
	pthread_barrier_init(&gate, NULL, 2);
	pthread_create(&th, NULL, m1_holder, NULL);
	t = lh_enter();
	lh_leave(t);
	pthread_barrier_wait(&gate);
	set_wait(t, &m1);
	ck_assert(lh_deadlock_holder_runs(t));
	pthread_barrier_wait(&gate);
	pthread_barrier_wait(&gate);
	ck_assert(!lh_deadlock_holder_runs(t));
	/* Not for a lock glibc names no holder of, nor for another kind. */
	set_wait(t, &m2);
	ck_assert(!lh_deadlock_holder_runs(t));
	set_wait(t, &m1);
	t->wait_type = LH_TYPE_SPIN;
	ck_assert(!lh_deadlock_holder_runs(t));
	set_wait(t, NULL);
	pthread_barrier_wait(&gate);
	pthread_join(th, NULL);
	pthread_barrier_destroy(&gate);
}
END_TEST

static Suite *
deadlock_suite(void)
{
	Suite *s = suite_create("deadlock");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_deadlock_cycle_is_reported_once);
	tcase_add_test(tc, test_deadlock_needs_every_member_waiting);
	tcase_add_test(tc, test_deadlock_self_wait_is_a_cycle_of_one);
	tcase_add_test(tc, test_deadlock_timeout_names_the_holder);
	tcase_add_test(tc, test_deadlock_first_look_passes_a_running_holder);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(deadlock_suite)
