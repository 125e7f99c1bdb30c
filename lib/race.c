/*
 * Data races, in the style of the Linux kernel's KCSAN, behind the hooks
 * gcc and clang emit with -fsanitize=thread (the program is linked with
 * -llockhound instead of libtsan).
 *
 * Every instrumented access costs one relaxed load of a small watchpoint
 * table and a per-thread countdown. When the countdown runs out (1 access in
 * race_sample on average, randomized), the access sets a watchpoint on its
 * bytes and spins for race_delay microseconds; one such window in 16, and
 * every window of a thread preempted since its last one, also sleeps once,
 * so that a thread waiting for a CPU gets to run even where every core is
 * busy. Another thread's access that overlaps those bytes, where one of the
 * two writes, claims the watchpoint: both accesses were under way at the
 * same moment, a data race seen in the act. A value that changed during the
 * wait without a claim (even after REWATCH more waits) was written by code
 * that has no hooks (or by the kernel). Neither thread can have
 * synchronized with the other in between, so no happens-before relation is
 * needed and none can be missed.
 *
 * The __tsan_atomic* hooks are the program's atomic operations: performed
 * here with the orders asked for; they check watchpoints (a plain access
 * racing with an atomic one is a race) but never set one. __tsan_func_entry
 * and __tsan_func_exit keep a per-thread shadow call stack that stack.c uses
 * for every report when the caller is instrumented.
 *
 * State: the table (one word per slot, lock-free), a side record per slot
 * owned by whoever holds the slot, a per-thread block (mmap'd, recycled at
 * thread exit), and the set of reported pairs of code locations (lock-free
 * insert). Nothing takes a lock except reporting. When libtsan is in the
 * process, the hooks forward to it and detect nothing themselves.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "lockhound-private.h"

/* With any -fsanitize= (the ASan/UBSan build of the test suite), gcc knows
 * the __tsan_* hooks as built-ins, typed with void pointers and signed
 * sizes; the definitions below keep the types that say what they take.
 * The ABI is the same. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wbuiltin-declaration-mismatch"
#endif

#define RA()  ((uintptr_t)__builtin_return_address(0))
#define CFA() ((uintptr_t)__builtin_dwarf_cfa())

/* ---- per-thread state ---------------------------------------------------- */

struct shadow_frame {
	uintptr_t ret; /* the hook's argument: return address into the caller */
	uintptr_t fn;  /* the hook's return address: a pc inside the function */
	uintptr_t sp;  /* the function's stack pointer at its entry */
};

struct lh_race_thread {
	uint32_t depth;	    /* may pass SHADOW_MAX: deeper frames are not kept */
	uint32_t self_hits; /* this thread touched its own watchpoint (a handler) */
	int busy;	    /* in a slow path: nested hooks keep the shadow stack only */
	pid_t tid;
	uint32_t windows; /* watches set: every SLEEP_EVERY-th one sleeps */
	long preempted;	  /* involuntary context switches at the last watch */
	uint64_t rng;
	struct lh_race_thread *next_free;
	struct shadow_frame frames[];
};

#define BLOCK_SIZE 8192 /* one mmap per thread */
#define SHADOW_MAX                                                                       \
	((BLOCK_SIZE - sizeof(struct lh_race_thread)) / sizeof(struct shadow_frame))

__thread struct lh_race_thread *lh_race_self __attribute__((tls_model("initial-exec")));
static __thread int countdown __attribute__((tls_model("initial-exec")));
static __thread bool thread_gone __attribute__((tls_model("initial-exec")));

static lh_mutex_t blocks_mu = LH_MUTEX_INIT;
static struct lh_race_thread *free_blocks;
static _Atomic int nthreads; /* threads with a block: races need two */
static void thread_exit(void *arg);
static struct lh_exit_key exit_key = {.fn = thread_exit};
static _Atomic int oom_warned;

static int sample_rate; /* lh_opt.race_sample once ready; 0 = off */
static uint64_t delay_ns;
static bool forward;           /* libtsan is here: hand every hook to it */
bool lh_tsan;                  /* libtsan is here (intercept.c calls through it) */
static _Atomic bool detecting; /* ready, on, and not forwarding */

static void
thread_exit(void *arg)
{
	struct lh_race_thread *t = arg;

	if (!t)
		return;
	lh_race_self = NULL;
	thread_gone = true; /* later hooks in this thread make no new block */
	countdown = 1 << 30;
	atomic_fetch_sub(&nthreads, 1);
	lh_mutex_lock(&blocks_mu);
	t->next_free = free_blocks;
	free_blocks = t;
	lh_mutex_unlock(&blocks_mu);
}


/*
 * The calling thread's block, made on its first hook. NULL when out of
 * memory (said once) or when the thread is exiting.
 */
static __attribute__((noinline)) struct lh_race_thread *
thread_block(void)
{
	struct lh_race_thread *t = lh_race_self;
	int err;

	if (t || thread_gone)
		return t;
	err = errno;
	/* A signal handler may have interrupted this very function: never wait. */
	if (lh_mutex_trylock(&blocks_mu)) {
		t = free_blocks;
		if (t)
			free_blocks = t->next_free;
		lh_mutex_unlock(&blocks_mu);
	}
	if (!t) {
		void *p = mmap(NULL, BLOCK_SIZE, PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			thread_gone = true;
			lh_warn_once(&oom_warned,
			             "out of memory for race state; a thread's "
			             "accesses are not checked");
			errno = err;
			return NULL;
		}
		t = p;
	}
	memset(t, 0, offsetof(struct lh_race_thread, frames));
	t->tid = lh_gettid();
	t->rng = ((uint64_t)t->tid << 32) ^ lh_now_ns() ^ (uintptr_t)t;
	lh_exit_key_set(&exit_key, t);
	atomic_fetch_add(&nthreads, 1);
	lh_race_self = t;
	errno = err;
	return t;
}

static inline bool
thread_busy(const struct lh_race_thread *t)
{
	return t->busy || (lh_self && lh_self->busy);
}

/* Forwarding to libtsan: the next definition, resolved on first use. */
#define NEXT(name)                                                                       \
	({                                                                               \
		static __typeof__(&name) next_;                                          \
		if (!next_)                                                              \
			next_ = (__typeof__(&name))dlsym(RTLD_NEXT, #name);              \
		next_;                                                                   \
	})

#define FORWARD_VOID(name, ...)                                                          \
	do {                                                                             \
		if (LH_UNLIKELY(forward)) {                                              \
			__typeof__(&name) f_ = NEXT(name);                               \
			if (f_)                                                          \
				f_(__VA_ARGS__);                                         \
			return;                                                          \
		}                                                                        \
	} while (0)

#define FORWARD(name, ...)                                                               \
	do {                                                                             \
		if (LH_UNLIKELY(forward)) {                                              \
			__typeof__(&name) f_ = NEXT(name);                               \
			return f_ ? f_(__VA_ARGS__) : 0;                                 \
		}                                                                        \
	} while (0)

/* ---- the shadow call stack ---------------------------------------------- */

LH_EXPORT void __tsan_func_entry(void *pc);
LH_EXPORT void __tsan_func_exit(void);

LH_EXPORT void
__tsan_func_entry(void *pc)
{
	struct lh_race_thread *t = lh_race_self;
	uint32_t d;

	FORWARD_VOID(__tsan_func_entry, pc);
	if (LH_UNLIKELY(!t) && !(t = thread_block()))
		return;
	d = t->depth;
	t->depth = d + 1;
	if (LH_LIKELY(d < SHADOW_MAX)) {
		t->frames[d].ret = (uintptr_t)pc;
		t->frames[d].fn = RA();
		t->frames[d].sp = CFA();
	}
}

LH_EXPORT void
__tsan_func_exit(void)
{
	struct lh_race_thread *t = lh_race_self;

	FORWARD_VOID(__tsan_func_exit);
	if (LH_LIKELY(t != NULL) && LH_LIKELY(t->depth != 0))
		t->depth--;
}

/*
 * Fills out with the stack of the function that called the hook or wrapper
 * whose CFA is from_cfa, from the shadow stack: its return address (found
 * just below from_cfa), then the callers. Returns -1 when the shadow stack
 * cannot tell: no instrumented frames, deeper than kept, or the caller is not
 * the function on top (it has no hooks, or a longjmp left stale entries).
 * Then the caller unwinds. Not async-signal-safe only in that it looks up
 * function starts (lock-free in libgcc).
 */
int
lh_shadow_unwind(struct lh_frame *out, int max, uintptr_t from_cfa)
{
	struct lh_race_thread *t = lh_race_self;
	const struct shadow_frame *top;
	uintptr_t ra, start;
	uint32_t d;
	int n = 0;

	if (!t || !from_cfa || max <= 0)
		return -1;
	d = t->depth;
	if (d == 0 || d > SHADOW_MAX)
		return -1;
	top = &t->frames[d - 1];
	if (top->sp < from_cfa)
		return -1; /* that function has returned */
	ra = *(const uintptr_t *)(from_cfa - sizeof(uintptr_t));
	start = lh_function_start(ra);
	if (!start || start != lh_function_start(top->fn))
		return -1;
	out[n++] = (struct lh_frame){ra, from_cfa, start};
	/* Frame j spans [cfa[j], cfa[j + 1]) for acquire.c: the low end of a
	 * caller's frame is just above its callee's entry stack pointer. */
	for (uint32_t k = d; k-- > 0 && n < max;) {
		const struct shadow_frame *f = &t->frames[k];

		if (f->ret == 0)
			break;
		out[n].pc = f->ret;
		out[n].cfa = f->sp + 1;
		out[n].start = lh_function_start(f->ret);
		n++;
	}
	return n;
}

/* ---- watchpoints ---------------------------------------------------------- */

/*
 * A slot per page (hashed): an access checks the slot of its page, and the
 * next one if it crosses into it; a watch never crosses a page. A slot word
 * is 0 (free), CLOSING (taken, matches nothing) or a watch: valid bit,
 * address, size - 1, write and consumed bits.
 */
#define WP_SLOTS      64
#define PAGE_BITS     12
#define PAGE          (1ul << PAGE_BITS)
#define WP_ADDR_MASK  ((1ull << 47) - 1)
#define WP_SIZE_SHIFT 47
#define WP_SIZE_MASK  0xfffull
#define WP_WRITE      (1ull << 59)
#define WP_CONSUMED   (1ull << 60)
#define WP_CLOSING    (1ull << 61)
#define WP_VALID      (1ull << 63)

/* Access flags. */
#define ACC_WRITE  1u
#define ACC_ATOMIC 2u

static _Atomic uint64_t wp[WP_SLOTS];

/* Who set a slot's watch, written before it is published. */
static struct {
	_Atomic(struct lh_race_thread *) owner;
	_Atomic uintptr_t pc;
} wp_setter[WP_SLOTS];

/* The access that claimed a watch, for the watcher to report. */
enum { OTHER_EMPTY, OTHER_WRITING, OTHER_READY, OTHER_ABANDONED };
static struct {
	_Atomic int state;
	bool known; /* this pair was reported already: nothing to say */
	uintptr_t pc;
	struct lh_race_access acc;
} wp_other[WP_SLOTS];

static inline size_t
slot_of(uintptr_t a)
{
	return (a >> PAGE_BITS) & (WP_SLOTS - 1);
}

static inline uint64_t
wp_encode(uintptr_t a, size_t n, bool write)
{
	return WP_VALID | (a & WP_ADDR_MASK) | ((uint64_t)(n - 1) << WP_SIZE_SHIFT) |
	       (write ? WP_WRITE : 0);
}

/* Whether the watch w and the access [a, a + n) conflict: overlapping bytes
 * and at least one write. (A watch is never atomic.) */
static inline bool
wp_conflicts(uint64_t w, uintptr_t a, size_t n, unsigned flags)
{
	uintptr_t wa = w & WP_ADDR_MASK;
	size_t wn = ((w >> WP_SIZE_SHIFT) & WP_SIZE_MASK) + 1;

	if (!(w & WP_VALID) || (w & WP_CONSUMED))
		return false;
	if (!(w & WP_WRITE) && !(flags & ACC_WRITE))
		return false;
	return a < wa + wn && wa < a + n;
}

/* ---- reported pairs of code locations ------------------------------------ */

#define PAIRS 8192 /* power of two */
static _Atomic uint64_t pairs[PAIRS];
static _Atomic int npairs;
static _Atomic int pairs_warned;

static uint64_t
pair_key(uintptr_t pc1, uintptr_t pc2)
{
	uintptr_t lo = pc1 < pc2 ? pc1 : pc2, hi = pc1 < pc2 ? pc2 : pc1;
	uint64_t h =
	    (uint64_t)lo * 0x9e3779b97f4a7c15ull ^ (uint64_t)hi * 0xbf58476d1ce4e5b9ull;

	h ^= h >> 31;
	return h ? h : 1;
}

/* The key of an address: its 8-byte granule, in the same set as the pairs
 * (no code location is 1). Like TSan's suppress_equal_addresses: a
 * variable is reported once, so `x += 1` from two threads is one report,
 * not one for read/write and another for write/write. */
static uint64_t
addr_key(uintptr_t a)
{
	return pair_key(1, a & ~(uintptr_t)7);
}

static bool
pair_known(uint64_t key)
{
	for (size_t i = key & (PAIRS - 1), k = 0; k < PAIRS;
	     i = (i + 1) & (PAIRS - 1), k++) {
		uint64_t v = atomic_load_explicit(&pairs[i], memory_order_relaxed);

		if (v == key)
			return true;
		if (v == 0)
			return false;
	}
	return true;
}

/* Adds key; false if it was there (someone reports it) or the set is full. */
static bool
pair_insert(uint64_t key)
{
	if (atomic_load_explicit(&npairs, memory_order_relaxed) >= PAIRS * 3 / 4) {
		lh_warn_once(&pairs_warned,
		             "too many different data races; further ones are "
		             "not reported");
		return false;
	}
	for (size_t i = key & (PAIRS - 1), k = 0; k < PAIRS;
	     i = (i + 1) & (PAIRS - 1), k++) {
		uint64_t v = 0;

		if (atomic_compare_exchange_strong(&pairs[i], &v, key)) {
			atomic_fetch_add(&npairs, 1);
			return true;
		}
		if (v == key)
			return false;
	}
	return false;
}

/* ---- capturing one side --------------------------------------------------- */

static void
capture(struct lh_race_access *acc, uintptr_t a, size_t n, unsigned flags, uintptr_t cfa,
        const struct lh_race_thread *t)
{
	struct lh_frame frames[LH_STACK_MAX];
	uintptr_t pcs[LH_STACK_MAX];
	const struct lh_thread *lt = lh_self;
	int nf = lh_unwind(frames, LH_STACK_MAX, cfa);

	memset(acc, 0, sizeof(*acc));
	acc->addr = a;
	acc->size = (uint32_t)n;
	acc->write = flags & ACC_WRITE;
	acc->atomic = flags & ACC_ATOMIC;
	acc->tid = t->tid;
	lh_thread_name(t->tid, acc->thread_name, sizeof(acc->thread_name));
	for (int k = 0; k < nf; k++)
		pcs[k] = frames[k].pc;
	acc->stack = lh_stack_intern(pcs, nf, 0);
	if (lt && lt->held) {
		acc->nheld = lt->nheld;
		for (uint32_t i = 0; i < lt->nheld && i < LH_RACE_HELD_MAX; i++) {
			acc->held[i].lock = lt->held[i].lock;
			acc->held[i].id = lt->held[i].id;
			acc->held[i].addr = lt->held[i].addr;
			acc->held[i].mode = lt->held[i].mode;
		}
	}
}

/* ---- the consumer: an access that hits another thread's watch ----------- */

static __attribute__((noinline)) void
hit(size_t s, uint64_t w, uintptr_t a, size_t n, unsigned flags, uintptr_t pc,
    uintptr_t cfa)
{
	struct lh_race_thread *t = lh_race_self;
	struct lh_race_thread *owner;
	uintptr_t their_pc;
	int expect = OTHER_EMPTY, err;
	bool known;

	atomic_thread_fence(memory_order_acquire);
	owner = atomic_load_explicit(&wp_setter[s].owner, memory_order_relaxed);
	if (owner == t) {
		if (t)
			t->self_hits++; /* a signal handler of the watcher itself */
		return;
	}
	if (!t && !(t = thread_block()))
		return;
	if (thread_busy(t) || !atomic_load_explicit(&detecting, memory_order_relaxed))
		return;
	err = errno;
	t->busy = 1;
	their_pc = atomic_load_explicit(&wp_setter[s].pc, memory_order_relaxed);
	known = pair_known(pair_key(their_pc, pc)) || pair_known(addr_key(a));
	/* Take the side record first: a watcher that sees its watch claimed
	 * finds it being written, never empty. */
	if (!atomic_compare_exchange_strong(&wp_other[s].state, &expect, OTHER_WRITING))
		goto out; /* another claimer, or a stale one leaving */
	if (!atomic_compare_exchange_strong(&wp[s], &w, w | WP_CONSUMED)) {
		atomic_store(&wp_other[s].state, OTHER_EMPTY);
		goto out; /* closed, or claimed by another thread */
	}
	wp_other[s].known = known;
	wp_other[s].pc = pc;
	if (!known)
		capture(&wp_other[s].acc, a, n, flags, cfa, t);
	expect = OTHER_WRITING;
	if (!atomic_compare_exchange_strong(&wp_other[s].state, &expect, OTHER_READY)) {
		/* The watcher gave up waiting: the slot is ours to free. */
		atomic_store(&wp_other[s].state, OTHER_EMPTY);
		atomic_store_explicit(&wp[s], 0, memory_order_release);
	}
out:
	t->busy = 0;
	errno = err;
}

/* ---- the watcher: a sampled access ---------------------------------------- */

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* One window in SLEEP_EVERY also sleeps: the shortest nanosleep (tens of
 * microseconds with the default timer slack), which lets a thread that is
 * waiting for a CPU run, here or, pulled by the idle core, anywhere. */
#define SLEEP_EVERY 16

static const struct timespec shortest = {0, 1000};

/*
 * Waits for a claim of the watch in slot: spins for the window (a racing
 * thread on another core hits within nanoseconds), and in one window in
 * SLEEP_EVERY, after a preemption, or when told to, also gives the CPU away
 * once. True if claimed.
 */
/*
 * Whether this thread was preempted since its last watch: other threads
 * were waiting for a CPU, maybe the one that races with this access. Then
 * every watch sleeps; the CPU goes to work that was waiting for it anyway.
 */
static bool
preempted(struct lh_race_thread *t)
{
	struct rusage ru;
	long before = t->preempted;

	if (getrusage(RUSAGE_THREAD, &ru) != 0)
		return false;
	t->preempted = ru.ru_nivcsw;
	return ru.ru_nivcsw != before;
}

static bool
wait_claim(struct lh_race_thread *t, _Atomic uint64_t *slot, bool must_sleep)
{
	uint64_t start = lh_now_ns();
	bool sleep = preempted(t) || ++t->windows % SLEEP_EVERY == 0 || must_sleep;

	for (;;) {
		for (int i = 0; i < 16; i++) {
			if (atomic_load_explicit(slot, memory_order_relaxed) &
			    WP_CONSUMED)
				return true;
			cpu_relax();
		}
		if (lh_now_ns() - start < delay_ns)
			continue;
		if (!sleep)
			return false;
		sleep = false;
		nanosleep(&shortest, NULL); /* then one last look */
	}
}

/* Copies up to 16 bytes at a, which the program is about to access anyway. */
static void
snapshot(uintptr_t a, size_t n, uint8_t *out)
{
	const volatile uint8_t *p = (const volatile uint8_t *)a;

	for (size_t i = 0; i < n && i < 16; i++)
		out[i] = p[i];
}

/* Watches again after a value changed unseen, before blaming code without
 * hooks. */
#define REWATCH 3

/* How long the watcher waits for the claimer to write down its side. */
#define CLAIM_WAIT_NS 2000000000ull

static __attribute__((noinline)) void
watch(struct lh_race_thread *t, uintptr_t a, size_t n, unsigned flags, uintptr_t pc,
      uintptr_t cfa)
{
	size_t s = slot_of(a);
	uint64_t w = 0, old;
	uint32_t hits = t->self_hits;
	struct lh_race_info info;
	uint8_t before[16], after[16];
	bool claimed, changed, known = false, report = false;

	if (n > PAGE - (a & (PAGE - 1)))
		n = PAGE - (a & (PAGE - 1));
	if (!atomic_compare_exchange_strong(&wp[s], &w, WP_CLOSING))
		return; /* the slot is busy: skip this one */
	atomic_store_explicit(&wp_setter[s].owner, t, memory_order_relaxed);
	atomic_store_explicit(&wp_setter[s].pc, pc, memory_order_relaxed);
	w = wp_encode(a, n, flags & ACC_WRITE);
	atomic_store_explicit(&wp[s], w, memory_order_release);

	snapshot(a, n, before);
	wait_claim(t, &wp[s], false);
	old = atomic_exchange(&wp[s], WP_CLOSING);
	snapshot(a, n, after);
	claimed = old & WP_CONSUMED;
	changed =
	    !claimed && t->self_hits == hits && memcmp(before, after, n < 16 ? n : 16);
	for (int k = 0; changed && !claimed && k < REWATCH; k++) {
		/* Most often an instrumented writer whose hook ran just before the
		 * watch was set: watch again, sleeping, to see it and both stacks. */
		atomic_store_explicit(&wp[s], w, memory_order_release);
		wait_claim(t, &wp[s], true);
		old = atomic_exchange(&wp[s], WP_CLOSING);
		claimed = old & WP_CONSUMED;
	}

	memset(&info, 0, sizeof(info));
	if (claimed) {
		uint64_t start = lh_now_ns();
		int st;

		while ((st = atomic_load_explicit(
		            &wp_other[s].state, memory_order_acquire)) == OTHER_WRITING) {
			if (lh_now_ns() - start > CLAIM_WAIT_NS) {
				int expect = OTHER_WRITING;

				if (atomic_compare_exchange_strong(
				        &wp_other[s].state, &expect, OTHER_ABANDONED))
					return; /* the claimer frees the slot */
				continue;
			}
			nanosleep(&shortest, NULL);
		}
		known = wp_other[s].known;
		if (st == OTHER_READY && !known) {
			info.b = wp_other[s].acc;
			report = pair_insert(pair_key(pc, wp_other[s].pc)) &&
			         pair_insert(addr_key(a));
		}
		atomic_store(&wp_other[s].state, OTHER_EMPTY);
	}
	atomic_store_explicit(&wp[s], 0, memory_order_release);

	if (changed && !claimed) {
		info.value_change = true;
		info.value_size = (uint32_t)(n < 16 ? n : 16);
		memcpy(info.old_value, before, info.value_size);
		memcpy(info.new_value, after, info.value_size);
		report = pair_insert(pair_key(pc, 0)) && pair_insert(addr_key(a));
	}
	if (!report)
		return;
	capture(&info.a, a, n, flags, cfa, t);
	lh_report_data_race(&info);
}

static inline int
next_countdown(struct lh_race_thread *t)
{
	uint64_t x = t->rng;
	int rate = sample_rate;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	t->rng = x;
	if (rate <= 0)
		return 1 << 30;
	return 1 + rate / 2 + (int)(x % (uint64_t)rate);
}

/*
 * Whether another thread exists to race with: one with hooks, or any thread
 * at all (code without hooks can write too), from /proc/self/stat at most
 * every 50 ms. async-signal-safe.
 */
static bool
others_exist(void)
{
	static _Atomic uint64_t checked_ns;
	static _Atomic int process_threads = 2;
	uint64_t now;
	char buf[512];
	int field = 2; /* the command ends field 2 */

	if (atomic_load_explicit(&nthreads, memory_order_relaxed) >= 2)
		return true;
	now = lh_now_ns();
	if (now - atomic_load_explicit(&checked_ns, memory_order_relaxed) < 50000000)
		return atomic_load_explicit(&process_threads, memory_order_relaxed) >= 2;
	atomic_store_explicit(&checked_ns, now, memory_order_relaxed);
	if (lh_task_file(0, "stat", buf, sizeof(buf)) <= 0)
		return true;
	/* Field 20 is num_threads; the command (field 2) may hold spaces, so
	 * count from its closing parenthesis. */
	for (char *p = strrchr(buf, ')'); p && *p; p++) {
		if (*p != ' ')
			continue;
		if (++field == 20) {
			atomic_store_explicit(&process_threads, atoi(p + 1),
			                      memory_order_relaxed);
			break;
		}
	}
	return atomic_load_explicit(&process_threads, memory_order_relaxed) >= 2;
}

/* The countdown ran out: maybe watch this access. */
static __attribute__((noinline)) void
sample(uintptr_t a, size_t n, unsigned flags, uintptr_t pc, uintptr_t cfa)
{
	struct lh_race_thread *t = lh_race_self;
	int err = errno;

	if (!t && !(t = thread_block())) {
		countdown = 1 << 30;
		goto out;
	}
	if (!lh_ready()) {
		countdown = 1024; /* ask again later */
		goto out;
	}
	countdown = next_countdown(t);
	if (!atomic_load_explicit(&detecting, memory_order_relaxed) || thread_busy(t) ||
	    (flags & ACC_ATOMIC) || !others_exist())
		goto out;
	t->busy = 1;
	watch(t, a, n, flags, pc, cfa);
	t->busy = 0;
out:
	errno = err;
}

/* ---- the access hooks ------------------------------------------------------ */

/* An access that found a watch in its slot, or whose countdown ran out. */
static __attribute__((noinline)) void
access_slow(uintptr_t a, size_t n, unsigned flags, uint64_t w, uintptr_t pc,
            uintptr_t cfa)
{
	if (w != 0 && wp_conflicts(w, a, n, flags))
		hit(slot_of(a), w, a, n, flags, pc, cfa);
	if (countdown <= 0)
		sample(a, n, flags, pc, cfa);
}

/*
 * The hot path, for an access that cannot cross a page (aligned, at most 16
 * bytes): one relaxed load of its slot and the countdown. A macro, so that
 * RA() and CFA() are the hook's own.
 */
#define ACCESS(a, n, flags)                                                              \
	do {                                                                             \
		uint64_t w_ =                                                            \
		    atomic_load_explicit(&wp[slot_of(a)], memory_order_relaxed);         \
		int c_ = --countdown;                                                    \
                                                                                         \
		if (LH_UNLIKELY(w_ != 0) || LH_UNLIKELY(c_ <= 0))                        \
			access_slow((a), (n), (flags), w_, RA(), CFA());                 \
	} while (0)

/* Any access: checks the slot of every page it touches. */
static __attribute__((noinline)) void
access_any(uintptr_t a, size_t n, unsigned flags, uintptr_t pc, uintptr_t cfa)
{
	uintptr_t first, last;

	if (n == 0)
		return;
	first = a >> PAGE_BITS;
	last = (a + n - 1) >> PAGE_BITS;
	if (last - first >= WP_SLOTS)
		last = first + WP_SLOTS - 1; /* every slot, once */
	for (uintptr_t p = first; p <= last; p++) {
		size_t s = (size_t)(p & (WP_SLOTS - 1));
		uint64_t w = atomic_load_explicit(&wp[s], memory_order_relaxed);

		if (LH_UNLIKELY(w != 0) && wp_conflicts(w, a, n, flags))
			hit(s, w, a, n, flags, pc, cfa);
	}
	if (--countdown <= 0)
		sample(a, n, flags, pc, cfa);
}

#define ACCESS_UNALIGNED(a, n, flags)                                                    \
	do {                                                                             \
		if (LH_LIKELY(((a) & (PAGE - 1)) + (n) <= PAGE))                         \
			ACCESS(a, n, flags);                                             \
		else                                                                     \
			access_any((a), (n), (flags), RA(), CFA());                      \
	} while (0)

#define HOOK(name, n, flags, how)                                                        \
	LH_EXPORT void name(void *addr);                                                 \
	LH_EXPORT void name(void *addr)                                                  \
	{                                                                                \
		FORWARD_VOID(name, addr);                                                \
		how((uintptr_t)addr, (n), (flags));                                      \
	}

#define HOOKS(n)                                                                         \
	HOOK(__tsan_read##n, n, 0, ACCESS)                                               \
	HOOK(__tsan_write##n, n, ACC_WRITE, ACCESS)                                      \
	HOOK(__tsan_unaligned_read##n, n, 0, ACCESS_UNALIGNED)                           \
	HOOK(__tsan_unaligned_write##n, n, ACC_WRITE, ACCESS_UNALIGNED)                  \
	HOOK(__tsan_volatile_read##n, n, 0, ACCESS)                                      \
	HOOK(__tsan_volatile_write##n, n, ACC_WRITE, ACCESS)                             \
	HOOK(__tsan_unaligned_volatile_read##n, n, 0, ACCESS_UNALIGNED)                  \
	HOOK(__tsan_unaligned_volatile_write##n, n, ACC_WRITE, ACCESS_UNALIGNED)         \
	HOOK(__tsan_read_write##n, n, ACC_WRITE, ACCESS)                                 \
	HOOK(__tsan_unaligned_read_write##n, n, ACC_WRITE, ACCESS_UNALIGNED)

HOOKS(1)
HOOKS(2)
HOOKS(4)
HOOKS(8)
HOOKS(16)

LH_EXPORT void __tsan_read_range(void *addr, unsigned long size);
LH_EXPORT void __tsan_write_range(void *addr, unsigned long size);

LH_EXPORT void
__tsan_read_range(void *addr, unsigned long size)
{
	FORWARD_VOID(__tsan_read_range, addr, size);
	access_any((uintptr_t)addr, size, 0, RA(), CFA());
}

LH_EXPORT void
__tsan_write_range(void *addr, unsigned long size)
{
	FORWARD_VOID(__tsan_write_range, addr, size);
	access_any((uintptr_t)addr, size, ACC_WRITE, RA(), CFA());
}

/* C++: a vtable pointer store is a write only when it changes the pointer. */
LH_EXPORT void __tsan_vptr_update(void **vptr_p, void *new_val);
LH_EXPORT void __tsan_vptr_read(void **vptr_p);

LH_EXPORT void
__tsan_vptr_update(void **vptr_p, void *new_val)
{
	FORWARD_VOID(__tsan_vptr_update, vptr_p, new_val);
	if (*(void *volatile *)vptr_p != new_val)
		ACCESS((uintptr_t)vptr_p, sizeof(void *), ACC_WRITE);
}

LH_EXPORT void
__tsan_vptr_read(void **vptr_p)
{
	FORWARD_VOID(__tsan_vptr_read, vptr_p);
	ACCESS((uintptr_t)vptr_p, sizeof(void *), 0);
}

/* Module constructors of instrumented code call this, maybe before ours. */
LH_EXPORT void __tsan_init(void);

LH_EXPORT void
__tsan_init(void)
{
	lh_ready(); /* which decides whether to forward */
	FORWARD_VOID(__tsan_init);
}

/* ---- atomics --------------------------------------------------------------- */

/*
 * The interface libtsan defines: the memory order is an int in C11's
 * numbering (relaxed 0 ... seq_cst 5); gcc may add flag bits above 0x7fff
 * (HLE hints, __sync lowering), which mean nothing here. An order a C11
 * operation cannot take (a release load) is performed as seq_cst.
 */
typedef signed char a8;
typedef short a16;
typedef int a32;
typedef long long a64;
typedef __int128 a128;

enum { MO_RELAXED, MO_CONSUME, MO_ACQUIRE, MO_RELEASE, MO_ACQ_REL, MO_SEQ_CST };

static inline int
mo_of(int mo)
{
	mo &= 0x7fff;
	return mo <= MO_SEQ_CST ? mo : MO_SEQ_CST;
}

/* An atomic access checks the watchpoints, as an atomic access. */
static inline __attribute__((always_inline)) void
atomic_check(const volatile void *a, size_t n, bool write, uintptr_t pc, uintptr_t cfa)
{
	uintptr_t x = (uintptr_t)a;
	size_t s = slot_of(x);
	uint64_t w = atomic_load_explicit(&wp[s], memory_order_relaxed);
	unsigned flags = ACC_ATOMIC | (write ? ACC_WRITE : 0);

	if (LH_UNLIKELY(w != 0) && wp_conflicts(w, x, n, flags))
		hit(s, w, x, n, flags, pc, cfa);
}

#define LOAD_BODY(a)                                                                     \
	switch (mo_of(mo)) {                                                             \
	case MO_RELAXED:                                                                 \
		return __atomic_load_n(a, __ATOMIC_RELAXED);                             \
	case MO_CONSUME:                                                                 \
		return __atomic_load_n(a, __ATOMIC_CONSUME);                             \
	case MO_ACQUIRE:                                                                 \
		return __atomic_load_n(a, __ATOMIC_ACQUIRE);                             \
	default:                                                                         \
		return __atomic_load_n(a, __ATOMIC_SEQ_CST);                             \
	}

#define STORE_BODY(a, v)                                                                 \
	switch (mo_of(mo)) {                                                             \
	case MO_RELAXED:                                                                 \
		__atomic_store_n(a, v, __ATOMIC_RELAXED);                                \
		return;                                                                  \
	case MO_RELEASE:                                                                 \
		__atomic_store_n(a, v, __ATOMIC_RELEASE);                                \
		return;                                                                  \
	default:                                                                         \
		__atomic_store_n(a, v, __ATOMIC_SEQ_CST);                                \
		return;                                                                  \
	}

#define RMW_BODY(op, a, v)                                                               \
	switch (mo_of(mo)) {                                                             \
	case MO_RELAXED:                                                                 \
		return op(a, v, __ATOMIC_RELAXED);                                       \
	case MO_CONSUME:                                                                 \
		return op(a, v, __ATOMIC_CONSUME);                                       \
	case MO_ACQUIRE:                                                                 \
		return op(a, v, __ATOMIC_ACQUIRE);                                       \
	case MO_RELEASE:                                                                 \
		return op(a, v, __ATOMIC_RELEASE);                                       \
	case MO_ACQ_REL:                                                                 \
		return op(a, v, __ATOMIC_ACQ_REL);                                       \
	default:                                                                         \
		return op(a, v, __ATOMIC_SEQ_CST);                                       \
	}

/*
 * Compare-and-exchange with a success and a failure order. The failure order
 * cannot release (release -> relaxed, acq_rel -> acquire, as C++17 says), and
 * the success order is raised until it is at least as strong, which keeps
 * every order asked for and gives the builtins a valid constant pair.
 */
static inline int
cas_pair(int mo, int fmo)
{
	mo = mo_of(mo);
	fmo = mo_of(fmo);
	if (fmo == MO_RELEASE)
		fmo = MO_RELAXED;
	else if (fmo == MO_ACQ_REL)
		fmo = MO_ACQUIRE;
	if (fmo == MO_SEQ_CST)
		mo = MO_SEQ_CST;
	else if (fmo != MO_RELAXED && (mo == MO_RELAXED || mo == MO_CONSUME))
		mo = fmo; /* consume or acquire */
	else if (fmo != MO_RELAXED && mo == MO_RELEASE)
		mo = MO_ACQ_REL;
	return mo * 8 + fmo;
}

#define CAS_CASE(s, f, a, c, v, weak)                                                    \
	case MO_##s * 8 + MO_##f:                                                        \
		return __atomic_compare_exchange_n(a, c, v, weak, __ATOMIC_##s,          \
		                                   __ATOMIC_##f)

#define CAS_BODY(a, c, v, weak)                                                          \
	switch (cas_pair(mo, fmo)) {                                                     \
		CAS_CASE(RELAXED, RELAXED, a, c, v, weak);                               \
		CAS_CASE(CONSUME, RELAXED, a, c, v, weak);                               \
		CAS_CASE(CONSUME, CONSUME, a, c, v, weak);                               \
		CAS_CASE(ACQUIRE, RELAXED, a, c, v, weak);                               \
		CAS_CASE(ACQUIRE, CONSUME, a, c, v, weak);                               \
		CAS_CASE(ACQUIRE, ACQUIRE, a, c, v, weak);                               \
		CAS_CASE(RELEASE, RELAXED, a, c, v, weak);                               \
		CAS_CASE(ACQ_REL, RELAXED, a, c, v, weak);                               \
		CAS_CASE(ACQ_REL, CONSUME, a, c, v, weak);                               \
		CAS_CASE(ACQ_REL, ACQUIRE, a, c, v, weak);                               \
		CAS_CASE(SEQ_CST, RELAXED, a, c, v, weak);                               \
		CAS_CASE(SEQ_CST, CONSUME, a, c, v, weak);                               \
		CAS_CASE(SEQ_CST, ACQUIRE, a, c, v, weak);                               \
	default:                                                                         \
		return __atomic_compare_exchange_n(a, c, v, weak, __ATOMIC_SEQ_CST,      \
		                                   __ATOMIC_SEQ_CST);                    \
	}

#define NAND(a, v, m) __atomic_fetch_nand(a, v, m)
#define ADD(a, v, m)  __atomic_fetch_add(a, v, m)
#define SUB(a, v, m)  __atomic_fetch_sub(a, v, m)
#define AND(a, v, m)  __atomic_fetch_and(a, v, m)
#define OR(a, v, m)   __atomic_fetch_or(a, v, m)
#define XOR(a, v, m)  __atomic_fetch_xor(a, v, m)
#define XCHG(a, v, m) __atomic_exchange_n(a, v, m)

/*
 * The operation is done first, then checked: only then is it known whether
 * a compare-and-exchange wrote.
 */
/* clang-format off */
#define RMW_FN(bits, name, OP)                                                           \
	static inline a##bits                                                            \
	do_##name##bits(volatile a##bits *a, a##bits v, int mo)                          \
	{                                                                                \
		RMW_BODY(OP, a, v);                                                      \
	}                                                                                \
	LH_EXPORT a##bits                                                                \
	__tsan_atomic##bits##_##name(volatile a##bits *a, a##bits v, int mo);            \
	LH_EXPORT a##bits                                                                \
	__tsan_atomic##bits##_##name(volatile a##bits *a, a##bits v, int mo)             \
	{                                                                                \
		a##bits r;                                                               \
                                                                                         \
		FORWARD(__tsan_atomic##bits##_##name, a, v, mo);                         \
		r = do_##name##bits(a, v, mo);                                           \
		atomic_check(a, sizeof(*a), true, RA(), CFA());                          \
		return r;                                                                \
	}

#define CAS_FN(bits, name, weak)                                                         \
	LH_EXPORT int                                                                    \
	__tsan_atomic##bits##_##name(volatile a##bits *a, a##bits *c, a##bits v, int mo, \
				     int fmo);                                           \
	LH_EXPORT int                                                                    \
	__tsan_atomic##bits##_##name(volatile a##bits *a, a##bits *c, a##bits v, int mo, \
				     int fmo)                                            \
	{                                                                                \
		int ok;                                                                  \
                                                                                         \
		FORWARD(__tsan_atomic##bits##_##name, a, c, v, mo, fmo);                 \
		ok = do_cas##bits(a, c, v, mo, fmo, weak);                               \
		atomic_check(a, sizeof(*a), ok, RA(), CFA());                            \
		return ok;                                                               \
	}

#define ATOMICS(bits)                                                                    \
	static inline a##bits                                                            \
	do_load##bits(const volatile a##bits *a, int mo)                                 \
	{                                                                                \
		LOAD_BODY(a);                                                            \
	}                                                                                \
	LH_EXPORT a##bits __tsan_atomic##bits##_load(const volatile a##bits *a, int mo); \
	LH_EXPORT a##bits                                                                \
	__tsan_atomic##bits##_load(const volatile a##bits *a, int mo)                    \
	{                                                                                \
		a##bits r;                                                               \
                                                                                         \
		FORWARD(__tsan_atomic##bits##_load, a, mo);                              \
		r = do_load##bits(a, mo);                                                \
		atomic_check(a, sizeof(*a), false, RA(), CFA());                         \
		return r;                                                                \
	}                                                                                \
	static inline void                                                               \
	do_store##bits(volatile a##bits *a, a##bits v, int mo)                           \
	{                                                                                \
		STORE_BODY(a, v);                                                        \
	}                                                                                \
	LH_EXPORT void __tsan_atomic##bits##_store(volatile a##bits *a, a##bits v,       \
						   int mo);                              \
	LH_EXPORT void                                                                   \
	__tsan_atomic##bits##_store(volatile a##bits *a, a##bits v, int mo)              \
	{                                                                                \
		FORWARD_VOID(__tsan_atomic##bits##_store, a, v, mo);                     \
		do_store##bits(a, v, mo);                                                \
		atomic_check(a, sizeof(*a), true, RA(), CFA());                          \
	}                                                                                \
	RMW_FN(bits, exchange, XCHG)                                                     \
	RMW_FN(bits, fetch_add, ADD)                                                     \
	RMW_FN(bits, fetch_sub, SUB)                                                     \
	RMW_FN(bits, fetch_and, AND)                                                     \
	RMW_FN(bits, fetch_or, OR)                                                       \
	RMW_FN(bits, fetch_xor, XOR)                                                     \
	RMW_FN(bits, fetch_nand, NAND)                                                   \
	static inline int                                                                \
	do_cas##bits(volatile a##bits *a, a##bits *c, a##bits v, int mo, int fmo,        \
		     bool weak)                                                          \
	{                                                                                \
		if (weak) {                                                              \
			CAS_BODY(a, c, v, true);                                         \
		}                                                                        \
		CAS_BODY(a, c, v, false);                                                \
	}                                                                                \
	CAS_FN(bits, compare_exchange_strong, false)                                     \
	CAS_FN(bits, compare_exchange_weak, true)                                        \
	LH_EXPORT a##bits                                                                \
	__tsan_atomic##bits##_compare_exchange_val(volatile a##bits *a, a##bits c,       \
						   a##bits v, int mo, int fmo);          \
	LH_EXPORT a##bits                                                                \
	__tsan_atomic##bits##_compare_exchange_val(volatile a##bits *a, a##bits c,       \
						   a##bits v, int mo, int fmo)           \
	{                                                                                \
		int ok;                                                                  \
                                                                                         \
		FORWARD(__tsan_atomic##bits##_compare_exchange_val, a, c, v, mo, fmo);   \
		ok = do_cas##bits(a, &c, v, mo, fmo, false);                             \
		atomic_check(a, sizeof(*a), ok, RA(), CFA());                            \
		return c;                                                                \
	}

ATOMICS(8)
ATOMICS(16)
ATOMICS(32)
ATOMICS(64)
ATOMICS(128)
/* clang-format on */

LH_EXPORT void __tsan_atomic_thread_fence(int mo);
LH_EXPORT void __tsan_atomic_signal_fence(int mo);

LH_EXPORT void
__tsan_atomic_thread_fence(int mo)
{
	FORWARD_VOID(__tsan_atomic_thread_fence, mo);
	switch (mo_of(mo)) {
	case MO_RELAXED:
		return;
	case MO_CONSUME:
	case MO_ACQUIRE:
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		return;
	case MO_RELEASE:
		__atomic_thread_fence(__ATOMIC_RELEASE);
		return;
	case MO_ACQ_REL:
		__atomic_thread_fence(__ATOMIC_ACQ_REL);
		return;
	default:
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		return;
	}
}

LH_EXPORT void
__tsan_atomic_signal_fence(int mo)
{
	FORWARD_VOID(__tsan_atomic_signal_fence, mo);
	switch (mo_of(mo)) {
	case MO_RELAXED:
		return;
	case MO_CONSUME:
	case MO_ACQUIRE:
		__atomic_signal_fence(__ATOMIC_ACQUIRE);
		return;
	case MO_RELEASE:
		__atomic_signal_fence(__ATOMIC_RELEASE);
		return;
	case MO_ACQ_REL:
		__atomic_signal_fence(__ATOMIC_ACQ_REL);
		return;
	default:
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		return;
	}
}

/* ---- start-up and fork ----------------------------------------------------- */

/*
 * Whether libtsan is in the process (from the module map: no dlsym here,
 * which may allocate while an allocator's lock is held). Linked before us,
 * it defines every hook and ours are never called; loaded after us (we were
 * preloaded into a TSan program), ours forward to it.
 */
static bool
tsan_present(void)
{
	for (int i = 0; i < lh_module_count(); i++) {
		const struct lh_module *m = lh_module_at(i);
		const char *base = m ? strrchr(m->path, '/') : NULL;

		if (base && strncmp(base + 1, "libtsan.so", 10) == 0)
			return true;
	}
	return false;
}

/* intercept.c's in the runtime (switches its calls to the next public
 * functions); the unit tests' library has no wrappers to switch. */
__attribute__((weak)) void
lh_intercept_defer_to_tsan(void)
{
}

/* The same for intercept.c's inline mutexes. */
__attribute__((weak)) void
lh_intercept_direct_init(void)
{
}

/* At start-up, from lh_init_slow: options, and whether libtsan is here. */
void
lh_race_init(void)
{
	sample_rate = lh_opt.race_sample;
	delay_ns = (uint64_t)lh_opt.race_delay * 1000;
	if (tsan_present()) {
		lh_warn(
		    "ThreadSanitizer (libtsan) is in this process: lockhound leaves the "
		    "-fsanitize=thread hooks and race detection to it");
		lh_tsan = true;
		lh_intercept_defer_to_tsan();
		forward = true;
		return;
	}
	atomic_store(&detecting, sample_rate > 0);
}

/*
 * In the child after fork only the forking thread exists: every watch, claim
 * and other thread's block is gone with its thread.
 */
void
lh_race_atfork_child(void)
{
	for (size_t s = 0; s < WP_SLOTS; s++) {
		atomic_store(&wp[s], 0);
		atomic_store(&wp_other[s].state, OTHER_EMPTY);
	}
	lh_mutex_reset(&blocks_mu);
	atomic_store(&nthreads, lh_race_self ? 1 : 0);
	if (lh_race_self)
		lh_race_self->tid = lh_gettid();
}
