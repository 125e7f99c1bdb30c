/*
 * The contention profile of logs: the `contention` records of every process
 * (lockhound-report(5)) as rows, one per lock and one per class of locks,
 * with their numbers added up across processes and their call sites
 * symbolized, sorted and printed as a table, JSON or CSV. Used by
 * `lockhound stats` (stats.c) and by explain for contention records.
 *
 * Rows:
 *   - a lock row per lock, matched across processes as replay matches locks
 *     (ordergraph.h): by annotation, by variable (module and symbol), by
 *     module offset; a lock with none of these (a heap lock) is a row of its
 *     process only;
 *   - a class row per init call (module and offset of the call that made
 *     the locks), matched across processes: its live locks' records plus
 *     the runtime's class record (its destroyed locks). A class is shown
 *     only when it is more than one lock row, or has destroyed locks:
 *     otherwise it is its one lock's row again.
 * A process may write a lock's record more than once (at each dump and at
 * exit); they are totals since it started, so the last one counts.
 *
 * Call sites are each record's top five; merged rows add up the sites they
 * share, so a merged row's sites are the top of each process, not an exact
 * top five of the whole.
 */
#ifndef LOCKHOUND_CONTENTION_H
#define LOCKHOUND_CONTENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "finding.h"
#include "logread.h"

enum csite_role { CSITE_ACQUIRE, CSITE_WAIT, CSITE_HOLDER, CSITE_ROLES };

/* A call site of a row: where the lock is taken (acquire), where threads
 * waited for it (wait), or where holders released it to a waiter (holder). */
struct csite {
	char *key;             /* module path and offset: the same site in every run */
	struct logproc *proc;  /* where it was first seen, to symbolize it */
	struct logframe frame; /* the call's return address */
	uint64_t count;        /* acquisitions, waits, or waits ended */
	uint64_t wait_ns;      /* wait: time waited here; holder: wait it ended */
	struct fstack where;   /* symbolized (cprofile_finish) */
};

enum crow_scope { CROW_LOCK, CROW_CLASS };

/* A row: a lock (matched across processes), or a class of locks. */
struct crow {
	enum crow_scope scope;
	/* Identity: "S:/bin/x:hot_lock+0", "C:/bin/x+0x11c0", ... */
	char *key;
	/* For people: "bob.lock", "mutexes made at bank.c:40 in account_new". */
	char *name;
	char *record_name;          /* the runtime's name for it, from the record */
	char *cls_key;              /* lock: the key of its class, NULL if none */
	struct logproc *proc;       /* the first process seen */
	const struct loglock *lock; /* its lock record there (class: one), or NULL */
	size_t nprocs;              /* processes with records of it */
	struct logproc *last_proc;
	uint64_t last_pid;
	uint64_t locks;     /* class: locks in it, live and destroyed */
	uint64_t destroyed; /* class: of which destroyed */
	size_t members;     /* class: lock rows in it */
	uint64_t acquisitions, contended, wait_ns, wait_max_ns;
	bool has_hold;          /* hold times were measured (stats=hold) */
	bool hold_partial;      /* ... but not by every process of the row */
	size_t nrec, nrec_hold; /* records added up, of which with hold times */
	uint64_t holds, hold_ns, hold_max_ns;
	uint64_t sites; /* call sites that take or release it (at least) */
	struct csite *site[CSITE_ROLES];
	size_t nsite[CSITE_ROLES];
};

enum csort { CSORT_WAIT, CSORT_HOLD, CSORT_CONTENDED, CSORT_ACQUISITIONS };

struct cproc {
	struct logproc *proc;
	uint64_t pid; /* a forked child shares its parent's log and header */
};

struct cprofile {
	struct crow *locks; /* lock rows */
	size_t nlocks;
	/* Class rows; after cprofile_finish, only those worth showing. */
	struct crow *classes;
	size_t nclasses;
	struct cproc *procs; /* processes with contention records */
	size_t nprocs;
	size_t nrecords; /* records counted (the last of each lock) */
	bool any_hold;   /* some row has hold times */
	void *index;     /* key -> row */
	size_t caplocks, capclasses, capprocs;
};

void cprofile_init(struct cprofile *cp);
void cprofile_free(struct cprofile *cp);

/*
 * Adds the contention records of every process of the logs. Returns false
 * with the offending file, line and a reason on a malformed record (an
 * input error); a record of a scope this version does not know is skipped.
 */
bool cprofile_add_logs(struct cprofile *cp, struct logfile *const *logs, size_t n,
                       const char **file, unsigned *line, char *why, size_t whysz);

/* Adds one contention record of process p (explain); false on a malformed
 * record. */
bool cprofile_add_record(struct cprofile *cp, struct logproc *p,
                         const struct logrecord *r, char *why, size_t whysz);

/* After adding: drops the classes not worth a row, names and symbolizes
 * every row and site, and sorts rows (and each row's sites, worst first). */
void cprofile_finish(struct cprofile *cp, enum csort sort);

/* Sorts the rows again (cprofile_finish sorts too). */
void cprofile_sort(struct cprofile *cp, enum csort sort);

const char *csort_name(enum csort s);
bool csort_parse(const char *s, enum csort *out);

/* "0", "850 ns", "12.5 us", "330.8 ms", "2.03 s", "125 s". Writes into buf. */
const char *cformat_ns(uint64_t ns, char *buf, size_t bufsz);

/* "contention.c:25 in fight" for a site; caller frees. */
char *csite_where(const struct csite *s);

/*
 * Output. top: at most that many rows of each table (0: all). The text
 * says which rows are locks and which classes; JSON has "locks" and
 * "classes"; CSV has one row per line with a "scope" column.
 */
void cprofile_print_text(FILE *out, const struct cprofile *cp, enum csort sort,
                         size_t top);
void cprofile_print_json(FILE *out, const struct cprofile *cp, enum csort sort,
                         size_t top);
void cprofile_print_csv(FILE *out, const struct cprofile *cp, size_t top);

#endif
