/*
 * Unit tests for lib/race.c: the -fsanitize=thread hooks called directly, as
 * instrumented code would. The atomics perform their operations; the shadow
 * call stack gives stacks; two threads that really race are reported, in
 * the act and as a value that changed under a watch; reads, atomics and one
 * thread alone are not.
 */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check-log.h"
#include "check-main.h"
#include "lockhound-private.h"

/* In the ASan/UBSan build gcc knows these hooks as built-ins with other
 * pointer types (lib/race.c says more). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wbuiltin-declaration-mismatch"
#endif

/* The hooks, as libtsan declares them. */
void __tsan_init(void);
void __tsan_func_entry(void *pc);
void __tsan_func_exit(void);
void __tsan_read4(void *addr);
void __tsan_write4(void *addr);
void __tsan_read8(void *addr);
void __tsan_unaligned_write8(void *addr);
void __tsan_read_range(void *addr, unsigned long size);
void __tsan_write_range(void *addr, unsigned long size);
signed char __tsan_atomic8_load(const volatile signed char *a, int mo);
void __tsan_atomic8_store(volatile signed char *a, signed char v, int mo);
signed char __tsan_atomic8_fetch_nand(volatile signed char *a, signed char v, int mo);
short __tsan_atomic16_fetch_sub(volatile short *a, short v, int mo);
int __tsan_atomic32_load(const volatile int *a, int mo);
void __tsan_atomic32_store(volatile int *a, int v, int mo);
int __tsan_atomic32_fetch_add(volatile int *a, int v, int mo);
int __tsan_atomic32_fetch_or(volatile int *a, int v, int mo);
int __tsan_atomic32_exchange(volatile int *a, int v, int mo);
int __tsan_atomic32_compare_exchange_strong(volatile int *a, int *c, int v, int mo,
                                            int fmo);
int __tsan_atomic32_compare_exchange_weak(volatile int *a, int *c, int v, int mo,
                                          int fmo);
int __tsan_atomic32_compare_exchange_val(volatile int *a, int c, int v, int mo, int fmo);
long long __tsan_atomic64_fetch_xor(volatile long long *a, long long v, int mo);
long long __tsan_atomic64_fetch_and(volatile long long *a, long long v, int mo);
__int128 __tsan_atomic128_load(const volatile __int128 *a, int mo);
void __tsan_atomic128_store(volatile __int128 *a, __int128 v, int mo);
__int128 __tsan_atomic128_fetch_add(volatile __int128 *a, __int128 v, int mo);
int __tsan_atomic128_compare_exchange_strong(volatile __int128 *a, __int128 *c,
                                             __int128 v, int mo, int fmo);
void __tsan_atomic_thread_fence(int mo);
void __tsan_atomic_signal_fence(int mo);

enum { RELAXED, CONSUME, ACQUIRE, RELEASE, ACQ_REL, SEQ_CST };

static char logpath[64], errpath[64];
static int saved_stderr = -1;

/* Every watch window short, and every access sampled. */
static void
setup(void)
{
	ck_assert(lh_ready());
	check_fresh_log(logpath, "race");
	check_capture_stderr(errpath, "race", &saved_stderr);
	lh_opt.race_sample = 1;
	lh_opt.race_delay = 20;
	lh_race_init();
}

static void
teardown(void)
{
	check_restore_stderr(saved_stderr);
	unlink(logpath);
	unlink(errpath);
}

/* ---- atomics ----------------------------------------------------------- */

START_TEST(test_race_atomics_perform_the_operation)
{
	volatile signed char c = 5;
	volatile short s = 10;
	volatile int i = 1;
	volatile long long l = 0xff0;
	volatile __int128 q = 7;
	int expect;
	__int128 qexpect;

	ck_assert_int_eq(__tsan_atomic8_load(&c, ACQUIRE), 5);
	__tsan_atomic8_store(&c, 0x0f, RELEASE);
	ck_assert_int_eq(__tsan_atomic8_fetch_nand(&c, 0x3c, SEQ_CST), 0x0f);
	ck_assert_int_eq(c, (signed char)~(0x0f & 0x3c));
	ck_assert_int_eq(__tsan_atomic16_fetch_sub(&s, 3, RELAXED), 10);
	ck_assert_int_eq(s, 7);

	ck_assert_int_eq(__tsan_atomic32_fetch_add(&i, 41, ACQ_REL), 1);
	ck_assert_int_eq(__tsan_atomic32_load(&i, SEQ_CST), 42);
	ck_assert_int_eq(__tsan_atomic32_fetch_or(&i, 0x100, CONSUME), 42);
	ck_assert_int_eq(__tsan_atomic32_exchange(&i, 9, RELEASE), 0x12a);
	__tsan_atomic32_store(&i, 3, RELAXED);
	ck_assert_int_eq(i, 3);

	ck_assert_int_eq(__tsan_atomic64_fetch_xor(&l, 0xf0f, SEQ_CST), 0xff0);
	ck_assert_int_eq(l, 0xff0 ^ 0xf0f);
	ck_assert_int_eq(__tsan_atomic64_fetch_and(&l, 0xf, RELAXED), 0xff0 ^ 0xf0f);
	ck_assert_int_eq(l, 0xf);

	ck_assert(__tsan_atomic128_load(&q, ACQUIRE) == 7);
	__tsan_atomic128_store(&q, (__int128)1 << 100, SEQ_CST);
	ck_assert(__tsan_atomic128_fetch_add(&q, 1, ACQ_REL) == (__int128)1 << 100);
	qexpect = ((__int128)1 << 100) + 1;
	ck_assert(
	    __tsan_atomic128_compare_exchange_strong(&q, &qexpect, 5, SEQ_CST, RELAXED));
	ck_assert(q == 5);
	__tsan_atomic_thread_fence(SEQ_CST);
	__tsan_atomic_signal_fence(ACQUIRE);

	/* Compare-and-exchange: success writes, failure loads into *expected. */
	expect = 3;
	ck_assert(
	    __tsan_atomic32_compare_exchange_strong(&i, &expect, 4, ACQ_REL, ACQUIRE));
	ck_assert_int_eq(i, 4);
	expect = 3;
	ck_assert(
	    !__tsan_atomic32_compare_exchange_strong(&i, &expect, 5, SEQ_CST, SEQ_CST));
	ck_assert_int_eq(expect, 4);
	ck_assert_int_eq(i, 4);
	while (!__tsan_atomic32_compare_exchange_weak(&i, &expect, 6, RELEASE, RELAXED))
		;
	ck_assert_int_eq(i, 6);
	ck_assert_int_eq(__tsan_atomic32_compare_exchange_val(&i, 6, 8, ACQUIRE, ACQUIRE),
	                 6);
	ck_assert_int_eq(__tsan_atomic32_compare_exchange_val(&i, 6, 9, RELAXED, RELAXED),
	                 8);
	ck_assert_int_eq(i, 8);
}
END_TEST

START_TEST(test_race_atomics_take_any_order_value)
{
	volatile int i = 0;
	int expect = 0;

	/* Orders a C11 operation cannot take, and gcc's flag bits (HLE hints,
	 * __sync lowering): performed all the same. */
	__tsan_atomic32_store(&i, 1, ACQUIRE);
	ck_assert_int_eq(__tsan_atomic32_load(&i, RELEASE), 1);
	ck_assert_int_eq(__tsan_atomic32_fetch_add(&i, 1, SEQ_CST | (1 << 16)), 1);
	ck_assert_int_eq(__tsan_atomic32_fetch_add(&i, 1, (1 << 15) | RELAXED), 2);
	ck_assert_int_eq(__tsan_atomic32_load(&i, 1234), 3);
	expect = 3;
	ck_assert(
	    __tsan_atomic32_compare_exchange_strong(&i, &expect, 4, RELAXED, SEQ_CST));
	expect = 4;
	ck_assert(
	    __tsan_atomic32_compare_exchange_strong(&i, &expect, 5, RELEASE, ACQ_REL));
	ck_assert_int_eq(i, 5);
}
END_TEST

/* Two threads add 100,000 each through the hooks: no update is lost, and
 * atomics never race with atomics. */
static volatile int shared_atomic;
static pthread_barrier_t barrier;

static void *
atomic_adder(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&barrier);
	for (int k = 0; k < 100000; k++) {
		__tsan_atomic32_fetch_add(&shared_atomic, 1, RELAXED);
		(void)__tsan_atomic32_load(&shared_atomic, ACQUIRE);
	}
	return NULL;
}

START_TEST(test_race_atomics_are_atomic_and_never_race)
{
	pthread_t t[2];
	uint64_t before = lh_report_findings();

	shared_atomic = 0;
	pthread_barrier_init(&barrier, NULL, 2);
	for (int k = 0; k < 2; k++)
		pthread_create(&t[k], NULL, atomic_adder, NULL);
	for (int k = 0; k < 2; k++)
		pthread_join(t[k], NULL);
	pthread_barrier_destroy(&barrier);
	ck_assert_int_eq(shared_atomic, 200000);
	ck_assert_uint_eq(lh_report_findings(), before);
}
END_TEST

/* ---- the shadow call stack ---------------------------------------------- */

__attribute__((noinline)) static void
marker(void)
{
	__asm__ volatile("");
}

/* Stands for a hook: its CFA, as the runtime's hooks pass it. */
__attribute__((noinline)) static int
hook_unwind(struct lh_frame *f, int max)
{
	int n = lh_unwind(f, max, (uintptr_t)__builtin_dwarf_cfa());

	__asm__ volatile("" ::: "memory");
	return n;
}

/* An instrumented function: says it entered, as compiled code does, with a
 * made-up caller that only the shadow stack can know. */
__attribute__((noinline)) static int
instrumented(struct lh_frame *f, int max, uintptr_t fake_caller, bool leave)
{
	int n;

	__tsan_func_entry((void *)fake_caller);
	n = hook_unwind(f, max);
	if (leave)
		__tsan_func_exit();
	__asm__ volatile("" ::: "memory");
	return n;
}

/* Not instrumented: no entry of its own. */
__attribute__((noinline)) static int
plain(struct lh_frame *f, int max)
{
	int n = hook_unwind(f, max);

	__asm__ volatile("" ::: "memory");
	return n;
}

START_TEST(test_race_shadow_stack_gives_the_stack)
{
	struct lh_frame f[LH_STACK_MAX];
	uintptr_t fake = (uintptr_t)marker + 1;
	uintptr_t outer = (uintptr_t)marker + 2;
	int n;

	__tsan_func_entry((void *)outer);
	n = instrumented(f, LH_STACK_MAX, fake, true);
	__tsan_func_exit();
	ck_assert_int_eq(n, 3);
	ck_assert_uint_eq(lh_function_start(f[0].pc), (uintptr_t)instrumented);
	ck_assert_uint_eq(f[0].start, (uintptr_t)instrumented);
	ck_assert_uint_eq(f[1].pc, fake);
	ck_assert_uint_eq(f[2].pc, outer);
	ck_assert_uint_eq(f[1].start, lh_function_start(fake));
	ck_assert(f[1].cfa > f[0].cfa && f[2].cfa > f[1].cfa);
}
END_TEST

START_TEST(test_race_shadow_stack_unwinds_where_the_caller_has_no_hooks)
{
	struct lh_frame f[LH_STACK_MAX];
	int n;

	__tsan_func_entry((void *)((uintptr_t)marker + 1));
	n = plain(f, LH_STACK_MAX);
	__tsan_func_exit();
	/* The real stack: plain, then this test function. */
	ck_assert_int_gt(n, 2);
	ck_assert_uint_eq(f[0].start, (uintptr_t)plain);
	ck_assert_uint_ne(f[1].pc, (uintptr_t)marker + 1);
}
END_TEST

START_TEST(test_race_shadow_stack_ignores_a_returned_frame)
{
	struct lh_frame f[LH_STACK_MAX];
	int n;

	/* As after a longjmp: the function returned without its exit hook. */
	instrumented(f, LH_STACK_MAX, (uintptr_t)marker + 1, false);
	n = plain(f, LH_STACK_MAX);
	__tsan_func_exit();
	ck_assert_int_gt(n, 2);
	ck_assert_uint_eq(f[0].start, (uintptr_t)plain);
	ck_assert_uint_ne(f[1].pc, (uintptr_t)marker + 1);
}
END_TEST

START_TEST(test_race_shadow_stack_exit_without_entry_is_harmless)
{
	struct lh_frame f[LH_STACK_MAX];

	for (int k = 0; k < 10; k++)
		__tsan_func_exit();
	ck_assert_int_eq(instrumented(f, LH_STACK_MAX, (uintptr_t)marker + 1, true), 2);
}
END_TEST

START_TEST(test_race_shadow_stack_deeper_than_kept_unwinds)
{
	struct lh_frame f[LH_STACK_MAX];
	int n;

	for (int k = 0; k < 5000; k++)
		__tsan_func_entry((void *)((uintptr_t)marker + 1));
	n = instrumented(f, LH_STACK_MAX, (uintptr_t)marker + 1, true);
	for (int k = 0; k < 5000; k++)
		__tsan_func_exit();
	ck_assert_int_gt(n, 1);
	ck_assert_uint_ne(f[1].pc, (uintptr_t)marker + 1);
}
END_TEST

/* ---- detection ------------------------------------------------------------ */

static volatile int racy;
static volatile int stop;

/* Reads (or writes) racy through the hooks until stopped. */
static void *
reader(void *arg)
{
	(void)arg;
	__tsan_func_entry(__builtin_return_address(0));
	pthread_barrier_wait(&barrier);
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		__tsan_read4((void *)&racy);
		(void)racy;
	}
	__tsan_func_exit();
	return NULL;
}

static void *
writer(void *arg)
{
	(void)arg;
	__tsan_func_entry(__builtin_return_address(0));
	pthread_barrier_wait(&barrier);
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		__tsan_write4((void *)&racy);
		racy = racy + 1;
	}
	__tsan_func_exit();
	return NULL;
}

/* Another writer of racy, at other code locations. */
static void *
other_writer(void *arg)
{
	(void)arg;
	__tsan_func_entry(__builtin_return_address(0));
	pthread_barrier_wait(&barrier);
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		__tsan_write4((void *)&racy);
		racy = racy + 2;
	}
	__tsan_func_exit();
	return NULL;
}

/* Writes without hooks, like code built without -fsanitize=thread. */
static void *
blind_writer(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&barrier);
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE))
		racy = racy + 1;
	return NULL;
}

/* Runs threads a and b for ms milliseconds, or until the log holds the
 * text `until` (then at most a minute); returns the number of findings. */
static uint64_t
run_pair(void *(*a)(void *), void *(*b)(void *), int ms, const char *until)
{
	uint64_t before = lh_report_findings();
	pthread_t t[2];

	stop = 0;
	pthread_barrier_init(&barrier, NULL, 2);
	pthread_create(&t[0], NULL, a, NULL);
	pthread_create(&t[1], NULL, b, NULL);
	for (int k = 0; k < (until ? 60000 : ms); k++) {
		if (until && strstr(check_slurp(logpath), until))
			break;
		usleep(1000);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	pthread_barrier_destroy(&barrier);
	return lh_report_findings() - before;
}

START_TEST(test_race_read_write_is_reported_in_the_act)
{
	char *log, *err;

	ck_assert_uint_ge(run_pair(reader, writer, 0, "\"how\":\"concurrent\""), 1);
	log = check_slurp(logpath);
	ck_assert_msg(strstr(log, "\"how\":\"concurrent\"") != NULL, "%s", log);
	ck_assert(strstr(log, "\"symbol\":{\"name\":\"racy\"") != NULL);
	ck_assert(strstr(log, "\"size\":4,\"write\":true,\"atomic\":false") != NULL);
	ck_assert(strstr(log, "\"size\":4,\"write\":false,\"atomic\":false") != NULL);
	ck_assert_int_ge(check_count(log, "\"stack\":[{\"pc\":"), 2);
	err = check_slurp(errpath);
	ck_assert_msg(strstr(err, "lockhound: data-race: ") != NULL, "%s", err);
	ck_assert(strstr(err, " at racy (0x") != NULL);
	ck_assert(strstr(err, " in reader+0x") != NULL);
	ck_assert(strstr(err, " in writer+0x") != NULL);
	ck_assert(strstr(err, "holding no locks") != NULL);
}
END_TEST

START_TEST(test_race_each_pair_is_reported_once)
{
	char *log;

	/* Keep going well after the first report: the same two code locations
	 * race again and again, and are reported once. */
	run_pair(reader, writer, 0, "\"how\":\"concurrent\"");
	run_pair(reader, writer, 300, NULL);
	log = check_slurp(logpath);
	ck_assert_int_eq(check_count(log, "\"how\":\"concurrent\""), 1);
}
END_TEST

START_TEST(test_race_each_variable_is_reported_once)
{
	char *log;

	/* Another pair of code locations on the same variable: not reported
	 * again (as TSan's suppress_equal_addresses). */
	run_pair(reader, writer, 0, "\"how\":\"concurrent\"");
	run_pair(reader, other_writer, 300, NULL);
	log = check_slurp(logpath);
	ck_assert_int_eq(check_count(log, "\"how\":\"concurrent\""), 1);
}
END_TEST

START_TEST(test_race_uninstrumented_writer_changes_the_value)
{
	char *log;

	ck_assert_uint_ge(run_pair(reader, blind_writer, 0, "value-change"), 1);
	log = check_slurp(logpath);
	ck_assert_msg(strstr(log, "\"how\":\"value-change\"") != NULL, "%s", log);
	ck_assert(strstr(log, "\"old\":\"0x") != NULL);
	ck_assert(strstr(check_slurp(errpath), " changed under it: 0x") != NULL);
}
END_TEST

START_TEST(test_race_readers_do_not_race)
{
	ck_assert_uint_eq(run_pair(reader, reader, 300, NULL), 0);
}
END_TEST

START_TEST(test_race_sampling_off_reports_nothing)
{
	lh_opt.race_sample = 0;
	lh_race_init();
	ck_assert_uint_eq(run_pair(reader, writer, 300, NULL), 0);
}
END_TEST

/* A plain write against atomic reads is a race; atomic against atomic is not. */
static void *
atomic_reader(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&barrier);
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE))
		(void)__tsan_atomic32_load(&racy, ACQUIRE);
	return NULL;
}

static void *
atomic_writer(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&barrier);
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE))
		__tsan_atomic32_fetch_add(&racy, 1, RELAXED);
	return NULL;
}

START_TEST(test_race_plain_write_against_atomic_read_is_a_race)
{
	char *log;

	ck_assert_uint_ge(run_pair(writer, atomic_reader, 0, "\"atomic\":true"), 1);
	log = check_slurp(logpath);
	ck_assert(strstr(log, "\"write\":false,\"atomic\":true") != NULL);
}
END_TEST

START_TEST(test_race_atomic_against_atomic_is_not)
{
	ck_assert_uint_eq(run_pair(atomic_writer, atomic_reader, 300, NULL), 0);
}
END_TEST

/* Ranges and unaligned accesses overlap watches on any of their bytes. */
static char buffer[64] __attribute__((aligned(64)));

static void *
range_writer(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&barrier);
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		__tsan_write_range(buffer, sizeof(buffer));
		memset(buffer, 1, sizeof(buffer));
	}
	return NULL;
}

static void *
unaligned_reader(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&barrier);
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		__tsan_read8(buffer + 40);
		__tsan_unaligned_write8(buffer + 13);
	}
	return NULL;
}

START_TEST(test_race_ranges_and_unaligned_accesses_overlap)
{
	ck_assert_uint_ge(
	    run_pair(range_writer, unaligned_reader, 0, "\"name\":\"buffer\""), 1);
	ck_assert(strstr(check_slurp(logpath), "\"symbol\":{\"name\":\"buffer\"") != NULL);
}
END_TEST

/* One thread alone never reports, whatever it does. */
START_TEST(test_race_one_thread_alone_reports_nothing)
{
	uint64_t before = lh_report_findings();

	for (int k = 0; k < 20000; k++) {
		__tsan_read4((void *)&racy);
		__tsan_write4((void *)&racy);
		__tsan_read_range(buffer, sizeof(buffer));
		__tsan_write_range(buffer, sizeof(buffer));
	}
	ck_assert_uint_eq(lh_report_findings(), before);
}
END_TEST

START_TEST(test_race_init_hook_is_idempotent)
{
	__tsan_init();
	__tsan_init();
	ck_assert(lh_ready());
}
END_TEST

static Suite *
race_suite(void)
{
	Suite *s = suite_create("race");
	TCase *tc = tcase_create("atomics");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_race_atomics_perform_the_operation);
	tcase_add_test(tc, test_race_atomics_take_any_order_value);
	tcase_add_test(tc, test_race_atomics_are_atomic_and_never_race);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("shadow");
	tcase_add_test(tc, test_race_shadow_stack_gives_the_stack);
	tcase_add_test(tc, test_race_shadow_stack_unwinds_where_the_caller_has_no_hooks);
	tcase_add_test(tc, test_race_shadow_stack_ignores_a_returned_frame);
	tcase_add_test(tc, test_race_shadow_stack_exit_without_entry_is_harmless);
	tcase_add_test(tc, test_race_shadow_stack_deeper_than_kept_unwinds);
	suite_add_tcase(s, tc);

	tc = tcase_create("detect");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_race_read_write_is_reported_in_the_act);
	tcase_add_test(tc, test_race_each_pair_is_reported_once);
	tcase_add_test(tc, test_race_each_variable_is_reported_once);
	tcase_add_test(tc, test_race_uninstrumented_writer_changes_the_value);
	tcase_add_test(tc, test_race_readers_do_not_race);
	tcase_add_test(tc, test_race_sampling_off_reports_nothing);
	tcase_add_test(tc, test_race_plain_write_against_atomic_read_is_a_race);
	tcase_add_test(tc, test_race_atomic_against_atomic_is_not);
	tcase_add_test(tc, test_race_ranges_and_unaligned_accesses_overlap);
	tcase_add_test(tc, test_race_one_thread_alone_reports_nothing);
	tcase_add_test(tc, test_race_init_hook_is_idempotent);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(race_suite)
