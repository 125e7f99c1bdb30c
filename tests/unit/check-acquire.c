/*
 * Unit tests for lib/acquire.c: the held stack, chain keys and caches, which
 * acquisitions make order edges, and lock identity across destroy/init.
 * Drives the event functions directly, on real (never locked) mutexes.
 */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include "check-main.h"
#include "acquire.h"

#define N 400

static pthread_mutex_t mus[N];
static int ncycles;

static void
on_cycle(const struct lh_cycle *c, void *arg)
{
	(void)c;
	(void)arg;
	ncycles++;
}

static struct lh_thread *t;

static void
setup(void)
{
	static const struct lh_graph_ops ops = {NULL, on_cycle, NULL};

	ck_assert(lh_ready());
	lh_graph_init(&ops);
	for (int i = 0; i < N; i++)
		pthread_mutex_init(&mus[i], NULL);
	t = lh_enter();
	ck_assert_ptr_nonnull(t);
	ncycles = 0;
}

static void
teardown(void)
{
	lh_leave(t);
}

static void
lock(int i, enum lh_how how)
{
	int slot = lh_before_lock(t, &mus[i], LH_TYPE_MUTEX, LH_MODE_WRITE, how,
				  (uintptr_t)__builtin_return_address(0),
				  (uintptr_t)__builtin_dwarf_cfa());

	lh_after_lock(t, slot, &mus[i]);
}

static void
unlock(int i)
{
	lh_on_unlock(t, &mus[i], LH_TYPE_MUTEX, 0, (uintptr_t)__builtin_dwarf_cfa());
}

START_TEST(test_acquire_pushes_and_pops)
{
	lock(0, LH_BLOCKING);
	lock(1, LH_BLOCKING);
	ck_assert_uint_eq(t->nheld, 2);
	ck_assert_uint_eq(t->held[1].addr, (uintptr_t)&mus[1]);
	unlock(1);
	unlock(0);
	ck_assert_uint_eq(t->nheld, 0);
}
END_TEST

START_TEST(test_acquire_out_of_order_unlock_rekeys)
{
	uint64_t direct;

	lock(0, LH_BLOCKING);
	lock(1, LH_BLOCKING);
	lock(2, LH_BLOCKING);
	unlock(1);
	ck_assert_uint_eq(t->nheld, 2);
	ck_assert_uint_eq(t->held[1].addr, (uintptr_t)&mus[2]);
	direct = lh_chain_mix(lh_chain_mix(0, t->held[0].lock->salt, 0), t->held[1].lock->salt, 0);
	ck_assert_uint_eq(t->held[1].chain, direct);
	unlock(2);
	unlock(0);
}
END_TEST

START_TEST(test_acquire_makes_edge_from_every_held_lock)
{
	size_t before = lh_graph_edge_count();

	lock(0, LH_BLOCKING);
	lock(1, LH_BLOCKING);
	lock(2, LH_BLOCKING);
	ck_assert_uint_eq(lh_graph_edge_count(), before + 3); /* 0-1, 0-2, 1-2 */
	unlock(2);
	unlock(1);
	unlock(0);
}
END_TEST

START_TEST(test_acquire_known_chain_skips_graph)
{
	lock(0, LH_BLOCKING);
	lock(1, LH_BLOCKING);
	unlock(1);
	/* A second pass must not need the graph: it would deadlock here, and
	 * the test case's timeout would fail the test. */
	lh_graph_lock();
	lock(1, LH_BLOCKING);
	lh_graph_unlock();
	unlock(1);
	unlock(0);
}
END_TEST

START_TEST(test_acquire_trylock_adds_no_edge_into_it)
{
	size_t before = lh_graph_edge_count();

	lock(0, LH_BLOCKING);
	lock(1, LH_TRY);
	ck_assert_uint_eq(lh_graph_edge_count(), before);
	lock(2, LH_BLOCKING); /* but edges start from the tried lock */
	ck_assert_uint_eq(lh_graph_edge_count(), before + 2);
	unlock(2);
	unlock(1);
	unlock(0);
}
END_TEST

START_TEST(test_acquire_inversion_reports_once)
{
	lock(0, LH_BLOCKING);
	lock(1, LH_BLOCKING);
	unlock(1);
	unlock(0);
	lock(1, LH_BLOCKING);
	lock(0, LH_BLOCKING);
	unlock(0);
	unlock(1);
	lock(1, LH_BLOCKING);
	lock(0, LH_BLOCKING);
	unlock(0);
	unlock(1);
	ck_assert_int_eq(ncycles, 1);
}
END_TEST

START_TEST(test_acquire_recursive_reentry_is_counted)
{
	pthread_mutexattr_t attr;
	size_t before = lh_graph_edge_count();

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&mus[5], &attr);
	lh_on_init(&mus[5], LH_TYPE_MUTEX, lh_mutex_kind_of(&mus[5]), 0);
	lock(5, LH_BLOCKING);
	lock(5, LH_BLOCKING);
	lock(5, LH_TRY);
	ck_assert_uint_eq(t->nheld, 1);
	ck_assert_uint_eq(t->held[0].count, 3);
	ck_assert_uint_eq(lh_graph_edge_count(), before); /* no self edge */
	unlock(5);
	unlock(5);
	ck_assert_uint_eq(t->nheld, 1);
	unlock(5);
	ck_assert_uint_eq(t->nheld, 0);
}
END_TEST

START_TEST(test_acquire_holds_hundreds)
{
	for (int i = 0; i < N; i++)
		lock(i, LH_BLOCKING);
	ck_assert_uint_eq(t->nheld, N);
	ck_assert_uint_ge(t->held_cap, N);
	for (int i = N - 1; i >= 0; i--)
		unlock(i);
	ck_assert_uint_eq(t->nheld, 0);
	ck_assert_int_eq(ncycles, 0);
}
END_TEST

START_TEST(test_acquire_reinit_is_a_new_lock)
{
	struct lh_lock *before, *after;
	uint64_t id;

	lock(0, LH_BLOCKING);
	lock(1, LH_BLOCKING);
	unlock(1);
	unlock(0);
	before = lh_locktab_find(&mus[1]);
	id = before->id;
	lh_on_destroy(&mus[1]);
	lh_on_init(&mus[1], LH_TYPE_MUTEX, 0, 0);
	after = lh_locktab_find(&mus[1]);
	ck_assert_uint_ne(after->id, id);
	lock(1, LH_BLOCKING);
	lock(0, LH_BLOCKING); /* not an inversion: a different lock 1 */
	unlock(0);
	unlock(1);
	ck_assert_int_eq(ncycles, 0);
}
END_TEST

/* Takes lock a, then lock b inside it, and lets both go. */
static void
nest(int a, int b)
{
	lock(a, LH_BLOCKING);
	lock(b, LH_BLOCKING);
	unlock(b);
	unlock(a);
}

START_TEST(test_acquire_destroyed_locks_leave_the_chain_set)
{
	size_t before;

	/* A lock made, taken under lock 0 and destroyed, 20,000 times: each
	 * is a new chain, and the chain set keeps about as many keys as
	 * there are live chains, not one a lock ever made. */
	nest(0, 1);
	before = lh_chainset_count();
	for (int r = 0; r < 20000; r++) {
		lh_on_init(&mus[2], LH_TYPE_MUTEX, 0, 0);
		nest(0, 2);
		lh_on_destroy(&mus[2]);
	}
	ck_assert_uint_lt(lh_chainset_count(), before + 10000);
	ck_assert_int_eq(ncycles, 0);
	/* The live order is still known: its inversion is reported. */
	nest(1, 0);
	ck_assert_int_eq(ncycles, 1);
}
END_TEST

START_TEST(test_acquire_stack_of_held_lock_is_recovered)
{
	lock(0, LH_BLOCKING);
	lock(7, LH_BLOCKING);
	/* The slow path recovered the stack of lock 0 from the live frame. */
	ck_assert_uint_ne(t->held[0].stack, 0);
	{
		int n;
		unsigned flags;
		const uintptr_t *pcs = lh_stack_get(t->held[0].stack, &n, &flags);

		ck_assert_int_gt(n, 1);
		ck_assert_uint_eq(flags & LH_STACK_PARTIAL, 0);
		ck_assert_uint_eq(pcs[0], t->held[0].pc);
	}
	unlock(7);
	unlock(0);
}
END_TEST

/* lh_took(), the path of a lock taken at once, from one fixed call site;
 * the thread is not busy, as in a wrapper. */
#define TOOK_PC ((uintptr_t)0x5000)

static void
took(int i, uint64_t htm)
{
	lh_leave(t);
	ck_assert_int_eq(lh_took(&mus[i], TOOK_PC, (uintptr_t)__builtin_dwarf_cfa(), htm), 0);
	t = lh_enter();
}

static const struct lh_stat_slot *
slot_of(int i)
{
	return &t->stats[lh_stat_index((uintptr_t)&mus[i], TOOK_PC)];
}

static void
assert_top(int i, enum lh_how how, enum lh_mode mode)
{
	const struct lh_held *h = &t->held[t->nheld - 1];
	struct lh_lock *lk = lh_locktab_find(&mus[i]);

	ck_assert_ptr_eq(h->lock, lk);
	ck_assert_uint_eq(h->id, lk->id);
	ck_assert_uint_eq(h->addr, (uintptr_t)&mus[i]);
	ck_assert_uint_eq(h->pc, TOOK_PC);
	ck_assert_uint_ne(h->cfa, 0);
	ck_assert_uint_eq(h->count, 1);
	ck_assert_uint_eq(h->mode, mode);
	ck_assert_uint_eq(h->how, how);
	ck_assert_uint_le(h->since_ms, atomic_load(&lh_tick_ms));
}

START_TEST(test_took_second_time_from_the_slot)
{
	/* The first call claims the statistics slot; the second and third find
	 * the lock there, and must leave the same entry the general path does. */
	for (int k = 0; k < 3; k++) {
		took(3, LH_TOOK(LH_TRY, LH_TYPE_MUTEX, LH_MODE_READ));
		ck_assert_uint_eq(t->nheld, 1);
		assert_top(3, LH_TRY, LH_MODE_READ);
		ck_assert_uint_eq(slot_of(3)->addr, (uintptr_t)&mus[3]);
		ck_assert_uint_eq(slot_of(3)->acq, 2 * (uint64_t)k + 1);
		unlock(3);
		took(3, LH_TOOK(LH_BLOCKING, LH_TYPE_MUTEX, LH_MODE_WRITE));
		assert_top(3, LH_BLOCKING, LH_MODE_WRITE);
		unlock(3);
	}
	ck_assert_uint_eq(t->nheld, 0);
}
END_TEST

START_TEST(test_took_nested_known_chain)
{
	uint64_t want;

	for (int k = 0; k < 3; k++) {
		took(4, LH_TOOK(LH_BLOCKING, LH_TYPE_MUTEX, LH_MODE_WRITE));
		/* The outermost entry's chain field is stale by design: its key
		 * is made from the lock when the second comes. */
		t->held[0].chain = 0xdead;
		took(5, LH_TOOK(LH_BLOCKING, LH_TYPE_MUTEX, LH_MODE_WRITE));
		ck_assert_uint_eq(t->nheld, 2);
		assert_top(5, LH_BLOCKING, LH_MODE_WRITE);
		if (k > 0) /* taken in a known order: no stack captured */
			ck_assert_uint_eq(t->held[1].stack, 0);
		want = lh_chain_mix(lh_chain_mix(0, t->held[0].lock->salt, LH_MODE_WRITE),
				    t->held[1].lock->salt, LH_MODE_WRITE);
		ck_assert_uint_eq(t->held[1].chain, want);
		ck_assert(lh_chain_cached(t, want));
		unlock(5);
		unlock(4);
	}
	/* The other order, also taken at once: an inversion, found. */
	took(5, LH_TOOK(LH_BLOCKING, LH_TYPE_MUTEX, LH_MODE_WRITE));
	took(4, LH_TOOK(LH_BLOCKING, LH_TYPE_MUTEX, LH_MODE_WRITE));
	unlock(4);
	unlock(5);
	ck_assert_int_eq(ncycles, 1);
}
END_TEST

START_TEST(test_took_chain_known_only_to_the_set)
{
	uint64_t want;

	/* Validated once, then gone from the thread's cache (a chain with the
	 * same cache index, or another thread's first time): the fast path
	 * finds it in the global chain set, caches it again and leaves the
	 * entry the general path leaves. */
	took(4, LH_TOOK(LH_BLOCKING, LH_TYPE_MUTEX, LH_MODE_WRITE));
	took(5, LH_TOOK(LH_BLOCKING, LH_TYPE_MUTEX, LH_MODE_WRITE));
	want = t->held[1].chain;
	unlock(5);
	unlock(4);
	ck_assert(lh_chainset_contains(want));
	for (int k = 0; k < 3; k++) {
		t->chain_cache[want & (LH_CHAIN_CACHE - 1)] = 0;
		took(4, LH_TOOK(LH_BLOCKING, LH_TYPE_MUTEX, LH_MODE_WRITE));
		took(5, LH_TOOK(LH_BLOCKING, LH_TYPE_MUTEX, LH_MODE_WRITE));
		ck_assert_uint_eq(t->nheld, 2);
		assert_top(5, LH_BLOCKING, LH_MODE_WRITE);
		ck_assert_uint_eq(t->held[1].chain, want);
		ck_assert_uint_eq(t->held[1].stack, 0);
		ck_assert(lh_chain_cached(t, want));
		unlock(5);
		unlock(4);
	}
	ck_assert_int_eq(ncycles, 0);
}
END_TEST

START_TEST(test_took_lock_made_again_at_the_same_address)
{
	uint64_t old;

	took(6, LH_TOOK(LH_BLOCKING, LH_TYPE_MUTEX, LH_MODE_WRITE));
	unlock(6);
	took(6, LH_TOOK(LH_BLOCKING, LH_TYPE_MUTEX, LH_MODE_WRITE));
	unlock(6);
	old = t->held[0].id;
	/* The slot still names the old node: the new lock must not be
	 * counted or held under the old identity. */
	lh_on_destroy(&mus[6]);
	lh_on_init(&mus[6], LH_TYPE_MUTEX, 0, 0);
	took(6, LH_TOOK(LH_BLOCKING, LH_TYPE_MUTEX, LH_MODE_WRITE));
	assert_top(6, LH_BLOCKING, LH_MODE_WRITE);
	ck_assert_uint_ne(t->held[0].id, old);
	ck_assert_uint_eq(slot_of(6)->id, t->held[0].id);
	ck_assert_uint_eq(slot_of(6)->acq, 1);
	unlock(6);
}
END_TEST

START_TEST(test_took_lock_destroyed_and_used_again)
{
	uint64_t old;

	/* Destroyed and then used again without an init (a static
	 * initializer): the slot names a free node, whose id is now 0. */
	took(7, LH_TOOK(LH_BLOCKING, LH_TYPE_MUTEX, LH_MODE_WRITE));
	unlock(7);
	old = t->held[0].id;
	lh_on_destroy(&mus[7]);
	ck_assert_uint_eq(slot_of(7)->id, old);
	ck_assert_uint_eq(slot_of(7)->lock->id, 0);
	took(7, LH_TOOK(LH_BLOCKING, LH_TYPE_MUTEX, LH_MODE_WRITE));
	assert_top(7, LH_BLOCKING, LH_MODE_WRITE);
	ck_assert_uint_ne(t->held[0].id, old);
	ck_assert_uint_eq(slot_of(7)->id, t->held[0].id);
	unlock(7);
}
END_TEST

START_TEST(test_took_with_stats_hold)
{
	enum lh_stats_mode saved = lh_opt.stats;

	/* Every acquisition reads the clock, so none may take the fast path:
	 * the slot's key never matches the address there, and every release
	 * goes the general way (the node's hint), which counts the hold. */
	lh_opt.stats = LH_STATS_HOLD;
	for (int k = 0; k < 3; k++) {
		took(10, LH_TOOK(LH_BLOCKING, LH_TYPE_MUTEX, LH_MODE_WRITE));
		assert_top(10, LH_BLOCKING, LH_MODE_WRITE);
		ck_assert_uint_ne(t->held[0].since_ns, 0);
		t->held[0].since_ns = 1; /* a stale value the fast path would keep */
		ck_assert_uint_ne(slot_of(10)->addr, (uintptr_t)&mus[10]);
		ck_assert_uint_eq(atomic_load(&t->held[0].lock->wait_hint), LH_HINT_HOLD);
		lh_on_unlock(t, &mus[10], LH_TYPE_MUTEX, TOOK_PC, 0);
		ck_assert_uint_eq(slot_of(10)->acq, (uint64_t)k + 1);
		ck_assert_uint_eq(slot_of(10)->holds, (uint64_t)k + 1);
	}
	lh_opt.stats = saved;
}
END_TEST

START_TEST(test_took_with_stats_off)
{
	enum lh_stats_mode saved = lh_opt.stats;

	lh_opt.stats = LH_STATS_OFF;
	for (int k = 0; k < 2; k++) {
		took(8, LH_TOOK(LH_BLOCKING, LH_TYPE_MUTEX, LH_MODE_WRITE));
		took(9, LH_TOOK(LH_BLOCKING, LH_TYPE_MUTEX, LH_MODE_WRITE));
		assert_top(9, LH_BLOCKING, LH_MODE_WRITE);
		/* The slot is the lock cache even when nothing is counted. */
		ck_assert_uint_eq(slot_of(9)->addr, (uintptr_t)&mus[9]);
		unlock(9);
		unlock(8);
	}
	lh_opt.stats = saved;
	ck_assert_uint_eq(t->nheld, 0);
}
END_TEST

static Suite *
acquire_suite(void)
{
	Suite *s = suite_create("acquire");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_acquire_pushes_and_pops);
	tcase_add_test(tc, test_acquire_out_of_order_unlock_rekeys);
	tcase_add_test(tc, test_acquire_makes_edge_from_every_held_lock);
	tcase_add_test(tc, test_acquire_known_chain_skips_graph);
	tcase_add_test(tc, test_acquire_trylock_adds_no_edge_into_it);
	tcase_add_test(tc, test_acquire_inversion_reports_once);
	tcase_add_test(tc, test_acquire_recursive_reentry_is_counted);
	tcase_add_test(tc, test_acquire_holds_hundreds);
	tcase_add_test(tc, test_acquire_reinit_is_a_new_lock);
	tcase_add_test(tc, test_acquire_destroyed_locks_leave_the_chain_set);
	tcase_add_test(tc, test_acquire_stack_of_held_lock_is_recovered);
	tcase_add_test(tc, test_took_second_time_from_the_slot);
	tcase_add_test(tc, test_took_nested_known_chain);
	tcase_add_test(tc, test_took_chain_known_only_to_the_set);
	tcase_add_test(tc, test_took_lock_made_again_at_the_same_address);
	tcase_add_test(tc, test_took_lock_destroyed_and_used_again);
	tcase_add_test(tc, test_took_with_stats_hold);
	tcase_add_test(tc, test_took_with_stats_off);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(acquire_suite)
