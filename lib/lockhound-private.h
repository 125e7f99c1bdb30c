/*
 * Internal interfaces of liblockhound. Nothing here is installed.
 *
 * The runtime is layered: intercept.c (the exported pthread wrappers) calls the
 * event functions of acquire.c, which keep the per-thread held-lock stack
 * (thread.c) and ask graph.c about new lock orders. Everything below uses the
 * internal mutex of sync.c and the arena of arena.c, never an interposed lock
 * or malloc, so the runtime cannot recurse into itself.
 */
#ifndef LOCKHOUND_PRIVATE_H
#define LOCKHOUND_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Everything declared below is internal: hidden, so that the runtime reaches
 * its own data directly rather than through the GOT. */
#pragma GCC visibility push(hidden)

#define LH_EXPORT __attribute__((visibility("default")))
#define LH_LIKELY(x) __builtin_expect(!!(x), 1)
#define LH_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define LH_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- sync.c: the runtime's own futex mutex ---------------------------- */

typedef struct {
	_Atomic int state; /* 0 free, 1 locked, 2 locked with waiters */
} lh_mutex_t;

#define LH_MUTEX_INIT {0}

void lh_mutex_lock(lh_mutex_t *mu);
bool lh_mutex_trylock(lh_mutex_t *mu);
void lh_mutex_unlock(lh_mutex_t *mu);
void lh_mutex_reset(lh_mutex_t *mu);
pid_t lh_gettid(void);
uint64_t lh_now_ns(void);

/* A thread-exit hook: a pthread key whose destructor runs fn, made once by
 * the first thread that needs it. */
struct lh_exit_key {
	void (*fn)(void *);
	pthread_key_t key;
	_Atomic int state; /* 0 none, 1 made, 2 failed, 3 being made */
};

void lh_exit_key_set(struct lh_exit_key *k, void *value);
uint64_t lh_realtime_us(void);

/* ---- arena.c: mmap-backed allocator ----------------------------------- */

void *lh_alloc(size_t size);
void lh_free(void *p, size_t size);
void *lh_realloc(void *p, size_t old_size, size_t new_size);
char *lh_strdup(const char *s);
void lh_arena_atfork_prepare(void);
void lh_arena_atfork_parent(void);
void lh_arena_atfork_child(void);
size_t lh_arena_mapped(void);

/* ---- buf.c: a growable byte buffer for records and text ---------------- */

struct lh_buf {
	char *p;
	size_t len;
	size_t cap;
	bool oom; /* an allocation failed: the content is truncated */
};

void lh_buf_init(struct lh_buf *b);
void lh_buf_release(struct lh_buf *b);
void lh_buf_reset(struct lh_buf *b);
void lh_buf_putn(struct lh_buf *b, const char *s, size_t n);
void lh_buf_puts(struct lh_buf *b, const char *s);
void lh_buf_putc(struct lh_buf *b, char c);
void lh_buf_put_u64(struct lh_buf *b, uint64_t v);
void lh_buf_put_i64(struct lh_buf *b, int64_t v);
void lh_buf_put_hex(struct lh_buf *b, uint64_t v);
void lh_buf_put_json_str(struct lh_buf *b, const char *s);
void lh_buf_put_pad(struct lh_buf *b, size_t width, size_t used);
size_t lh_fmt_u64(char *dst, uint64_t v);
size_t lh_fmt_hex(char *dst, uint64_t v);

/* ---- options.c --------------------------------------------------------- */

#define LH_PATH_MAX 1024

enum lh_on_deadlock {
	LH_ON_DEADLOCK_REPORT = 0,
	LH_ON_DEADLOCK_ABORT,
};

struct lh_options {
	char log_path[LH_PATH_MAX]; /* "" = no log file */
	int exitcode;		    /* -1 = not set */
	int on_deadlock;	    /* enum lh_on_deadlock */
	int timeout_ms;		    /* report acquisitions waiting this long; 0 off */
	int stats;		    /* enum lh_stats_mode */
	char suppressions[LH_PATH_MAX]; /* "" = none; suppress.c */
	int dump_signal;		/* the thread-dump signal; 0: dumps by signal off */
	int race_sample;	    /* race.c: 1 in N accesses watched; 0 = off */
	int race_delay;		    /* race.c: how long a watch waits, in us */
	int inline_locks;	    /* intercept.c: mutexes and read locks inline */
	int dump_interrupt;	    /* dump.c: 0 leaves threads in calls a signal ends */
};

enum lh_stats_mode {
	LH_STATS_OFF = 0,
	LH_STATS_ON,   /* acquisitions, waits (clock read only when contended) */
	LH_STATS_HOLD, /* and hold times (a clock read per acquire and release) */
};

extern struct lh_options lh_opt;

typedef void (*lh_warn_fn)(const char *key, const char *why, void *arg);

void lh_options_defaults(struct lh_options *o);
int lh_options_parse(struct lh_options *o, const char *s, lh_warn_fn warn, void *arg);
bool lh_option_known(const char *key);
int lh_option_check(const char *key, const char *value, const char **why);
int lh_signal_parse(const char *s, const char **why);
const char *lh_signal_name(int sig, char *buf, size_t size);

/* ---- locks ------------------------------------------------------------- */

enum lh_lock_type {
	LH_TYPE_MUTEX = 0,
	LH_TYPE_RWLOCK,
	LH_TYPE_SPIN,
	LH_TYPE_MTX,  /* C11 mtx_t */
	LH_TYPE_COND, /* not a lock: a condition variable's record (cond.c) */
	LH_TYPE_COUNT,
};

enum lh_mutex_kind {
	LH_KIND_NORMAL = 0,
	LH_KIND_RECURSIVE = 1,
	LH_KIND_ERRORCHECK = 2,
	LH_KIND_ADAPTIVE = 3,
};

/* lh_lock.kind of an rwlock: how it treats readers behind a waiting writer. */
#define LH_RWLOCK_READER_PREFERRED 0	  /* glibc default: reads are recursive */
#define LH_RWLOCK_WRITER_NONRECURSIVE 2 /* PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP */

enum lh_mode {
	LH_MODE_WRITE = 0, /* exclusive */
	LH_MODE_READ = 1,  /* shared */
};

enum lh_how {
	LH_BLOCKING = 0,
	LH_TRY,
	LH_TIMED,
};

struct lh_gnode;

/*
 * A lock instance we know about. Nodes are type-stable: a destroyed lock's
 * node returns to a free list and is reused, never unmapped, so that a
 * lock-free reader that races with a destroy reads stale but valid memory.
 * The id is unique for the life of the process: it is 0 while the node is
 * free and new when it is reused, so (node, id) names one lock instance and
 * one generation, and a held entry or a thread's cache whose id no longer
 * matches names a destroyed lock.
 */
/*
 * The acquisitions of one call site, handed in by threads' statistics slots
 * when they are evicted (stats.c), kept in the lock's node: an eviction then
 * touches only lines the acquisition touched. word is tag << 44 | count; the
 * tag comes from the lock's id, so an add for a retired or reused node fails
 * its compare-and-swap and takes the general path.
 */
#define LH_LOCK_SITES 7
struct lh_lock_site {
	_Atomic(uintptr_t) pc;
	_Atomic uint64_t word;
};

/*
 * The acquisitions of one call site counted by the lock's holders
 * themselves (a normal mutex taken inline, acquire.c): written only by
 * the thread that holds the lock, so a plain increment is exact (the
 * lock's own release and acquisition order the holders' writes), and the
 * line is the one the acquisition reads anyway. A report never takes n
 * while the lock lives: it shows it and takes it out of its table again
 * (struct shown_log, stats.c).
 */
#define LH_LOCK_OWN 2
struct lh_lock_own {
	_Atomic(uintptr_t) pc; /* 0: free, claimed by a holder */
	_Atomic uint64_t n;
};

struct lh_lock {
	/* First line: what every acquisition and release reads. */
	uint64_t id;
	uint64_t salt;	       /* lh_lock_salt(id), for chain keys */
	uint8_t type;	       /* enum lh_lock_type */
	uint8_t kind;	       /* enum lh_mutex_kind */
	uint8_t from_init;     /* made by an init call (else first seen in use) */
	_Atomic uint8_t wait_hint; /* LH_HINT_*: the next unlock goes the general way */
	/* own[k].n's low bits when a call site last looked for a place, and
	 * whether it was idle then (acquire.c). */
	_Atomic uint16_t own_mark[LH_LOCK_OWN];
	_Atomic(uintptr_t) addr;	   /* the user's lock; 0 while free */
	struct lh_lock_own own[LH_LOCK_OWN];
	/* Second line. */
	_Atomic(struct lh_lock *) next[2]; /* bucket chains: struct lh_locktab */
	uintptr_t init_pc;	       /* return address of the init call, 0 if none */
	_Atomic(uintptr_t) unlock_pc;  /* where it was last released to a waiter */
	struct lh_gnode *gnode;	       /* graph state, under the graph mutex */
	const char *name;	       /* lh_lock_name() annotation, or NULL */
	struct lh_lock *free_next;     /* free list, under the table mutex */
	void *stats;		       /* its statistics entry (stats.c), under stats_mu */
	/* A condition variable's waiters and the mutex they use (cond.c). */
	lh_mutex_t cond_mu;
	uint32_t cond_waiters;
	uintptr_t cond_mutex;
	/* Acquisitions handed in from threads' statistics slots (stats.c):
	 * 256 bytes per node in all. */
	struct lh_lock_site sites[LH_LOCK_SITES];
} __attribute__((aligned(64)));

_Static_assert(offsetof(struct lh_lock, own) + sizeof(((struct lh_lock *)0)->own) <= 64,
	       "what an acquisition reads: one line");
_Static_assert(sizeof(struct lh_lock) == 256, "a node is four lines");

/* wait_hint: a thread waits (the release that ends it says where, stats.c),
 * or stats=hold times every release. The release fast path loads the byte
 * anyway, so hold mode costs it nothing more. */
#define LH_HINT_WAITER 1
#define LH_HINT_HOLD 2

/*
 * The lock table's buckets (locktab.c). The array doubles when it holds more
 * locks than buckets, so that a lookup touches little memory; a new array
 * chains the nodes through their other link (next[link]), so that readers
 * still walking the old one are not disturbed, and old arrays stay mapped.
 */
struct lh_locktab {
	unsigned bits;
	unsigned link; /* which of a node's next[] chains it */
	struct lh_locktab *older;
	_Atomic(struct lh_lock *) buckets[];
};

extern _Atomic(struct lh_locktab *) lh_locktab_cur;

static inline size_t
lh_locktab_bucket(const struct lh_locktab *tab, uintptr_t addr)
{
	return (size_t)(((uint64_t)addr * 0x9e3779b97f4a7c15ull) >> (64 - tab->bits));
}

/* Lock-free; may miss a lock that is being inserted or was just reused. */
static inline struct lh_lock *
lh_locktab_find(const void *addr)
{
	const struct lh_locktab *tab = atomic_load_explicit(&lh_locktab_cur, memory_order_acquire);
	uintptr_t a = (uintptr_t)addr;
	struct lh_lock *lk;
	int steps = 0;

	if (LH_UNLIKELY(!tab))
		return NULL;
	lk = atomic_load_explicit(&tab->buckets[lh_locktab_bucket(tab, a)], memory_order_acquire);
	while (lk) {
		if (atomic_load_explicit(&lk->addr, memory_order_relaxed) == a)
			return lk;
		/* Nodes reused under our feet can keep a reader walking: give up. */
		if (++steps > 4096)
			return NULL;
		lk = atomic_load_explicit(&lk->next[tab->link], memory_order_acquire);
	}
	return NULL;
}

struct lh_lock *lh_locktab_get(const void *addr, enum lh_lock_type type, int kind,
			       uintptr_t init_pc, bool from_init);
void lh_locktab_remove(struct lh_lock *lk);
size_t lh_locktab_count(void);
void lh_locktab_each(void (*fn)(struct lh_lock *lk, void *arg), void *arg);
void lh_locktab_atfork_prepare(void);
void lh_locktab_atfork_parent(void);
void lh_locktab_atfork_child(void);

/* ---- stack.c: unwinding and the stack depot --------------------------- */

#define LH_STACK_MAX 64

struct lh_frame {
	uintptr_t pc;	 /* a return address (call site + insn length) */
	uintptr_t cfa;	 /* its stack pointer at the call (_Unwind_GetCFA) */
	uintptr_t start; /* start of the enclosing function, 0 if unknown */
};

typedef uint32_t lh_stack_id; /* 0 = none */

/* Flags of an interned stack. */
#define LH_STACK_PARTIAL 1u /* only the first frame is known */

void lh_stack_init(void);
int lh_unwind(struct lh_frame *out, int max, uintptr_t from_cfa);
uintptr_t lh_function_start(uintptr_t pc);
lh_stack_id lh_stack_intern(const uintptr_t *pcs, int n, unsigned flags);
const uintptr_t *lh_stack_get(lh_stack_id id, int *n, unsigned *flags);
void lh_stack_set_self_range(uintptr_t lo, uintptr_t hi);
void lh_stack_atfork_prepare(void);
void lh_stack_atfork_parent(void);
void lh_stack_atfork_child(void);

/*
 * The depot's layout, which `lockhound attach` also reads from another
 * process (tools/attach-runtime.c, behind a build-id check): stack.c's
 * static `dir` holds LH_DEPOT_DIR_SIZE pointers to leaves of
 * 1 << LH_DEPOT_LEAF_BITS pointers to records; id i is
 * dir[i >> LEAF_BITS][i & (LEAF_SIZE - 1)].
 */
struct lh_stack_rec {
	uint64_t hash;
	uint32_t n;
	uint32_t flags; /* LH_STACK_* */
	uintptr_t pcs[];
};

#define LH_DEPOT_LEAF_BITS 12
#define LH_DEPOT_DIR_SIZE 4096 /* up to 16M stacks */

/* ---- modules.c: the process's modules, from /proc/self/maps ----------- */

struct lh_module {
	char *path;
	uintptr_t lo, hi; /* lowest and highest mapped address of the file */
	uintptr_t bias;	  /* load bias: file address = pc - bias */
	char build_id[41]; /* hex, "" if none */
	int index;
	bool logged; /* described in the log already */
};

void lh_modules_init(void);
int lh_modules_refresh(void);
const struct lh_module *lh_module_find(uintptr_t addr);
const struct lh_module *lh_module_find_data(uintptr_t addr);
const struct lh_module *lh_module_find_try(uintptr_t addr);
const struct lh_module *lh_module_at(int index);
int lh_module_count(void);
int lh_elf_build_id(const char *path, char *hex, size_t hexsz);
void lh_modules_atfork_prepare(void);
void lh_modules_atfork_parent(void);
void lh_modules_atfork_child(void);

/* ---- symbols.c: in-process names from ELF symbol tables --------------- */

bool lh_symbolize(uintptr_t addr, bool data, const char **name, uintptr_t *off,
		  const struct lh_module **mod);
void lh_symbols_atfork_prepare(void);
void lh_symbols_atfork_parent(void);
void lh_symbols_atfork_child(void);

/* ---- thread.c: per-thread state --------------------------------------- */

/* One lock the thread holds, in acquisition order. */
struct lh_held {
	struct lh_lock *lock;
	uint64_t id;	   /* lock->id when taken: the node may be reused later */
	uintptr_t addr;
	uint64_t chain;	   /* chain key of the held sequence up to here */
	uintptr_t pc;	   /* return address of the acquire call */
	uintptr_t cfa;	   /* the wrapper's CFA: stack pointer at the call site */
	lh_stack_id stack; /* full stack if one was captured, else 0 */
	uint32_t count;	   /* recursion depth of a recursive mutex */
	uint32_t since_ms; /* lh_tick_ms when taken (about: see lh_tick_ms) */
	uint8_t mode;	   /* enum lh_mode */
	uint8_t how;	   /* enum lh_how */
	uint16_t pad;	   /* unused (lh_took's fast path leaves the type here) */
	uint64_t since_ns; /* lh_now_ns() when taken, with stats=hold only */
};

/*
 * A coarse clock, in ms since start-up: every path that reads the real clock
 * anyway (a wait, the slow path, the dump thread's ticks) moves it forward,
 * and the hot path stamps held locks with it for the cost of one load. It
 * lags the real time by at most the time since the last such event.
 */
extern _Atomic uint32_t lh_tick_ms;
extern uint64_t lh_tick_origin_ns;
uint32_t lh_tick_update(void);

/* Per-thread counters of one lock taken at one call site (stats.c). */
#define LH_STAT_SLOTS 256 /* power of two */
#define LH_STAT_SPILL 32  /* evicted slots kept, to be added in one go */

/* One cache line; the lock's class when the slot was claimed is kept apart
 * (struct lh_thread's stats_cls), read only when the slot is handed in. */
struct lh_stat_slot {
	uintptr_t addr; /* the lock's address and */
	uintptr_t site; /* the acquire call's return address: the slot's key */
	struct lh_lock *lock;
	uint64_t id;	/* lock->id when the slot was claimed */
	uint64_t acq;
	uint64_t holds; /* measured holds (stats=hold) */
	uint64_t hold_ns, hold_max;
};

/* An evicted slot, waiting in the spill list. */
struct lh_stat_spilled {
	struct lh_stat_slot s;
	uintptr_t cls;
};

/* Per-thread contention counts of one lock at one call site (stats.c): the
 * waits of acquisitions made there, and the waits that releases made there
 * ended. A contended acquisition counts here, with no lock. */
#define LH_WAIT_SLOTS 16 /* power of two */

struct lh_wait_slot {
	uintptr_t addr, site; /* the key, as a statistics slot's */
	struct lh_lock *lock;
	uint64_t id;
	uintptr_t cls;
	uint64_t waits, wait_ns, wait_max;
	uint64_t caused, caused_ns;
};

#define LH_HELD_INLINE 32
#define LH_CHAIN_CACHE 1024 /* power of two */

/* What a thread is blocked on (wait.c). */
enum lh_wait_kind {
	LH_WAIT_NONE = 0,
	LH_WAIT_LOCK,	 /* a contended lock acquisition: wait_addr is the lock */
	LH_WAIT_COND,	 /* pthread_cond_*wait, cnd_*wait: wait_mutex is the mutex */
	LH_WAIT_SEM,	 /* sem_*wait */
	LH_WAIT_BARRIER, /* pthread_barrier_wait */
};

struct lh_thread {
	struct lh_held *held; /* held_inline, or an mmap'd array */
	uint32_t nheld;
	uint32_t held_cap;
	pid_t tid;
	uint32_t serial;
	int busy; /* inside the runtime: lock calls pass straight through */
	bool dead; /* exited holding locks: kept so that their owner is known */
	struct lh_thread *next; /* registry, under the registry mutex */
	/*
	 * What the thread is blocked on now. Written by the thread itself, read
	 * by others (dumps, the deadlock detector) without a lock: wait_addr is
	 * stored last on begin (seq_cst) and cleared first on end.
	 */
	_Atomic(uintptr_t) wait_addr; /* 0 when not waiting */
	_Atomic uint8_t wait_kind;    /* enum lh_wait_kind */
	uint8_t wait_mode;	      /* enum lh_mode of a lock wait */
	uint8_t wait_type;	      /* enum lh_lock_type of a lock wait */
	uintptr_t wait_mutex;	      /* the mutex of a condition wait */
	uintptr_t wait_pc;	      /* where it waits */
	uint64_t wait_since_ns;	      /* lh_now_ns() when the wait began */
	_Atomic lh_stack_id wait_stack; /* its stack, once the wait lasted a slice */
	uint64_t wait_reported;	      /* wait_since_ns of a wait already reported */
	bool timeout_reported;	      /* this wait's acquire-timeout is out */
	bool wait_sliced;	      /* a slice of this wait has ended */
	/* Held arrays outgrown, kept mapped until the thread ends. */
	struct {
		struct lh_held *p;
		uint32_t cap;
	} retired[24];
	uint32_t nretired;
	/* Its own name, as lh_thread_own_name() last read it. */
	char name[16];
	uint32_t name_gen, name_ms;
	struct lh_stat_slot stats[LH_STAT_SLOTS] /* acquisitions, by lock and site */
		__attribute__((aligned(64)));
	uintptr_t stats_cls[LH_STAT_SLOTS];	     /* their locks' classes */
	struct lh_stat_spilled spill[LH_STAT_SPILL]; /* evicted, not yet added */
	struct lh_wait_slot waits[LH_WAIT_SLOTS];    /* contended acquisitions */
	_Atomic uint32_t nspill;
	uint64_t chain_cache[LH_CHAIN_CACHE];
	struct lh_held held_inline[LH_HELD_INLINE];
};

extern __thread struct lh_thread *lh_self __attribute__((tls_model("initial-exec")));

struct lh_thread *lh_thread_create(void);
void lh_thread_exit(struct lh_thread *t);
bool lh_thread_grow_held(struct lh_thread *t);
ssize_t lh_task_file(pid_t tid, const char *file, char *buf, size_t size);
void lh_thread_name(pid_t tid, char *buf, size_t size);
void lh_thread_own_name(struct lh_thread *t, char *buf, size_t size);
const struct lh_thread *lh_thread_peek(pid_t tid);
extern uint32_t lh_thread_name_ttl_ms;
void lh_thread_names_changed(void);
void lh_threads_lock(void);
void lh_threads_unlock(void);
struct lh_thread *lh_threads_first(void);
struct lh_thread *lh_thread_find(pid_t tid);
int lh_task_list(pid_t *tids, int max);

/* A lock held by a thread that did not survive fork (in the child). */
struct lh_lost_lock {
	uintptr_t addr;
	uint64_t id;
	pid_t tid; /* the holder, in the parent */
	lh_stack_id stack;
	uintptr_t pc;
};

const struct lh_lost_lock *lh_lost_lock(uintptr_t addr);
void lh_threads_atfork_prepare(void);
void lh_threads_atfork_parent(void);
void lh_threads_atfork_child(void);

/* ---- chain.c: lock-chain keys and the global set of validated chains -- */

/* A 64-bit finalizer (splitmix64's): every input bit moves every output bit. */
static inline uint64_t
lh_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* A lock's salt: a pseudo-random 64-bit value made from its id once, when
 * the node gets its identity, for the chain keys below. */
static inline uint64_t
lh_lock_salt(uint64_t id)
{
	return lh_mix64(id + 0x9e3779b97f4a7c15ull);
}

/*
 * The chain key of a held sequence that ends in a lock with this salt, taken
 * in mode, after the sequence whose key is prev (0 for none): one add and
 * one multiply on the hot path. Why it is enough: the key of a sequence is
 * sum((salt_i + mode_i) * K^(n-i+1)). Two different sequences differ in a
 * linear form of their salts whose coefficients are differences of powers
 * of the odd K, which have at most a few factors of two; with salts as good
 * as random, such a form is zero with probability about 2^-60. Two held
 * sequences that differ only in their last lock or mode always differ
 * (multiplying by an odd K is a bijection). 0 means "not made" (the
 * outermost lock's key, lh_chain_at) and "empty" (caches, the chain set); a
 * key that comes out 0, with probability 2^-64, reads as validated, as a
 * collision would: it is not tested for on the hot path.
 */
static inline uint64_t
lh_chain_mix(uint64_t prev, uint64_t salt, unsigned mode)
{
	return (prev + salt + mode) * 0xd6e8feb86659fd93ull;
}

/* A well-mixed key of three values, for the report's deduplication. */
static inline uint64_t
lh_key3(uint64_t a, uint64_t b, uint64_t c)
{
	return lh_mix64(lh_mix64(lh_mix64(a) ^ b) ^ c);
}

void lh_chainset_init(void);
bool lh_chainset_contains(uint64_t key);
void lh_chainset_insert(uint64_t key);
void lh_chainset_forget(void);
size_t lh_chainset_count(void);

/* ---- graph.c: the lock-order graph ------------------------------------ */

#define LH_GATE_MAX 4

/* A graph node: the order state of one lock instance. */
struct lh_gnode {
	uint64_t id;
	uintptr_t addr;
	uintptr_t init_pc;
	uint8_t type, kind, from_init;
	bool rr; /* read acquisitions are recursive (reader-preferring rwlock) */
	int64_t rank;	/* Pearce-Kelly topological order */
	uint64_t visit; /* search stamp */
	uint64_t seen;	/* search states met at this node, valid when visit == stamp */
	struct lh_edge **out, **in;
	uint32_t nout, nin, capout, capin;
	const char *name;  /* annotation */
	const char *label; /* name used in reports, made on first use */
};

/* An order edge: some thread took `to` while holding `from`. */
struct lh_edge {
	struct lh_gnode *from, *to;
	uint64_t gates[LH_GATE_MAX]; /* other locks held every time (intersection) */
	uint8_t ngates;
	uint8_t from_mode, to_mode; /* of the first occurrence */
	uint8_t combos;		    /* every (held, taken) mode pair seen: COMBO bits */
	bool back;     /* closes a cycle: kept out of the topological order */
	bool reported; /* its cycle was reported */
	pid_t tid;     /* thread that made it first */
	uint32_t thread_serial;
	char thread_name[16];
	lh_stack_id from_stack; /* where `from` was taken */
	lh_stack_id to_stack;	/* where `to` was taken while holding `from` */
	uint64_t seq;		/* first-seen order */
	uint64_t count;		/* distinct chains that made it */
	uint64_t time_us;
};

/* What an edge needs when it is first made (the slow path fills it in). */
struct lh_edge_info {
	const uint64_t *gates;
	int ngates;
	unsigned from_mode, to_mode;
	pid_t tid;
	uint32_t thread_serial;
	const char *thread_name;
	lh_stack_id from_stack, to_stack;
};

#define LH_CYCLE_MAX 64

struct lh_cycle {
	int n;
	bool truncated; /* longer than LH_CYCLE_MAX: the first edges only */
	struct lh_edge *edges[LH_CYCLE_MAX]; /* edges[i]->to == edges[i+1]->from */
};

/*
 * Callbacks for what the graph finds; graph.c does no I/O itself, so that the
 * unit tests can watch it. Both run with the graph mutex held.
 */
struct lh_graph_ops {
	void (*new_edge)(struct lh_edge *e, void *arg);
	void (*cycle)(const struct lh_cycle *c, void *arg);
	void *arg;
};

void lh_graph_init(const struct lh_graph_ops *ops);
void lh_graph_lock(void);
void lh_graph_unlock(void);
struct lh_gnode *lh_graph_node(struct lh_lock *lk);
struct lh_edge *lh_graph_add_edge(struct lh_gnode *from, struct lh_gnode *to,
				  const struct lh_edge_info *info, bool *is_new);
struct lh_edge *lh_graph_find_edge(const struct lh_gnode *from, const struct lh_gnode *to);
void lh_graph_retire(struct lh_lock *lk);
size_t lh_graph_pending_count(void);
size_t lh_graph_edge_count(void);
size_t lh_graph_node_count(void);
bool lh_graph_check_order(void);
void lh_graph_atfork_prepare(void);
void lh_graph_atfork_parent(void);
void lh_graph_atfork_child(void);

/* ---- report.c: the log and stderr ------------------------------------- */

void lh_report_init(void);
void lh_report_reopen_after_fork(void);
void lh_report_new_edge(struct lh_edge *e, void *arg);
void lh_report_cycle(const struct lh_cycle *c, void *arg);
void lh_report_write(const struct lh_buf *text, const struct lh_buf *json);
void lh_report_begin(void);
void lh_report_end(void);
void lh_report_emit(const struct lh_buf *text, const struct lh_buf *json);
struct lh_gnode *lh_report_node(struct lh_lock *lk);
void lh_report_lock_record(struct lh_buf *b, struct lh_gnode *g);
const char *lh_report_label(struct lh_gnode *g);
void lh_text_thread(struct lh_buf *b, pid_t tid, const char *name);
bool lh_report_suppressed(const char *kind, struct lh_gnode *const *locks, int nlocks,
			  const lh_stack_id *stacks, int nstacks);
void lh_report_count_finding(void);
bool lh_report_logging(void);
void lh_report_atfork_prepare(void);
void lh_report_atfork_parent(void);
void lh_warn_once(_Atomic int *flag, const char *msg);
void lh_warn(const char *msg);
uint64_t lh_report_findings(void);
void lh_json_begin(struct lh_buf *b, const char *kind, pid_t tid);
void lh_json_stack(struct lh_buf *b, lh_stack_id id);
void lh_text_stack(struct lh_buf *b, lh_stack_id id, const char *indent);
void lh_text_object(struct lh_buf *b, const char *what, uintptr_t addr);
void lh_lock_describe(struct lh_buf *b, const struct lh_gnode *g);
bool lh_report_misuse(const char *what, const void *addr, struct lh_lock *lk,
		      const char *detail, lh_stack_id taken_at, uintptr_t from_cfa,
		      uintptr_t site);

/* ---- runtime.c: initialization, options, fork, exit ------------------- */

extern _Atomic int lh_state; /* 0 not yet, 1 initializing, 2 ready, 3 off */
extern bool lh_secure;	     /* AT_SECURE: no environment, no files */
extern uintptr_t lh_self_lo, lh_self_hi;

void lh_init_slow(void);

static inline bool
lh_ready(void)
{
	int s = atomic_load_explicit(&lh_state, memory_order_acquire);

	if (LH_LIKELY(s == 2))
		return true;
	if (s == 0)
		lh_init_slow();
	return atomic_load_explicit(&lh_state, memory_order_acquire) == 2;
}

/* ---- acquire.c: lock events (the hot path is inline, in acquire.h) ---- */

void lh_on_init(const void *addr, enum lh_lock_type type, int kind, uintptr_t pc);
void lh_on_destroy(const void *addr);
int lh_mutex_kind_of(const void *m);
int lh_lock_kind_of(const void *addr, enum lh_lock_type type);
lh_stack_id lh_held_stack_now(struct lh_held *h, uintptr_t cfa);

/* ---- wait.c: what threads are blocked on ------------------------------- */

#define LH_SLICE_MS 250 /* a long wait looks around this often */

struct timespec;
void lh_wait_begin(struct lh_thread *t, enum lh_wait_kind kind, const void *obj,
		   enum lh_lock_type type, enum lh_mode mode, const void *mutex,
		   uintptr_t pc, uintptr_t cfa);
void lh_wait_end(struct lh_thread *t);
void lh_wait_capture_stack(struct lh_thread *t);
void lh_wait_deadline(const struct lh_thread *t, int clock, struct timespec *ts);
void lh_wait_slice(struct lh_thread *t);

/* ---- deadlock.c: deadlocks, timeouts, locks lost in fork ---------------- */

bool lh_deadlock_check(struct lh_thread *t);
bool lh_deadlock_holder_runs(const struct lh_thread *t);
void lh_deadlock_timeout(struct lh_thread *t);
void lh_deadlock_fork_check(struct lh_thread *t, uintptr_t cfa);

#define LH_WAITCHAIN_MAX 64
#define LH_OWNERS_MAX 64

/* One member of a wait-for chain: t waits for the lock at addr since `since`. */
struct lh_waitlink {
	struct lh_thread *t;
	uintptr_t addr;
	uint64_t since; /* its wait stamp (wait_since_ns) */
};

/* A deadlock: each member waits for a lock the next one holds, the last
 * for one the first holds; or, with dead set, for one an exited thread holds. */
struct lh_waitchain {
	struct lh_waitlink chain[LH_WAITCHAIN_MAX];
	int n;
	struct lh_thread *dead;
};

int lh_lock_owners(const struct lh_thread *w, uintptr_t addr, struct lh_thread **out);
int lh_deadlock_find_all(struct lh_waitchain *out, int max);

/* ---- stats.c: contention profiling -------------------------------------- */

void lh_stat_miss(struct lh_thread *t, struct lh_stat_slot *s, struct lh_lock *lk, uint64_t id,
		  uintptr_t addr, uintptr_t site);
void lh_stat_wait(struct lh_thread *t, struct lh_lock *lk, uint64_t id, uintptr_t site,
		  uint64_t wait_ns);
void lh_stat_released(struct lh_thread *t, struct lh_held *h, uintptr_t pc);
void lh_stat_hand_in(struct lh_thread *t, struct lh_lock *lk, uint64_t id, uintptr_t pc,
		     uint64_t n);
void lh_stats_flush(struct lh_thread *t);
void lh_stats_retire(struct lh_lock *lk);
void lh_stats_node_init(struct lh_lock *lk);
void lh_stats_report(bool at_exit);
void lh_stats_atfork_prepare(void);
void lh_stats_atfork_parent(void);
void lh_stats_atfork_child(void);

/* A node's wait hint when nobody waits. */
static inline uint8_t
lh_hint_idle(void)
{
	return lh_opt.stats == LH_STATS_HOLD ? LH_HINT_HOLD : 0;
}

/*
 * What a statistics slot stores as its lock's address. With stats=hold it
 * is changed (bit 63, never set in a user address), so that lh_took()'s
 * compare with the real address fails and every acquisition takes the
 * general path, which reads the clock: the fast path needs no test for it.
 */
static inline uintptr_t
lh_stat_key(uintptr_t addr)
{
	return lh_opt.stats == LH_STATS_HOLD ? addr ^ ((uintptr_t)1 << 63) : addr;
}

/*
 * The slot of (lock address, call site) in the thread's direct-mapped table.
 * Keyed by the address, not the node, the slot is also the thread's cache of
 * the lock's node: the hot path (lh_took) finds the node there without the
 * lock table.
 */
static inline size_t
lh_stat_index(uintptr_t addr, uintptr_t site)
{
	/* 32 bits are plenty for 256 slots, and one instruction (imul imm32). */
	_Static_assert(LH_STAT_SLOTS == 256, "the shift below takes 8 bits");
	return (size_t)(((uint32_t)(addr ^ site) * 0x9e3779b1u) >> 24);
}

/* One more acquisition of lk (at addr) at site: the hot path's only stats
 * work. With stats=off the slot is kept as a cache and never reported. */
static inline void
lh_stat_count(struct lh_thread *t, struct lh_lock *lk, uint64_t id, uintptr_t addr,
	      uintptr_t site)
{
	struct lh_stat_slot *s = &t->stats[lh_stat_index(addr, site)];

	if (LH_LIKELY(s->addr == lh_stat_key(addr)) && LH_LIKELY(s->site == site) &&
	    LH_LIKELY(s->lock == lk) &&
	    LH_LIKELY(s->id == id)) {
		s->acq++;
		return;
	}
	lh_stat_miss(t, s, lk, id, addr, site);
}

/* ---- misuse.c: API misuse checks ---------------------------------------- */

int lh_misuse_reentry(struct lh_thread *t, uint32_t i, enum lh_lock_type type,
		      enum lh_mode mode, uintptr_t cfa);
void lh_misuse_unlock(struct lh_thread *t, const void *addr, enum lh_lock_type type,
		      uintptr_t cfa);
void lh_misuse_destroy(const void *addr, enum lh_lock_type type, uintptr_t cfa);
void lh_misuse_exit(struct lh_thread *t);
void lh_misuse_cond(const void *cond, const void *mutex, const void *other,
		    uintptr_t cfa);
void lh_on_deadlock(void);
pid_t lh_lock_owner(const void *addr, enum lh_lock_type type);
int lh_lock_state(const void *addr, enum lh_lock_type type);

/* Slots lh_before_lock() returns besides a held index. */
#define LH_SLOT_NONE (-1)  /* nothing to record */
#define LH_SLOT_HANGS (-2) /* a relock that never returns (reported) */
#define LH_SLOT_FAILS (-3) /* a relock the real call refuses (EDEADLK) */

/* ---- cond.c: condition variables ---------------------------------------- */

struct lh_cond_wait {
	struct lh_thread *t;
	const void *cond, *mutex;
	enum lh_lock_type mutex_type;
	uintptr_t pc, cfa;
	bool tracked; /* the mutex was on the held stack */
};

void lh_cond_enter(struct lh_thread *t, struct lh_cond_wait *w);
void lh_cond_exit(struct lh_cond_wait *w, bool reacquired);
void lh_cond_cancelled(void *w);
void lh_cond_destroy(const void *cond);

/* ---- suppress.c: rules that hide findings (runtime and CLI) ---------- */

enum lh_supp_type {
	LH_SUPP_KIND = 0, /* the finding's kind */
	LH_SUPP_LOCK,	  /* any name of a lock involved */
	LH_SUPP_FUNCTION, /* any function in its stacks */
	LH_SUPP_FILE,	  /* any source file in its stacks (CLI only) */
};

#define LH_SUPP_MAX_CONDS 16
#define LH_SUPP_MAX_LINE 4096
#define LH_SUPP_MAX_RULES 100000
#define LH_SUPP_MAX_FILE (1u << 20)

struct lh_supp_cond {
	uint8_t type; /* enum lh_supp_type */
	char *pattern;
};

struct lh_supp_rule {
	struct lh_supp_cond conds[LH_SUPP_MAX_CONDS];
	int n;
	unsigned line;
};

struct lh_suppressions {
	struct lh_supp_rule *rules;
	size_t n, cap;
};

extern struct lh_suppressions lh_supp; /* the runtime's, from the option */

bool lh_supp_glob(const char *pattern, const char *s);
int lh_supp_parse(struct lh_suppressions *s, const char *text, size_t len, char *err,
		  size_t errsz, unsigned *errline);
int lh_supp_load(struct lh_suppressions *s, const char *path, char *err, size_t errsz,
		 unsigned *errline);
void lh_supp_free(struct lh_suppressions *s);
const struct lh_supp_rule *lh_supp_match(const struct lh_suppressions *s, const char *kind,
					 bool (*any)(void *arg, int type, const char *pattern),
					 void *arg);
const char *lh_supp_type_name(int type);
void lh_suppress_init(const char *path);
/* ---- dump.c: thread dumps (dump_signal, lh_dump(), lockhound dump) ------ */

/*
 * The runtime's own real-time signal: SIGRTMAX - LH_DUMP_RTSIG_BELOW_MAX,
 * always with the value LH_DUMP_MAGIC << 32 | cookie. A collector sends it to
 * each thread with cookie 0 (rt_tgsigqueueinfo) to have it record its stack;
 * `lockhound dump` sends it to the process (sigqueue) with a random cookie,
 * and listens on the abstract unix socket LH_DUMP_SOCKET_PREFIX followed by
 * the cookie in 8 hex digits. The stream: LH_DUMP_PROTOCOL, the text, a NUL,
 * the thread-dump record, a NUL. A cookie with LH_DUMP_COOKIE_QUIET set
 * asks for a dump that leaves threads in calls a signal would end alone,
 * as dump_interrupt=0 does (`lockhound dump --no-interrupt`; a runtime that
 * does not know the bit takes it for part of the cookie).
 */
#define LH_DUMP_RTSIG_BELOW_MAX 2
#define LH_DUMP_MAGIC 0x6c68646dull /* "lhdm" */
#define LH_DUMP_SOCKET_PREFIX "lockhound-dump-"
#define LH_DUMP_PROTOCOL "lockhound-dump 1\n"
#define LH_DUMP_COOKIE_QUIET 0x80000000u

typedef int (*lh_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
struct sigaction;

void lh_dump_init(void);
void lh_dump_start(lh_create_fn create);
bool lh_dump_sigaction(int sig, const struct sigaction *act, struct sigaction *old,
		       int *rc);
bool lh_dump_owns(int sig);
int lh_dump_run(uintptr_t self_cfa);
/* Where a thread is, for a report (lh_dump_look_at). */
struct lh_look {
	lh_stack_id stack; /* where it is now, or 0 */
	lh_stack_id taken; /* where it took the lock asked about, or 0 */
	const char *in_call; /* the call it was left in, not interrupted; or NULL */
};
struct lh_held;
void lh_dump_look_at(pid_t tid, const struct lh_held *h, int ms, struct lh_look *out);
void lh_dump_atfork_child(void);

#pragma GCC visibility pop

/* ---- race.c: data races on the -fsanitize=thread hooks ------------------ */

#define LH_RACE_SAMPLE_DEFAULT 2000
#define LH_RACE_DELAY_DEFAULT 1 /* us */
#define LH_RACE_HELD_MAX 8

struct lh_race_thread;
extern __thread struct lh_race_thread *lh_race_self __attribute__((tls_model("initial-exec")));

/* A lock held at an access, copied from the held stack. */
struct lh_race_held {
	struct lh_lock *lock;
	uint64_t id; /* lock->id then: the node may be reused since */
	uintptr_t addr;
	uint8_t mode; /* enum lh_mode */
};

/* One side of a race: what a thread accessed, where, holding what. */
struct lh_race_access {
	uintptr_t addr;
	uint32_t size;
	bool write, atomic;
	pid_t tid;
	char thread_name[16];
	lh_stack_id stack;
	uint32_t nheld; /* may exceed LH_RACE_HELD_MAX: the first ones are kept */
	struct lh_race_held held[LH_RACE_HELD_MAX];
};

/* A race seen in the act (a: the watched access, b: the one that hit the
 * watchpoint), or a value that changed under a watch (b unused). */
struct lh_race_info {
	bool value_change;
	struct lh_race_access a, b;
	uint32_t value_size; /* bytes in old_value/new_value */
	uint8_t old_value[16], new_value[16];
};

extern bool lh_tsan; /* libtsan is in the process: defer to it */
void lh_intercept_defer_to_tsan(void);
void lh_intercept_direct_init(void);
bool lh_intercept_inline_mutex(void);
bool lh_intercept_inline_rwlock(void);

void lh_race_init(void);
void lh_race_atfork_child(void);
int lh_shadow_unwind(struct lh_frame *out, int max, uintptr_t from_cfa);
void lh_report_data_race(const struct lh_race_info *r);

#endif /* LOCKHOUND_PRIVATE_H */
