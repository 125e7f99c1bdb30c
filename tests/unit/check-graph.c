/*
 * Unit tests for lib/graph.c: cycle detection in the lock-order graph, the
 * gate-lock and read-lock rules, retirement, and a randomized test checked
 * against a brute-force reachability model.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check-main.h"
#include "lockhound-private.h"

#define NLOCKS 512

static struct lh_lock locks[NLOCKS];
static int ncycles;
static struct lh_cycle last;
static int nnew;

static void
on_cycle(const struct lh_cycle *c, void *arg)
{
	(void)arg;
	ncycles++;
	last = *c;
}

static void
on_new_edge(struct lh_edge *e, void *arg)
{
	(void)arg;
	(void)e;
	nnew++;
}

static void
setup(void)
{
	static const struct lh_graph_ops ops = {on_new_edge, on_cycle, NULL};

	memset(locks, 0, sizeof(locks));
	for (int i = 0; i < NLOCKS; i++) {
		locks[i].id = (uint64_t)i + 1000;
		atomic_store(&locks[i].addr, (uintptr_t)&locks[i]);
		locks[i].type = LH_TYPE_MUTEX;
	}
	lh_graph_init(&ops);
	ncycles = 0;
	nnew = 0;
}

static struct lh_gnode *
node(int i)
{
	return lh_graph_node(&locks[i]);
}

/* Adds i->j with the given gates (lock indexes, -1 terminated) and modes. */
static struct lh_edge *
edge_full(int i, int j, const int *gates, unsigned from_mode, unsigned to_mode)
{
	uint64_t g[LH_GATE_MAX];
	struct lh_edge_info info;
	struct lh_edge *e;
	bool is_new;
	int n = 0;

	memset(&info, 0, sizeof(info));
	while (gates && gates[n] >= 0 && n < LH_GATE_MAX) {
		g[n] = locks[gates[n]].id;
		n++;
	}
	info.gates = g;
	info.ngates = n;
	info.from_mode = from_mode;
	info.to_mode = to_mode;
	lh_graph_lock();
	e = lh_graph_add_edge(node(i), node(j), &info, &is_new);
	lh_graph_unlock();
	return e;
}

static struct lh_edge *
edge(int i, int j)
{
	return edge_full(i, j, NULL, LH_MODE_WRITE, LH_MODE_WRITE);
}

START_TEST(test_graph_reports_two_lock_cycle)
{
	edge(0, 1);
	ck_assert_int_eq(ncycles, 0);
	edge(1, 0);
	ck_assert_int_eq(ncycles, 1);
	ck_assert_int_eq(last.n, 2);
	ck_assert_ptr_eq(last.edges[0]->from, node(1));
	ck_assert_ptr_eq(last.edges[1]->from, node(0));
	ck_assert_ptr_eq(last.edges[1]->to, node(1));
}
END_TEST

START_TEST(test_graph_reports_each_cycle_once)
{
	edge(0, 1);
	edge(1, 0);
	edge(1, 0);
	edge(0, 1);
	ck_assert_int_eq(ncycles, 1);
	ck_assert_int_eq(nnew, 2);
	ck_assert_uint_eq(lh_graph_edge_count(), 2);
}
END_TEST

START_TEST(test_graph_finds_cycle_of_five)
{
	for (int i = 0; i < 4; i++)
		edge(i, i + 1);
	ck_assert_int_eq(ncycles, 0);
	edge(4, 0);
	ck_assert_int_eq(ncycles, 1);
	ck_assert_int_eq(last.n, 5);
	for (int i = 0; i < 5; i++)
		ck_assert_ptr_eq(last.edges[i]->to, last.edges[(i + 1) % 5]->from);
}
END_TEST

START_TEST(test_graph_reports_shortest_cycle)
{
	/* 0->1->2->3 and 0->3; closing 3->0 gives the cycle 3->0 via 0->3. */
	edge(0, 1);
	edge(1, 2);
	edge(2, 3);
	edge(0, 3);
	edge(3, 0);
	ck_assert_int_eq(ncycles, 1);
	ck_assert_int_eq(last.n, 2);
}
END_TEST

START_TEST(test_graph_keeps_order_after_reordering)
{
	/* Edges against the creation order force reorders, never a cycle. */
	for (int i = 0; i < 5; i++)
		node(i);
	edge(4, 3);
	edge(3, 2);
	edge(2, 1);
	edge(1, 0);
	edge(4, 0);
	ck_assert_int_eq(ncycles, 0);
	ck_assert(lh_graph_check_order());
	edge(0, 4);
	ck_assert_int_eq(ncycles, 1);
}
END_TEST

START_TEST(test_graph_gated_cycle_is_silent)
{
	int g[] = {9, -1};

	edge_full(0, 1, g, 0, 0);
	edge_full(1, 0, g, 0, 0);
	ck_assert_int_eq(ncycles, 0);
	ck_assert_uint_eq(lh_graph_pending_count(), 1);
}
END_TEST

START_TEST(test_graph_different_gates_do_not_gate)
{
	int g1[] = {9, -1}, g2[] = {8, -1};

	edge_full(0, 1, g1, 0, 0);
	edge_full(1, 0, g2, 0, 0);
	ck_assert_int_eq(ncycles, 1);
}
END_TEST

START_TEST(test_graph_gate_leak_on_back_edge_reports)
{
	int g[] = {9, -1};

	edge_full(0, 1, g, 0, 0);
	edge_full(1, 0, g, 0, 0);
	ck_assert_int_eq(ncycles, 0);
	edge(1, 0); /* the closing order, now without the gate */
	ck_assert_int_eq(ncycles, 1);
	ck_assert_uint_eq(lh_graph_pending_count(), 0);
}
END_TEST

START_TEST(test_graph_gate_leak_on_order_edge_reports)
{
	int g[] = {9, -1};

	edge_full(0, 1, g, 0, 0);
	edge_full(1, 2, g, 0, 0);
	edge_full(2, 0, g, 0, 0);
	ck_assert_int_eq(ncycles, 0);
	edge(1, 2); /* an edge inside the cycle loses its gate */
	ck_assert_int_eq(ncycles, 1);
	ck_assert_int_eq(last.n, 3);
}
END_TEST

START_TEST(test_graph_new_ungated_path_reports)
{
	int g[] = {9, -1};

	edge_full(0, 1, g, 0, 0);
	edge_full(1, 0, g, 0, 0); /* gated, pending */
	edge(0, 2);
	ck_assert_int_eq(ncycles, 0);
	edge(2, 1); /* 0->2->1->0: only 1->0 is gated */
	ck_assert_int_eq(ncycles, 1);
	ck_assert_int_eq(last.n, 3);
}
END_TEST

START_TEST(test_graph_gate_needs_all_edges)
{
	int g[] = {9, -1};

	edge_full(0, 1, g, 0, 0);
	edge(1, 2);
	edge_full(2, 0, g, 0, 0);
	ck_assert_int_eq(ncycles, 1);
}
END_TEST

START_TEST(test_graph_read_read_cycle_is_silent)
{
	/* Reader-preferring rwlocks: read acquisitions are recursive. */
	locks[0].type = locks[1].type = LH_TYPE_RWLOCK;
	edge_full(0, 1, NULL, LH_MODE_READ, LH_MODE_READ);
	edge_full(1, 0, NULL, LH_MODE_READ, LH_MODE_READ);
	ck_assert_int_eq(ncycles, 0);
}
END_TEST

START_TEST(test_graph_write_after_read_cycle_reports)
{
	/* T1 holds A for reading and writes B; T2 holds B for reading and
	 * writes A: each writer waits for the other's reader. */
	locks[0].type = locks[1].type = LH_TYPE_RWLOCK;
	edge_full(0, 1, NULL, LH_MODE_READ, LH_MODE_WRITE);
	edge_full(1, 0, NULL, LH_MODE_READ, LH_MODE_WRITE);
	ck_assert_int_eq(ncycles, 1);
}
END_TEST

START_TEST(test_graph_read_into_reader_held_is_silent)
{
	/* T1 writes A then reads B; T2 reads B then writes A: T1's read of B
	 * passes T2's read hold, so no deadlock (lockdep's -(xR)-> -(Sx)->). */
	locks[0].type = locks[1].type = LH_TYPE_RWLOCK;
	edge_full(0, 1, NULL, LH_MODE_WRITE, LH_MODE_READ);
	edge_full(1, 0, NULL, LH_MODE_READ, LH_MODE_WRITE);
	ck_assert_int_eq(ncycles, 0);
}
END_TEST

START_TEST(test_graph_nonrecursive_reads_can_deadlock)
{
	/* Writer-preferring rwlocks: a read waits behind a waiting writer. */
	locks[0].type = locks[1].type = LH_TYPE_RWLOCK;
	locks[0].kind = locks[1].kind = LH_RWLOCK_WRITER_NONRECURSIVE;
	edge_full(0, 1, NULL, LH_MODE_WRITE, LH_MODE_READ);
	edge_full(1, 0, NULL, LH_MODE_READ, LH_MODE_WRITE);
	ck_assert_int_eq(ncycles, 1);
}
END_TEST

START_TEST(test_graph_new_mode_reopens_pending)
{
	locks[0].type = locks[1].type = LH_TYPE_RWLOCK;
	edge_full(0, 1, NULL, LH_MODE_READ, LH_MODE_READ);
	edge_full(1, 0, NULL, LH_MODE_READ, LH_MODE_READ);
	ck_assert_int_eq(ncycles, 0);
	edge_full(0, 1, NULL, LH_MODE_READ, LH_MODE_WRITE);
	edge_full(1, 0, NULL, LH_MODE_READ, LH_MODE_WRITE);
	ck_assert_int_eq(ncycles, 1);
}
END_TEST

START_TEST(test_graph_retire_removes_edges)
{
	edge(0, 1);
	edge(1, 2);
	ck_assert_uint_eq(lh_graph_edge_count(), 2);
	lh_graph_lock();
	lh_graph_retire(&locks[1]);
	lh_graph_unlock();
	ck_assert_ptr_null(locks[1].gnode);
	ck_assert_uint_eq(lh_graph_edge_count(), 0);
	ck_assert_uint_eq(lh_graph_node_count(), 2);
	/* A new identity at the same place starts clean: no cycle via old 1. */
	locks[1].id = 5000;
	edge(2, 1);
	edge(1, 0);
	ck_assert_int_eq(ncycles, 0);
}
END_TEST

/* ---- randomized, against a brute-force model --------------------------- */

#define RN 40

static bool model[RN][RN]; /* order edges only, like the graph's DAG */

static bool
model_reaches(int from, int to)
{
	bool seen[RN] = {false};
	int stack[RN], top = 0;

	stack[top++] = from;
	seen[from] = true;
	while (top) {
		int v = stack[--top];

		if (v == to)
			return true;
		for (int w = 0; w < RN; w++) {
			if (model[v][w] && !seen[w]) {
				seen[w] = true;
				stack[top++] = w;
			}
		}
	}
	return false;
}

START_TEST(test_graph_random_matches_bruteforce)
{
	unsigned seed = 12345u + (unsigned)_i;
	bool exists[RN][RN] = {{false}};

	memset(model, 0, sizeof(model));
	for (int step = 0; step < 600; step++) {
		int x = rand_r(&seed) % RN, y = rand_r(&seed) % RN;
		int before = ncycles;
		bool expect_cycle;

		if (x == y || exists[x][y])
			continue;
		exists[x][y] = true;
		expect_cycle = model_reaches(y, x);
		edge(x, y);
		ck_assert_msg((ncycles > before) == expect_cycle, "step %d edge %d->%d", step, x,
			      y);
		if (!expect_cycle)
			model[x][y] = true;
		ck_assert(lh_graph_check_order());
	}
}
END_TEST

/* ---- limits -------------------------------------------------------------- */

START_TEST(test_graph_long_cycle_is_truncated)
{
	int n = 100;

	for (int i = 0; i < n - 1; i++)
		edge(i, i + 1);
	edge(n - 1, 0);
	ck_assert_int_eq(ncycles, 1);
	ck_assert(last.truncated);
	ck_assert_int_eq(last.n, LH_CYCLE_MAX);
}
END_TEST

START_TEST(test_graph_many_ascending_edges_stay_cheap)
{
	for (int i = 0; i < NLOCKS; i++)
		node(i);
	for (int i = 0; i < NLOCKS; i++)
		for (int j = i + 1; j < NLOCKS && j < i + 200; j++)
			edge(i, j);
	ck_assert_int_eq(ncycles, 0);
	ck_assert(lh_graph_check_order());
	ck_assert_uint_gt(lh_graph_edge_count(), 80000);
}
END_TEST

static Suite *
graph_suite(void)
{
	Suite *s = suite_create("graph");
	TCase *core = tcase_create("core");
	TCase *rules = tcase_create("rules");
	TCase *random = tcase_create("random");
	TCase *limits = tcase_create("limits");

	tcase_add_checked_fixture(core, setup, NULL);
	tcase_add_test(core, test_graph_reports_two_lock_cycle);
	tcase_add_test(core, test_graph_reports_each_cycle_once);
	tcase_add_test(core, test_graph_finds_cycle_of_five);
	tcase_add_test(core, test_graph_reports_shortest_cycle);
	tcase_add_test(core, test_graph_keeps_order_after_reordering);
	tcase_add_test(core, test_graph_retire_removes_edges);
	suite_add_tcase(s, core);

	tcase_add_checked_fixture(rules, setup, NULL);
	tcase_add_test(rules, test_graph_gated_cycle_is_silent);
	tcase_add_test(rules, test_graph_different_gates_do_not_gate);
	tcase_add_test(rules, test_graph_gate_leak_on_back_edge_reports);
	tcase_add_test(rules, test_graph_gate_leak_on_order_edge_reports);
	tcase_add_test(rules, test_graph_new_ungated_path_reports);
	tcase_add_test(rules, test_graph_gate_needs_all_edges);
	tcase_add_test(rules, test_graph_read_read_cycle_is_silent);
	tcase_add_test(rules, test_graph_write_after_read_cycle_reports);
	tcase_add_test(rules, test_graph_read_into_reader_held_is_silent);
	tcase_add_test(rules, test_graph_nonrecursive_reads_can_deadlock);
	tcase_add_test(rules, test_graph_new_mode_reopens_pending);
	suite_add_tcase(s, rules);

	tcase_add_checked_fixture(random, setup, NULL);
	tcase_add_loop_test(random, test_graph_random_matches_bruteforce, 0, 20);
	suite_add_tcase(s, random);

	tcase_add_checked_fixture(limits, setup, NULL);
	tcase_set_timeout(limits, 60);
	tcase_add_test(limits, test_graph_long_cycle_is_truncated);
	tcase_add_test(limits, test_graph_many_ascending_edges_stay_cheap);
	suite_add_tcase(s, limits);
	return s;
}

CHECK_MAIN(graph_suite)
