/* Unit tests for lib/stats.c: per-thread acquisition counters, their
 * eviction into the lock's node or the spill list and the global table, and
 * the contention records. */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acquire.h"
#include "check-log.h"
#include "check-main.h"

#define NLOCKS 1000 /* far more (lock, site) pairs than a thread has slots */

static pthread_mutex_t locks[NLOCKS];
static struct lh_lock *lk[NLOCKS];
static char logpath[64];

static void
setup(void)
{
	ck_assert(lh_ready());
	lh_opt.stats = LH_STATS_ON;
	check_fresh_log(logpath, "stats");
	for (int i = 0; i < NLOCKS; i++) {
		pthread_mutex_init(&locks[i], NULL);
		lk[i] = lh_locktab_get(&locks[i], LH_TYPE_MUTEX, 0, 0, false);
		ck_assert_ptr_nonnull(lk[i]);
	}
}

static void
teardown(void)
{
	unlink(logpath);
}

/* The value of field ("\"name\":") in lock i's contention record, or -1. */
static long
field_of(const char *log, int i, const char *field)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "\"scope\":\"lock\",\"lock\":%" PRIu64 ",", lk[i]->id);
	if (!(p = strstr(log, key)) || !(p = strstr(p, field)))
		return -1;
	return strtol(p + strlen(field), NULL, 10);
}

/* The "acquisitions" of lock i's contention record, or -1. */
static long
acquisitions(const char *log, int i)
{
	return field_of(log, i, "\"acquisitions\":");
}

/* Every lock taken `rounds` times, in turn, from two call sites. */
static void *
count_all(void *arg)
{
	struct lh_thread *t = lh_enter();
	int rounds = (int)(long)arg;

	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < NLOCKS; i++)
			lh_stat_count(t, lk[i], lk[i]->id, lk[i]->addr, r % 2 ? 0x1000 : 0x2000);
	lh_leave(t);
	return NULL;
}

START_TEST(test_stats_counts_every_acquisition_across_evictions)
{
	const char *log;

	/* One thread, 5 rounds over 1000 locks: the slots are evicted all the
	 * time, into the spill list, into the table. */
	count_all((void *)5L);
	lh_stats_report(true);
	log = check_slurp(logpath);
	for (int i = 0; i < NLOCKS; i++)
		ck_assert_int_eq(acquisitions(log, i), 5);
}
END_TEST

START_TEST(test_stats_adds_up_threads_that_exit)
{
	pthread_t th[4];
	const char *log;

	/* Four threads that end: their slots and spill lists are added at
	 * thread exit (the registry's exit path, as the runtime's). */
	for (int k = 0; k < 4; k++)
		pthread_create(&th[k], NULL, count_all, (void *)3L);
	for (int k = 0; k < 4; k++)
		pthread_join(th[k], NULL);
	lh_stats_report(true);
	log = check_slurp(logpath);
	for (int i = 0; i < NLOCKS; i++)
		ck_assert_int_eq(acquisitions(log, i), 12);
}
END_TEST

static pthread_barrier_t step;
static struct lh_thread *counter_thread;

/* Counts, lets a dump happen, counts again. */
static void *
count_dump_count(void *arg)
{
	(void)arg;
	count_all((void *)2L);
	counter_thread = lh_self;
	pthread_barrier_wait(&step); /* counted */
	pthread_barrier_wait(&step); /* dumped */
	count_all((void *)2L);
	return NULL;
}

START_TEST(test_stats_a_dump_does_not_count_twice)
{
	uint64_t before = 0, after = 0;
	pthread_t th;
	const char *log;

	/* A dump while the thread lives shows its slots and leaves them as
	 * they are (emptying them could race with its increments, which would
	 * store an old count back), and its spill list too: the dump's records
	 * and the last record of each lock add up to exactly what was taken. */
	pthread_barrier_init(&step, NULL, 2);
	pthread_create(&th, NULL, count_dump_count, NULL);
	pthread_barrier_wait(&step);
	for (int i = 0; i < LH_STAT_SLOTS; i++)
		before += counter_thread->stats[i].acq;
	lh_stats_report(false);
	for (int i = 0; i < LH_STAT_SLOTS; i++)
		after += counter_thread->stats[i].acq;
	ck_assert_uint_gt(before, 0);
	ck_assert_uint_eq(after, before);
	log = check_slurp(logpath);
	for (int i = 0; i < NLOCKS; i++)
		ck_assert_int_eq(acquisitions(log, i), 2);
	pthread_barrier_wait(&step);
	pthread_join(th, NULL);
	lh_stats_report(true);
	log = check_slurp(logpath);
	for (int i = 0; i < NLOCKS; i++) {
		char key[64];
		const char *p = log, *last = NULL;

		snprintf(key, sizeof(key), "\"scope\":\"lock\",\"lock\":%" PRIu64 ",",
			 lk[i]->id);
		while ((p = strstr(p, key)) != NULL)
			last = p++;
		ck_assert_ptr_nonnull(last);
		ck_assert_int_eq(acquisitions(last, i), 4);
	}
}
END_TEST

static pthread_barrier_t many_step;

/* Counts every lock once, then waits (counted), waits (dumped). */
static void *
count_and_park(void *arg)
{
	count_all(arg);
	pthread_barrier_wait(&many_step);
	pthread_barrier_wait(&many_step);
	return NULL;
}

START_TEST(test_stats_a_dump_with_too_many_counts)
{
	enum { NT = 300 }; /* about 250 full slots each: past SHOWN_MAX (65536) */
	static pthread_t th[NT];
	char errpath[64];
	int saved = -1;
	const char *log;

	/* A dump that would show more counts of running threads than it
	 * keeps a log for leaves the rest out (and says so once): still no
	 * count is taken from a thread, so the report at the end has every
	 * acquisition once. */
	pthread_barrier_init(&many_step, NULL, NT + 1);
	for (int k = 0; k < NT; k++)
		ck_assert_int_eq(pthread_create(&th[k], NULL, count_and_park, (void *)1L), 0);
	pthread_barrier_wait(&many_step);
	check_capture_stderr(errpath, "stats", &saved);
	lh_stats_report(false);
	check_restore_stderr(saved);
	ck_assert_ptr_nonnull(strstr(check_slurp(errpath), "leave out some counts"));
	unlink(errpath);
	pthread_barrier_wait(&many_step);
	for (int k = 0; k < NT; k++)
		pthread_join(th[k], NULL);
	check_fresh_log(logpath, "stats");
	lh_stats_report(true);
	log = check_slurp(logpath);
	for (int i = 0; i < NLOCKS; i++)
		ck_assert_int_eq(acquisitions(log, i), NT);
}
END_TEST

START_TEST(test_stats_a_lock_made_again_counts_apart)
{
	struct lh_thread *t;
	const char *log;
	uint64_t old[10];

	/* Two rounds and a report: every lock has its entry, and its node
	 * points at it. */
	count_all((void *)2L);
	lh_stats_report(false);
	t = lh_enter();
	for (int i = 0; i < 10; i++) {
		ck_assert_ptr_nonnull(lk[i]->stats);
		old[i] = lk[i]->id;
		/* Destroyed (its counts go to its class) and made again: most
		 * likely in the same node, which must not lead to the old entry. */
		lh_on_destroy(&locks[i]);
		lk[i] = lh_locktab_get(&locks[i], LH_TYPE_MUTEX, 0, 0, false);
		ck_assert_ptr_nonnull(lk[i]);
		ck_assert_uint_ne(lk[i]->id, old[i]);
		ck_assert_ptr_null(lk[i]->stats);
		for (int k = 0; k < 3; k++)
			lh_stat_count(t, lk[i], lk[i]->id, (uintptr_t)&locks[i], 0x3000);
	}
	lh_leave(t);
	lh_stats_report(true);
	log = check_slurp(logpath);
	for (int i = 0; i < NLOCKS; i++)
		ck_assert_int_eq(acquisitions(log, i), (i < 10 ? 3 : 2));
}
END_TEST

START_TEST(test_stats_an_eviction_touches_only_the_node)
{
	const char *log;
	int entries = 0;

	/* Evicted slots go to the lock's node: no entry is made until a
	 * report asks, and then the counts are all there. */
	count_all((void *)4L);
	for (int i = 0; i < NLOCKS; i++)
		entries += lk[i]->stats != NULL;
	ck_assert_int_eq(entries, 0);
	lh_stats_report(true);
	log = check_slurp(logpath);
	for (int i = 0; i < NLOCKS; i++) {
		ck_assert_int_eq(acquisitions(log, i), 4);
		ck_assert_ptr_nonnull(lk[i]->stats);
	}
}
END_TEST

START_TEST(test_stats_more_sites_than_a_node_holds)
{
	enum { SITES = 2 * LH_LOCK_SITES };
	struct lh_thread *t = lh_enter();
	const char *log, *p;
	char key[64];

	/* Lock 0 from SITES call sites, site k taken k + 1 times, each time
	 * after every other lock (its slot is evicted in between): the node
	 * holds the first LH_LOCK_SITES sites, the rest spill. */
	for (int k = 0; k < SITES; k++) {
		for (int n = 0; n <= k; n++) {
			lh_stat_count(t, lk[0], lk[0]->id, lk[0]->addr, 0x10000 + 16 * (uintptr_t)k);
			for (int i = 1; i < NLOCKS; i++)
				lh_stat_count(t, lk[i], lk[i]->id, lk[i]->addr, 0x2000);
		}
	}
	lh_leave(t);
	lh_stats_report(true);
	log = check_slurp(logpath);
	ck_assert_int_eq(acquisitions(log, 0), SITES * (SITES + 1) / 2);
	/* The busiest site (the last, which spilled) comes first. */
	snprintf(key, sizeof(key), "\"scope\":\"lock\",\"lock\":%" PRIu64 ",", lk[0]->id);
	ck_assert_ptr_nonnull(p = strstr(log, key));
	ck_assert_ptr_nonnull(p = strstr(p, "\"acquire_sites\":"));
	ck_assert_ptr_nonnull(p = strstr(p, "\"acquisitions\":"));
	ck_assert_int_eq(strtol(p + strlen("\"acquisitions\":"), NULL, 10), SITES);
	for (int i = 1; i < NLOCKS; i++)
		ck_assert_int_eq(acquisitions(log, i), SITES * (SITES + 1) / 2);
}
END_TEST

START_TEST(test_stats_a_fork_child_starts_from_zero)
{
	const char *log;

	/* The counts in the nodes are the parent's (the hook runs here in
	 * the test's own process, as in a child). */
	count_all((void *)3L);
	lh_stats_atfork_child();
	count_all((void *)1L);
	lh_stats_report(true);
	log = check_slurp(logpath);
	for (int i = 0; i < NLOCKS; i++)
		ck_assert_int_eq(acquisitions(log, i), 1);
}
END_TEST

START_TEST(test_stats_holders_counts_stay_in_the_node)
{
	struct lh_thread *t = lh_enter();
	const char *log;

	/* Counts kept by the holders of locks 0-9 (lh_lock_own), as the
	 * runtime's normal mutexes do: a report shows them and leaves them
	 * there, so the next one shows them once more, not twice. */
	for (int i = 0; i < 10; i++) {
		atomic_store(&lk[i]->own[0].pc, 0x5000);
		atomic_store(&lk[i]->own[0].n, 3);
		atomic_store(&lk[i]->own[1].pc, 0x6000);
		atomic_store(&lk[i]->own[1].n, 2);
	}
	lh_stats_report(false);
	log = check_slurp(logpath);
	for (int i = 0; i < NLOCKS; i++)
		ck_assert_int_eq(acquisitions(log, i), i < 10 ? 5 : -1);
	/* Lock 0's holder gives site 0x5000's place to 0x7000: cleared, then
	 * the 3 handed in. */
	atomic_store(&lk[0]->own[0].n, 0);
	atomic_store(&lk[0]->own[0].pc, 0x7000);
	lh_stat_hand_in(t, lk[0], lk[0]->id, 0x5000, 3);
	atomic_store(&lk[0]->own[0].n, 1);
	check_fresh_log(logpath, "stats");
	lh_stats_report(false);
	log = check_slurp(logpath);
	ck_assert_int_eq(acquisitions(log, 0), 6);
	for (int i = 1; i < 10; i++)
		ck_assert_int_eq(acquisitions(log, i), 5);
	/* Destroyed: its counts are final, the node keeps none. */
	lh_on_destroy(&locks[1]);
	ck_assert_uint_eq(lk[1]->own[0].n + lk[1]->own[1].n, 0);
	/* A fork child starts from zero. */
	lh_stats_atfork_child();
	check_fresh_log(logpath, "stats");
	lh_stats_report(false);
	log = check_slurp(logpath);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(acquisitions(log, i), -1);
	lh_leave(t);
}
END_TEST

START_TEST(test_stats_more_holders_counts_than_the_cap)
{
	enum { N = 40000 }; /* two counts each: past SHOWN_MAX (65536) */
	pthread_mutex_t *many = calloc(N, sizeof(*many));
	char errpath[64], *line = NULL;
	size_t len = 0;
	long records = 0, total = 0;
	int saved = -1;
	FILE *f;

	/* The holders' counts of normal mutexes (lh_lock_own) are only in the
	 * nodes: a report, at exit too, shows every one of them, however many
	 * locks there are, and says nothing about leaving any out. */
	ck_assert_ptr_nonnull(many);
	for (int i = 0; i < N; i++) {
		struct lh_lock *l;

		pthread_mutex_init(&many[i], NULL);
		l = lh_locktab_get(&many[i], LH_TYPE_MUTEX, 0, 0, false);
		ck_assert_ptr_nonnull(l);
		/* Call sites in a known module: a report rereads the maps
		 * for a pc outside all of them. */
		atomic_store(&l->own[0].pc, (uintptr_t)setup + 1);
		atomic_store(&l->own[0].n, 3);
		atomic_store(&l->own[1].pc, (uintptr_t)teardown + 1);
		atomic_store(&l->own[1].n, 2);
	}
	check_capture_stderr(errpath, "stats", &saved);
	lh_stats_report(true);
	check_restore_stderr(saved);
	ck_assert_ptr_null(strstr(check_slurp(errpath), "leave out"));
	unlink(errpath);
	/* One record a lock, each with the lock's 5 (the log is too big for
	 * check_slurp). */
	ck_assert_ptr_nonnull(f = fopen(logpath, "r"));
	while (getline(&line, &len, f) > 0) {
		const char *p = strstr(line, "\"scope\":\"lock\"");

		if (!p || !(p = strstr(p, "\"acquisitions\":")))
			continue;
		records++;
		total += strtol(p + strlen("\"acquisitions\":"), NULL, 10);
	}
	fclose(f);
	free(line);
	ck_assert_int_eq(records, N);
	ck_assert_int_eq(total, 5L * N);
	for (int i = 0; i < N; i++)
		lh_on_destroy(&many[i]);
	free(many);
}
END_TEST

START_TEST(test_stats_waits_count_in_the_thread)
{
	struct lh_thread *t = lh_enter();
	const char *log;

	/* 40 locks waited for 3 times each at one site, each wait ended by a
	 * release at another: 80 (lock, site) pairs through 16 wait slots,
	 * handed in as they are evicted and at the report. */
	for (int r = 1; r <= 3; r++) {
		for (int i = 0; i < 40; i++) {
			atomic_store(&lk[i]->unlock_pc, 0x5000);
			lh_stat_wait(t, lk[i], lk[i]->id, 0x4000, 1000 * (uint64_t)r);
		}
	}
	lh_leave(t);
	lh_stats_report(true);
	log = check_slurp(logpath);
	for (int i = 0; i < 40; i++) {
		const char *p;
		char key[64];

		ck_assert_int_eq(field_of(log, i, "\"contended\":"), 3);
		ck_assert_int_eq(field_of(log, i, "\"wait_ns\":"), 6000);
		ck_assert_int_eq(field_of(log, i, "\"wait_max_ns\":"), 3000);
		snprintf(key, sizeof(key), "\"scope\":\"lock\",\"lock\":%" PRIu64 ",", lk[i]->id);
		ck_assert_ptr_nonnull(p = strstr(log, key));
		ck_assert_ptr_nonnull(p = strstr(p, "\"holder_sites\":[{"));
		ck_assert_ptr_nonnull(p = strstr(p, "\"count\":"));
		ck_assert_int_eq(strtol(p + strlen("\"count\":"), NULL, 10), 3);
	}
	ck_assert_int_eq(field_of(log, 40, "\"contended\":"), -1);
}
END_TEST

static Suite *
stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_stats_counts_every_acquisition_across_evictions);
	tcase_add_test(tc, test_stats_adds_up_threads_that_exit);
	tcase_add_test(tc, test_stats_a_dump_does_not_count_twice);
	tcase_add_test(tc, test_stats_a_lock_made_again_counts_apart);
	tcase_add_test(tc, test_stats_an_eviction_touches_only_the_node);
	tcase_add_test(tc, test_stats_more_sites_than_a_node_holds);
	tcase_add_test(tc, test_stats_a_fork_child_starts_from_zero);
	tcase_add_test(tc, test_stats_waits_count_in_the_thread);
	tcase_add_test(tc, test_stats_holders_counts_stay_in_the_node);
	tcase_add_test(tc, test_stats_a_dump_with_too_many_counts);
	tcase_add_test(tc, test_stats_more_holders_counts_than_the_cap);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(stats_suite)
