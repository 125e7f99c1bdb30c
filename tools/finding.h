/*
 * Findings, told for people: the model that explain, replay and the output
 * formats (text, JSON, SARIF) share, and the helpers that build it from
 * records: symbolized stacks, lock names, "file:line" of a stack's site.
 *
 * A finding owns everything it points to (freed by finding_free) except the
 * strings that come from a process's symbolizer, which live as long as the
 * log they were read from.
 */
#ifndef LOCKHOUND_FINDING_H
#define LOCKHOUND_FINDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "logread.h"
#include "symbolize.h"

/* One symbolized call; a frame of the log becomes several when calls were
 * inlined (the inlined ones first, each with inlined = true). */
struct fframe {
	uint64_t pc;
	const char *module; /* path, NULL if none */
	uint64_t module_offset;
	const char *function; /* NULL if unknown */
	uint64_t function_offset; /* from the ELF symbol, when function is one */
	const char *file;     /* source file (full path), NULL if unknown */
	int line, column;
	bool inlined;
	enum sym_status status;
};

struct fstack {
	char *label; /* "thread 12 took lock_a at", "lock_b was taken at" */
	struct fframe *frames;
	size_t n;
	bool partial; /* only the first frame is known */
};

enum finding_level { LEVEL_ERROR, LEVEL_WARNING, LEVEL_NOTE };

struct finding {
	const char *kind; /* the record kind */
	char *rule;	  /* SARIF rule: the kind, or "misuse/relock" */
	char *title;	  /* the headline after "lockhound: KIND: " */
	char *text;	  /* what happened, in plain words */
	char *advice;	  /* what to change */
	struct fstack *stacks;
	size_t nstacks;
	char **locks; /* names of the locks involved, as shown */
	char **stable; /* per lock: a name the runtime knows too, or NULL */
	size_t nlocks;
	char **aliases; /* every name of those locks (suppressions match any) */
	size_t naliases;
	const struct logproc *proc;
	const char *file; /* the log */
	unsigned line;	  /* the record's line in it */
	enum finding_level level;
	int primary;  /* index of the stack whose site is the main location */
	bool across;  /* replay: made of orders from more than one process */
};

/* ---- building -------------------------------------------------------- */

/* "thread 12 \"worker\"", or "thread 12" without a name. Caller frees. */
char *thread_label(uint64_t tid, const char *name);

/* printf into a new string; never NULL (exits on out of memory). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *xcalloc(size_t n, size_t size);
char *xstrdup0(const char *s);

/* The process's symbolizer, made on first use from its module table. With
 * symbolize off (--no-symbolize) NULL, and frames stay raw. */
extern bool finding_symbolize;
struct symbolizer *proc_symbolizer(struct logproc *p);
void proc_symbolizers_free(struct logfile *f);

/* Appends a stack, symbolizing frames; returns it. */
struct fstack *finding_add_stack(struct finding *f, struct logproc *p, const char *label,
				 const struct logframe *frames, size_t n);
void finding_add_lock(struct finding *f, struct logproc *p, const struct loglock *lk);
void finding_free(struct finding *f);

/*
 * Names for a lock: display gets the best name for people (an annotation,
 * the variable from DWARF as "bob.lock", the symbol as "bob+0x10", or
 * "mutex 0x55.. made at bank.c:40"); aliases (if not NULL) every other name
 * the lock is known by, for suppressions. Caller frees.
 */
char *lock_display(struct logproc *p, const struct loglock *lk);
size_t lock_aliases(struct logproc *p, const struct loglock *lk, char **out, size_t max);

/* The frame of a stack that best says where it happened: the first with a
 * source line outside lockhound's own runtime, else the first known one.
 * NULL for an empty stack. */
const struct fframe *fstack_site(const struct fstack *s);

/* "abba.c:28" / "take_b+0x12 (abba)" / "0x7f.. (libc.so.6+0x891f5)". Caller
 * frees. With func, adds " in FUNCTION" when known. */
/* fr: frame k of sf (the k-th call inlined at pc, innermost first), at pc. */
void fframe_set(struct fframe *fr, uint64_t pc, const struct sym_frame *sf, int k);
char *fframe_where(const struct fframe *fr, bool func);

/* fframe_where(site, true), plus its caller: "order2.c:19 in take (called
 * from b_then_a at order2.c:34)", so that a helper that takes locks does not
 * hide who called it. Caller frees. */
char *fstack_where(const struct fstack *s);

/* ---- printing ---------------------------------------------------------- */

/* Writes s as a JSON string (quoted, escaped). */
void fput_json_str(FILE *out, const char *s);

/* Writes text wrapped at 78 columns, every line starting with indent. */
void print_wrapped(FILE *out, const char *indent, const char *text);

/* One stack, "#N  function at file:line (module+0xoff)" per frame. */
void print_stack(FILE *out, const char *indent, const struct fstack *s);

/* The text of a finding: headline, words, advice, stacks. */
void print_finding_text(FILE *out, const struct finding *f);

/* ---- inputs and suppressions shared by the subcommands ----------------- */

struct lh_suppressions;

/* Reads every log; on an input error prints it and returns NULL (exit 2).
 * Says on stderr which logs were cut short. */
struct logfile **load_logs(char *const *paths, size_t n);
void free_logs(struct logfile **logs, size_t n);

/* Loads a rules file into s (adding); false after printing the error. */
bool load_suppressions(struct lh_suppressions *s, const char *path);

/* Whether a rule of s hides f. */
bool finding_suppressed(const struct lh_suppressions *s, const struct finding *f);

/* Writes one rule per finding (deduplicated) that would hide it. */
void write_suppressions(FILE *out, struct finding *const *fs, size_t n);

/* Says each symbolizer problem of the logs once, on stderr. */
void report_sym_problems(struct logfile **logs, size_t n);

#endif
