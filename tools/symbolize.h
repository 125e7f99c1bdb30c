/*
 * Symbolization with elfutils' libdwfl: addresses of a process, running or
 * long gone, to functions, source lines, inlined calls and variable names.
 *
 * A symbolizer describes one address space. Make it either
 *   - offline, from a module table (a log header's: path, build-id, load
 *     bias), with sym_open_modules() and later sym_add_modules(); or
 *   - live, from a running process with sym_open_pid() (its /proc/PID/maps;
 *     `lockhound attach` uses this, with no ptrace needed for symbols).
 * Both answer the same lookups: sym_code() for a code address (a return
 * address is looked up at addr - 1, so that the line is the call's, not the
 * next statement's) and sym_data() for a data address (a static lock's
 * variable, down to the member: "bob.lock").
 *
 * Offline, each module's file is opened at its recorded path and its GNU
 * build-id compared with the recorded one; on a mismatch the separate debug
 * file /usr/lib/debug/.build-id/xx/yyyy.debug is tried, and if that does not
 * match either the module is not used: its frames say "build-id mismatch"
 * instead of naming the wrong function. Missing files are said the same way.
 * Debug information comes from the file itself or, through
 * dwfl_standard_find_debuginfo, from /usr/lib/debug (.gnu_debuglink or
 * build-id). No network: debuginfod is not consulted.
 *
 * Every string a lookup returns belongs to the symbolizer and lives until
 * sym_free(). A symbolizer is not thread-safe.
 */
#ifndef LOCKHOUND_SYMBOLIZE_H
#define LOCKHOUND_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct symbolizer;

/* One module of an offline address space. */
struct sym_module {
	const char *path;
	const char *build_id; /* hex; NULL or "" when unknown (not checked) */
	uint64_t base;	      /* load bias: file address = address - base */
	uint64_t start, end;  /* mapped range, 0 if unknown */
};

enum sym_status {
	SYM_OK,		  /* found in a module; fields below as far as known */
	SYM_NO_MODULE,	  /* the address is in no module */
	SYM_MISSING,	  /* the module's file could not be opened */
	SYM_MISMATCH,	  /* the file on disk is another build than the process's */
	SYM_UNREADABLE,	  /* the file is not an ELF file libdwfl can use */
};

#define SYM_INLINE_MAX 16

/* A source position within one function. */
struct sym_line {
	const char *function; /* NULL if unknown */
	const char *file;     /* full path as recorded in DWARF, NULL if unknown */
	int line, column;     /* 0 if unknown */
};

struct sym_frame {
	enum sym_status status;
	uint64_t addr;		/* the address looked up (pc - 1 for a return address) */
	const char *module;	/* the module's path, NULL with SYM_NO_MODULE */
	uint64_t module_offset; /* file address of addr in the module */
	const char *symbol;	/* ELF symbol containing addr, NULL if none */
	uint64_t symbol_offset;
	/*
	 * The calls at addr, innermost first: inl[0] is the function whose code
	 * is at addr (perhaps inlined), inl[ninl - 1] the function that was
	 * really called; inl[i + 1].line is where inl[i] was inlined into it.
	 * ninl is 0 without debug information.
	 */
	struct sym_line inl[SYM_INLINE_MAX];
	int ninl;
};

struct sym_data {
	enum sym_status status;
	const char *module;
	const char *symbol;	/* the ELF symbol containing addr, NULL if none */
	uint64_t symbol_offset;
	const char *name;	/* from DWARF: "bob.lock", "locks[3]"; NULL if unknown */
	const char *decl_file;	/* where the variable is declared, NULL if unknown */
	int decl_line;
};

/* Makes an offline symbolizer; never NULL except when out of memory. */
struct symbolizer *sym_open_modules(const struct sym_module *mods, size_t n);

/* Adds modules loaded later (a log's "modules" records). */
void sym_add_modules(struct symbolizer *s, const struct sym_module *mods, size_t n);

/* Makes a symbolizer for the running process pid; NULL with a reason in err. */
struct symbolizer *sym_open_pid(pid_t pid, char *err, size_t errsz);

void sym_free(struct symbolizer *s);

/* Looks up a code address; return_address: addr is a return address. */
void sym_code(struct symbolizer *s, uint64_t addr, bool return_address, struct sym_frame *out);

/* Looks up a data address (a lock's address). */
void sym_data(struct symbolizer *s, uint64_t addr, struct sym_data *out);

/*
 * Problems with modules met so far, one sentence each ("/usr/bin/x: the file
 * is another build (build-id 12.. on disk, 34.. in the log)"), for the
 * caller to say once. Returns how many; *out points into the symbolizer.
 */
size_t sym_problems(struct symbolizer *s, const char *const **out);

/*
 * The libdwfl session behind s, for callers that need more than lookups on
 * the same modules: `lockhound attach` unwinds the threads of the process it
 * symbolizes with dwfl_linux_proc_attach() and dwfl_getthread_frames() on
 * sym_open_pid()'s Dwfl, then names their frames with sym_code(). The Dwfl
 * stays owned by s.
 */
struct Dwfl;
struct Dwfl *sym_dwfl(struct symbolizer *s);

/*
 * Every pthread_mutex_t (C11 mtx_t too) and pthread_rwlock_t stored in a
 * variable, inside arrays and structures as well: fn is called with its
 * address (at most max times). Modules for which skip(path) is true are
 * not read. `lockhound attach` reads their owner fields, so that a static
 * lock shows as held even when nobody waits for it. The first call for a
 * module walks its DWARF, as sym_data's first lookup does. Returns how many
 * were found.
 */
enum sym_lock_kind { SYM_LOCK_MUTEX, SYM_LOCK_RWLOCK };

size_t sym_static_locks(struct symbolizer *s, bool (*skip)(const char *path),
			void (*fn)(void *arg, uint64_t addr, enum sym_lock_kind kind), void *arg,
			size_t max);

/* A short text for a status ("build-id mismatch", ...). */
const char *sym_status_text(enum sym_status st);

#endif
