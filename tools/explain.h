/*
 * lockhound explain: the table of per-kind handlers.
 *
 * Each record kind that is a finding has a handler that turns one record
 * into a struct finding (finding.h): plain words, what to change, the
 * symbolized stacks. To explain a new kind, write `bool explain_KIND(...)`
 * in tools/kind-KIND.c and add one row to explain_kinds[] in explain.c.
 * A kind without a handler gets the generic one: its "message" field, and
 * every array of frames found in the record as a stack. A kind the reader
 * has never heard of is skipped with a note, never an error (newer runtimes
 * may write kinds this CLI does not know).
 */
#ifndef LOCKHOUND_EXPLAIN_H
#define LOCKHOUND_EXPLAIN_H

#include "../lib/lockhound-private.h"
#include "finding.h"

/*
 * Fills f from record r of process p. Returns false with a reason in why
 * when the record is malformed (an input error: exit 2).
 */
typedef bool (*explain_fn)(struct logproc *p, const struct logrecord *r, struct finding *f,
			   char *why, size_t whysz);

struct explain_kind {
	const char *kind;
	const char *summary; /* one line, for SARIF's rule description */
	explain_fn fn;	     /* NULL: the generic handler */
	bool finding;	     /* counts as a finding (exit 1); else informational */
	enum finding_level level;
};

extern const struct explain_kind explain_kinds[];
extern const size_t explain_nkinds;
const struct explain_kind *explain_kind_find(const char *kind);

bool explain_inversion(struct logproc *p, const struct logrecord *r, struct finding *f,
		       char *why, size_t whysz);
bool explain_misuse(struct logproc *p, const struct logrecord *r, struct finding *f,
		    char *why, size_t whysz);
bool explain_generic(struct logproc *p, const struct logrecord *r, struct finding *f,
		     char *why, size_t whysz);
bool explain_deadlock(struct logproc *p, const struct logrecord *r, struct finding *f,
		      char *why, size_t whysz);
bool explain_acquire_timeout(struct logproc *p, const struct logrecord *r, struct finding *f,
			     char *why, size_t whysz);
bool explain_contention(struct logproc *p, const struct logrecord *r, struct finding *f,
			char *why, size_t whysz);
bool explain_data_race(struct logproc *p, const struct logrecord *r, struct finding *f,
		       char *why, size_t whysz);
bool explain_attach_dump(struct logproc *p, const struct logrecord *r, struct finding *f,
			 char *why, size_t whysz);

/* Shared by inversion handlers (explain and replay): one order of a cycle. */
struct cycle_edge {
	struct logproc *proc;
	const struct loglock *from, *to;
	uint64_t tid;
	const char *thread_name;
	unsigned combos;
	const struct logframe *held, *taken; /* held_stack: where `from` was taken */
	size_t nheld, ntaken;
	bool held_partial;
	const char *origin; /* replay: "pid 4242, run1.log", else NULL */
	const char *from_name, *to_name; /* names to use instead of lock_display() */
};

/* Tells a cycle of n orders (edge i took edge[i].to while holding
 * edge[i].from; edge[0] closed the cycle) into f. */
void explain_cycle(struct finding *f, const struct cycle_edge *e, size_t n, bool truncated);

/* ---- output, shared by explain and replay ------------------------------- */

enum out_format { FMT_TEXT, FMT_JSON, FMT_SARIF };

struct out_opts {
	enum out_format format;
	const char *supp_out;	 /* --suppressions-out */
	const char *source_root; /* --source-root (SARIF) */
	struct lh_suppressions supp;
	bool all;
};

/* Parses one option shared by the reporting commands: 1 taken, 0 not one
 * of them, -1 bad (said on stderr). */
int parse_out_option(const char *cmd, const char *arg, struct out_opts *o);

/* Prints the findings as o->format says and writes --suppressions-out.
 * none: the text when there is nothing ("No findings"). Returns 0 or 2. */
int emit_findings(const char *cmd, struct out_opts *o, struct finding *const *fs, size_t n,
		  size_t nsuppressed, const char *none);

void print_findings_json(FILE *out, struct finding *const *fs, size_t n, size_t nsuppressed);

int cmd_explain(int argc, char **argv);
void usage_explain(void);

#endif
