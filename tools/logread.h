/*
 * The record layer: reads lockhound logs (lockhound-report(5)) into memory.
 *
 * A log file holds one or more processes, each starting with its own header
 * (an exec chain, or several runs appending to one file); ids of locks and
 * stacks are local to a process. Records the reader knows the shape of
 * (header, modules, lock, stack, lock-order) are checked and decoded; every
 * other record (findings, and kinds this version does not know) is kept as
 * parsed JSON for the explain handlers (explain.h).
 *
 * Damaged input is an error, with the file and line: a line that is not
 * JSON, a record without a kind, a known record with a field of the wrong
 * type, a file that does not start with a header, a newer format version,
 * a line longer than LOGREAD_MAX_LINE. A file cut short in the middle of its
 * last record (no newline, and the rest does not parse) is not an error:
 * every whole record before the cut is read and `truncated` says where.
 */
#ifndef LOCKHOUND_LOGREAD_H
#define LOCKHOUND_LOGREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"

#define LOGREAD_VERSION 1		/* the header's "lockhound" number we read */
#define LOGREAD_MAX_LINE (16u << 20)	/* bytes in one record */
#define LOGREAD_MAX_FRAMES 1024		/* frames in one stack */
#define LOGREAD_MAX_GATES 64		/* gate locks of one order */
#define LOGREAD_MAX_MODULE_INDEX 4095 /* modules of one process */

struct logmodule {
	int index;
	char *path;
	char *build_id; /* hex, "" if none */
	uint64_t base, start, end;
};

struct logframe {
	uint64_t pc;
	int module; /* module index, -1 if outside every module */
	uint64_t offset;
};

struct logstack {
	uint64_t pid, id;
	struct logframe *frames;
	size_t n;
};

struct loglock {
	uint64_t pid, id;
	uint64_t addr;
	char *type;	  /* "mutex", "rwlock", ... ("" if missing) */
	char *mutex_kind; /* NULL if missing */
	char *rwlock_kind;
	char *name;	  /* the runtime's name ("" if missing) */
	char *annotation; /* NULL if none */
	char *sym_name;	  /* variable holding it, NULL if unknown */
	uint64_t sym_offset;
	int sym_module; /* -1 if not in a module's data */
	uint64_t sym_module_offset;
	bool has_init;
	struct logframe init;
	bool placeholder; /* referred to but never described */
	unsigned line;
};

/* COMBO bits of an order's modes: bit (held shared << 1 | taken shared). */
#define LOG_COMBO(held_read, taken_read) (1u << ((held_read) << 1 | (taken_read)))

struct logorder {
	uint64_t pid, tid;
	uint64_t from, to;
	unsigned combos;
	char *thread_name;
	uint64_t held_stack_id, stack_id; /* 0 = none */
	bool held_partial;
	uint64_t *gates;
	size_t ngates;
	uint64_t count, seq;
	unsigned line;
};

/* Any other record, kept whole. */
struct logrecord {
	const char *kind;
	unsigned line;
	struct json_doc *doc;
	const struct json_value *v; /* the record object */
};

struct idmap;

struct logproc {
	struct logfile *file;
	unsigned index;	      /* among the file's processes, from 0 */
	unsigned header_line;
	uint64_t pid;
	char *exe;
	char *version;
	uint64_t time;
	struct logmodule *modules;
	size_t nmodules;
	struct loglock **locks; /* in the order described */
	size_t nlocks;
	struct logorder *orders;
	size_t norders;
	struct logrecord *records; /* findings and unknown kinds, in order */
	size_t nrecords;
	struct idmap *lockmap, *stackmap;
	void *sym; /* the process's symbolizer, made on first use */
	size_t caps[4];
};

struct logfile {
	char *path;
	struct logproc **procs;
	size_t nprocs;
	size_t nlines;	  /* whole records read */
	bool truncated;	  /* cut short in its last record */
	unsigned cut_line; /* the line that was cut */
};

struct logerror {
	unsigned line; /* 0: about the whole file */
	char why[256];
};

/*
 * Reads the log at path. Returns the log, or NULL with *err filled in (the
 * caller prints "lockhound: PATH:LINE: WHY"). Directories, devices, FIFOs
 * and missing files are errors; a FIFO is never opened for reading in a way
 * that can block.
 */
struct logfile *logfile_read(const char *path, struct logerror *err);

/* The same from memory (the fuzzer; tests). name is used in messages. */
struct logfile *logfile_read_mem(const char *name, const char *data, size_t len,
				 struct logerror *err);

void logfile_free(struct logfile *f);

/* Prints "lockhound: FILE:LINE: WHY" (or "FILE: WHY") on stderr. */
void logerror_print(const char *path, const struct logerror *err);

/* Lookups within a process; the pid is the record's (a forked child that
 * shares its parent's file and header has its own pid). NULL if unknown. */
const struct loglock *logproc_lock(const struct logproc *p, uint64_t pid, uint64_t id);
const struct logstack *logproc_stack(const struct logproc *p, uint64_t pid, uint64_t id);
const struct logmodule *logproc_module(const struct logproc *p, int index);

/* Decodes a JSON array of frames (an inline stack) into *out (malloc'd) and
 * *n; false with why on a malformed frame. */
bool logframes_decode(const struct json_value *arr, struct logframe **out, size_t *n,
		      char *why, size_t whysz);

#endif
