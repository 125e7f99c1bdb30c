/*
 * The lock-order graph of one or many logs, for replay and graph.
 *
 * Locks of different runs and processes are matched by a stable identity,
 * never by address:
 *   N:NAME                  an annotated lock (lh_lock_name)
 *   S:MODULE:SYMBOL+OFF     a lock in a module's data, by its variable
 *   C:MODULE+OFFSET#K       a lock made by an init call, by its class (the
 *                           module and offset of its init call site) and K,
 *                           its rank among the locks of that class the
 *                           process described (by lock id: creation order)
 *   A:MODULE+OFFSET         a lock in a module's data, without a symbol
 *   P:LOG#PROC:PID:ID       a lock with none of these: that process only
 * MODULE is the module's path. So two dynamic locks of one class stay two
 * locks (an order between them is an edge, as at run time), and the K-th
 * lock made at a line in one run meets the K-th made there in another.
 *
 * The orders go, in log order, into the runtime's own graph (lib/graph.c),
 * so that replay decides cycles by exactly the runtime's rules: trylocks
 * made no order (none is logged), gate locks excuse a cycle (an order's
 * gates, mapped to identities and intersected over every run that made it),
 * and lockdep's read rule uses each order's modes. Each cycle is found once,
 * when the order that closes it arrives; at most OG_MAX_CYCLES are kept.
 */
#ifndef LOCKHOUND_ORDERGRAPH_H
#define LOCKHOUND_ORDERGRAPH_H

#include "../lib/lockhound-private.h"
#include "logread.h"

#define OG_MAX_CYCLES 1000
#define OG_MAX_ORIGINS 8 /* origins kept per order (all are counted) */

struct og_lock {
	char *key;
	struct logproc *proc;	     /* where it was first seen */
	const struct loglock *first; /* its record there */
	size_t nprocs;		     /* processes that used it */
	struct logproc *last_proc;
	struct lh_lock lk; /* its node in lib/graph.c; lk.id = index + 1 */
	bool in_cycle;
};

struct og_origin {
	struct logproc *proc;
	const struct logorder *o;
};

struct og_edge {
	size_t from, to; /* og_lock indexes */
	struct og_origin origins[OG_MAX_ORIGINS];
	size_t norigins; /* kept */
	size_t nseen;	 /* all */
	bool in_cycle;
};

struct og_cycle {
	size_t *edges; /* og_edge indexes; edges[0] closed the cycle */
	size_t n;
	bool truncated;
	bool across; /* no single process made all its orders */
};

struct ordergraph {
	struct og_lock *locks;
	size_t nlocks, caplocks;
	struct og_edge *edges;
	size_t nedges, capedges;
	struct og_cycle *cycles;
	size_t ncycles;
	bool capped; /* more cycles than OG_MAX_CYCLES */
	size_t nprocs;
	void *index; /* key -> lock, (from, to) -> edge */
};

/* Builds the graph of every lock-order record of the logs. NULL only when
 * out of memory. */
struct ordergraph *og_build(struct logfile *const *logs, size_t n);

/* The lock's name for people; for a lock of a class, by its rank
 * ("mutex #2 made at bank.c:40 in account_new"), the same in every run.
 * Caller frees. */
char *og_lock_name(const struct ordergraph *g, size_t i);
void og_free(struct ordergraph *g);

#endif
