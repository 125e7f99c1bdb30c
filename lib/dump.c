/*
 * Thread dumps: every thread of the process, its state, the locks it holds
 * and the one it waits for, and its stack, on request (the dump signal,
 * lh_dump(), `lockhound dump PID`), while the program goes on.
 *
 * Nothing heavy runs in a signal handler. The dump signal's handler (and a
 * `lockhound dump` request, which arrives as the runtime's real-time signal
 * with a value) only posts a request: an atomic word and a futex wake, no
 * file descriptor that the program could close under us. The dump thread
 * waits on that word. It is started the first time the program creates a
 * thread (pthread_create, intercept.c): a process that stays single-threaded
 * (one that calls unshare(CLONE_NEWUSER), or any small tool in an exec
 * chain) never gets an extra thread. The child of a fork starts its own the
 * same way. With dump_signal=0 (and in setuid programs) nothing is
 * installed and no thread is made.
 *
 * A dump (the dump thread, or lh_dump() in the calling thread) lists
 * /proc/self/task, marks one preallocated slot per thread "requested" and
 * sends each thread the real-time signal (rt_tgsigqueueinfo, with our magic
 * in its value, so that the program's own uses of that signal are told
 * apart and chained to its handler). Each thread's handler
 * unwinds its own stack into its slot, with its held locks, wait record and
 * name as they are at that moment, and wakes the collector; the collector
 * waits a bounded time, asks /proc/self/task/TID/status about the threads
 * that did not answer (a thread that blocks the signal, a stopped thread, a
 * thread gone), and then reads the runtime's tables under the registry:
 * the held locks and wait record of threads that did not answer, the
 * owners of awaited locks, and any wait-for cycle (deadlock.c). The text goes to stderr and one
 * thread-dump record to the log, or both to `lockhound dump`.
 *
 * A process without a dump thread (it never created one) is dumped by the
 * handler itself: its one thread, with raw addresses and no log record.
 *
 * Every function reachable from a handler is marked async-signal-safe and
 * calls nothing else: system calls, atomics, lock-free reads, and trylocks
 * of the runtime's own mutexes. dump_mu serializes collectors; a collector
 * takes the registry, then graph_mu and report_mu, like deadlock.c. The
 * dump thread also moves the coarse clock (lh_tick_ms) every 10 ms, so that
 * "held for N ms" is right to 10 ms. A dump of 100 threads takes a few ms.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <unwind.h>

#include "acquire.h"

#define MAX_THREADS      4096 /* threads one dump lists */
#define ANSWER_MS        1000 /* the longest wait for the threads' answers */
#define CHECK_MS         50   /* how often /proc is asked about threads not answering */
#define TICK_MS          10   /* the dump thread moves lh_tick_ms this often */
#define MAX_DEADLOCKS    16
#define MAX_SHOWN_OWNERS 8
#define MAX_CLI          8 /* `lockhound dump` requests waiting at once */

extern int real_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
__asm__(".symver real_sigaction, __sigaction@GLIBC_2.2.5");

/* ---- state shared with the handlers -------------------------------------- */

/* A thread's wait record, as a dump shows it (lh_thread's wait_ fields). */
struct wait_view {
	uint8_t kind, mode, type;
	uintptr_t addr, mutex;
	uint64_t since_ns;
	lh_stack_id stack;
};

enum slot_state { SLOT_FREE = 0, SLOT_REQUESTED, SLOT_WRITING, SLOT_DONE };
#define SLOT_HELD 16 /* held locks a slot keeps */

/*
 * One thread's answer. The collector moves a slot from FREE or DONE to
 * REQUESTED; only the thread named by tid moves it on, REQUESTED ->
 * WRITING -> DONE, in its handler; the collector takes back a slot that
 * was not answered with REQUESTED -> FREE. So a late answer never lands in
 * a slot that is no longer its own.
 */
struct slot {
	_Atomic int state;
	_Atomic pid_t tid;
	int n;
	bool truncated;
	struct lh_frame frames[LH_STACK_MAX];
	/*
	 * The thread's held locks and wait record at the same moment as its
	 * stack (snap: it has state). Read later, under the registry, they
	 * could tell another story: the signal cuts a sleep(3) or a poll(2)
	 * short (EINTR), and a thread that then lets go of its locks, or
	 * exits, was shown sleeping with its locks and holding none.
	 */
	bool snap, held_more;
	char name[16]; /* "" if /proc did not say */
	uint32_t nheld;
	struct lh_held held[SLOT_HELD];
	struct wait_view wait;
};

static struct slot *slots;       /* MAX_THREADS of them, mapped once, never unmapped */
static _Atomic int nslots;       /* the handlers look at slots[0..nslots) */
static _Atomic uint32_t answers; /* futex word: bumped by every answer */

#define REQ_SIGNAL 1u
#define REQ_CLI    2u
static _Atomic uint32_t requests; /* futex word: what the dump thread is asked */
static _Atomic uint32_t cli_cookies[MAX_CLI]; /* `lockhound dump` sockets; 0 = free */

static int rtsig;    /* the runtime's signal; 0 when dumps by signal are off */
static int dump_sig; /* dump_signal */
static _Atomic bool dump_sig_ours; /* our handler is dump_sig's action */
static struct sigaction prev_dump; /* dump_sig's action before ours: chained */
static struct sigaction app_rt[2]; /* the program's action for rtsig ... */
static _Atomic int app_rt_cur;     /* ... the current one of the two */
static lh_mutex_t app_rt_mu = LH_MUTEX_INIT;

enum { W_NONE = 0, W_RUNNING, W_FAILED };
static _Atomic int watcher;
static _Atomic pid_t watcher_tid;
static lh_mutex_t start_mu = LH_MUTEX_INIT;
static lh_mutex_t dump_mu = LH_MUTEX_INIT;
static _Atomic int start_warned, refused_warned, takeover_warned, fallback_busy;

/* lh_self of the dump thread: its lock calls (if any) pass straight through. */
static struct lh_thread dumper = {.busy = 1};

/* ---- async-signal-safe helpers ------------------------------------------- */

/* async-signal-safe */
static void
wake_all(_Atomic uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static void
wait_word(_Atomic uint32_t *word, uint32_t val, int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}

struct sigwalk {
	struct lh_frame *out;
	int max, n;
	bool truncated;
	bool past_signal; /* the handler's own frames are behind */
};

/*
 * async-signal-safe: libgcc 12 finds unwind tables through glibc's lock-free
 * _dl_find_object, and its one-time set-up ran at start-up (lh_stack_init).
 * Frames up to the signal frame are the handler's own and are skipped; the
 * interrupted frame's pc is made to look like a return address.
 */
static _Unwind_Reason_Code
sigwalk_cb(struct _Unwind_Context *ctx, void *arg)
{
	struct sigwalk *w = arg;
	int before = 0;
	uintptr_t pc = _Unwind_GetIPInfo(ctx, &before);

	if (pc == 0)
		return _URC_END_OF_STACK;
	if (!w->past_signal) {
		if (!before)
			return _URC_NO_REASON;
		w->past_signal = true;
	}
	if (before)
		pc++;
	if (w->n >= w->max) {
		w->truncated = true;
		return _URC_END_OF_STACK;
	}
	w->out[w->n].pc = pc;
	w->out[w->n].cfa = _Unwind_GetCFA(ctx);
	w->out[w->n].start = _Unwind_GetRegionStart(ctx);
	w->n++;
	return _URC_NO_REASON;
}

/* The frames of the code the current signal interrupted. async-signal-safe */
static void
unwind_interrupted(struct sigwalk *w)
{
	_Unwind_Backtrace(sigwalk_cb, w);
}

/* t's wait record, read without its cooperation. async-signal-safe */
static void
wait_view_of(const struct lh_thread *t, struct wait_view *w)
{
	w->addr = atomic_load(&t->wait_addr);
	w->kind = w->addr ? atomic_load(&t->wait_kind) : LH_WAIT_NONE;
	w->mode = t->wait_mode;
	w->type = t->wait_type;
	w->mutex = t->wait_mutex;
	w->since_ns = t->wait_since_ns;
	w->stack = atomic_load(&t->wait_stack);
}

/* The calling thread's held locks and wait record, into its slot s: its
 * own state, which nothing else writes. async-signal-safe */
static void
snapshot(struct slot *s, pid_t me)
{
	const struct lh_thread *t = lh_self;
	uint32_t n;

	s->snap = false;
	lh_thread_name(me, s->name, sizeof(s->name));
	if (!t || t == &dumper || t->tid != me) /* no state, or exiting (tid 0) */
		return;
	n = t->nheld < t->held_cap ? t->nheld : t->held_cap;
	s->held_more = n > SLOT_HELD;
	s->nheld = s->held_more ? 0 : n;
	for (uint32_t i = 0; i < s->nheld; i++)
		s->held[i] = t->held[i];
	wait_view_of(t, &s->wait);
	s->snap = true;
}

/* The collector asked this thread for its stack. async-signal-safe */
static void
answer(void)
{
	pid_t me = lh_gettid();
	int n = atomic_load_explicit(&nslots, memory_order_acquire);

	for (int i = 0; slots && i < n; i++) {
		struct slot *s = &slots[i];
		int want = SLOT_REQUESTED;
		struct sigwalk w;

		if (atomic_load_explicit(&s->tid, memory_order_relaxed) != me)
			continue;
		if (!atomic_compare_exchange_strong(&s->state, &want, SLOT_WRITING))
			continue;
		if (atomic_load(&s->tid) != me) { /* the slot went to another thread */
			atomic_store(&s->state, SLOT_REQUESTED);
			continue;
		}
		w = (struct sigwalk){s->frames, LH_STACK_MAX, 0, false, false};
		unwind_interrupted(&w);
		s->n = w.n;
		s->truncated = w.truncated;
		snapshot(s, me);
		atomic_store_explicit(&s->state, SLOT_DONE, memory_order_release);
		atomic_fetch_add(&answers, 1);
		wake_all(&answers);
		return;
	}
}

/* Calls a program's signal action (a handler we replaced or keep aside).
 * async-signal-safe, as far as the program's handler is. */
static void
chain(const struct sigaction *a, int sig, siginfo_t *si, void *uc)
{
	void (*h)(int) = a->sa_handler;

	if (h == SIG_DFL || h == SIG_IGN || h == NULL)
		return;
	if (a->sa_flags & SA_SIGINFO)
		a->sa_sigaction(sig, si, uc);
	else
		h(sig);
}

/* ---- the handler's own dump, for a process without a dump thread --------- */

/* Output of the handler's dump: a static buffer (handlers may run on a small
 * alternate stack), flushed with write(2) or send(2). */
struct out {
	int fd;
	bool sock;
	size_t len;
	char buf[2048];
};

static struct out fb_out;                       /* under fallback_busy */
static struct lh_frame fb_frames[LH_STACK_MAX]; /* under fallback_busy */

/* async-signal-safe */
static void
send_all(int fd, bool sock, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = sock ? send(fd, p, n, MSG_NOSIGNAL) : write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* async-signal-safe */
static void
out_flush(struct out *o)
{
	send_all(o->fd, o->sock, o->buf, o->len);
	o->len = 0;
}

/* async-signal-safe */
static void
out_putn(struct out *o, const char *s, size_t n)
{
	while (n > 0) {
		size_t k = sizeof(o->buf) - o->len;

		if (k == 0) {
			out_flush(o);
			continue;
		}
		if (k > n)
			k = n;
		memcpy(o->buf + o->len, s, k);
		o->len += k;
		s += k;
		n -= k;
	}
}

/* async-signal-safe */
static void
out_str(struct out *o, const char *s)
{
	out_putn(o, s, strlen(s));
}

/* async-signal-safe */
static void
out_u64(struct out *o, uint64_t v)
{
	char tmp[24];

	out_putn(o, tmp, lh_fmt_u64(tmp, v));
}

/* async-signal-safe */
static void
out_hex(struct out *o, uint64_t v)
{
	char tmp[24];

	out_putn(o, tmp, lh_fmt_hex(tmp, v));
}

static const char *const type_names[] = {"mutex", "rwlock", "spinlock", "mtx_t",
                                         "condition variable"};

/* async-signal-safe */
static const char *
type_name(unsigned type)
{
	return type < LH_TYPE_COUNT ? type_names[type] : "lock";
}

/* async-signal-safe */
static uint32_t
now_ms_safe(void)
{
	return (uint32_t)((lh_now_ns() - lh_tick_origin_ns) / 1000000);
}

/* A lock as the handler can name it: its annotation or the label a report
 * already made, and its type and address. async-signal-safe */
static void
out_lock(struct out *o, const struct lh_lock *lk, uint64_t id, uintptr_t addr)
{
	const char *name = NULL;

	if (lk && lk->id == id) {
		const struct lh_gnode *g = lk->gnode;

		name = lk->name ? lk->name : g && g->label ? g->label : NULL;
	}
	if (name) {
		out_str(o, name);
		out_str(o, " (");
	}
	out_str(o, lk ? type_name(lk->type) : "lock");
	out_str(o, " ");
	out_hex(o, addr);
	if (name)
		out_str(o, ")");
}

/* async-signal-safe */
static void
out_basename(struct out *o, const char *path)
{
	const char *s = path;

	for (const char *p = path; *p; p++)
		if (*p == '/')
			s = p + 1;
	out_str(o, s);
}

/* async-signal-safe */
static void
out_wait(struct out *o, const struct lh_thread *t)
{
	uintptr_t addr = atomic_load(&t->wait_addr);
	uint64_t waited = (lh_now_ns() - t->wait_since_ns) / 1000000;
	const struct lh_lock *lk;

	switch (addr ? atomic_load(&t->wait_kind) : LH_WAIT_NONE) {
	case LH_WAIT_LOCK:
		lk = lh_locktab_find((void *)addr);
		out_str(o, "waiting for ");
		out_lock(o, lk, lk ? lk->id : 0, addr);
		break;
	case LH_WAIT_COND:
		out_str(o, "waiting on condition variable ");
		out_hex(o, addr);
		break;
	case LH_WAIT_SEM:
		out_str(o, "waiting on semaphore ");
		out_hex(o, addr);
		break;
	case LH_WAIT_BARRIER:
		out_str(o, "waiting at barrier ");
		out_hex(o, addr);
		break;
	default:
		out_str(o, "running");
		return;
	}
	out_str(o, ", for ");
	out_u64(o, waited);
	out_str(o, " ms");
}

/* Connects to the socket `lockhound dump` listens on for cookie; -1 unless
 * its listener runs as our user. async-signal-safe */
static int
cli_connect(uint32_t cookie)
{
	struct sockaddr_un a;
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	struct timeval tv = {2, 0};
	size_t l = 1 + strlen(LH_DUMP_SOCKET_PREFIX);
	int fd;

	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	memcpy(a.sun_path + 1, LH_DUMP_SOCKET_PREFIX, l - 1);
	for (int i = 7; i >= 0; i--)
		a.sun_path[l++] = "0123456789abcdef"[(cookie >> (4 * i)) & 15];
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a,
	            (socklen_t)(offsetof(struct sockaddr_un, sun_path) + l)) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0 ||
	    cr.uid != getuid()) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The dump of a process without a dump thread: the interrupted thread only
 * (the process never created another), from the handler, with what is safe
 * here: its wait record, its held locks by address (and names reports have
 * made), raw frames. To stderr, or to `lockhound dump` for cookie.
 * async-signal-safe
 */
static void
fallback(uint32_t cookie)
{
	struct out *o = &fb_out;
	struct lh_thread *t = lh_self;
	pid_t me = lh_gettid(), pid = getpid();
	struct sigwalk w = {fb_frames, LH_STACK_MAX, 0, false, false};
	char name[16];

	if (atomic_exchange(&fallback_busy, 1))
		return;
	o->len = 0;
	o->sock = cookie != 0;
	o->fd = cookie ? cli_connect(cookie) : 2;
	if (o->fd < 0)
		goto out;
	if (t && t->tid != me)
		t = NULL; /* a stand-in (busy, untracked): nothing recorded */
	if (cookie)
		out_str(o, LH_DUMP_PROTOCOL);
	out_str(o, "lockhound: thread-dump: 1 thread (pid ");
	out_u64(o, (uint64_t)pid);
	out_str(o, "), written by the signal handler\n  thread ");
	out_u64(o, (uint64_t)me);
	lh_thread_name(me, name, sizeof(name));
	if (name[0]) {
		out_str(o, " \"");
		out_str(o, name);
		out_str(o, "\"");
	}
	if (me == pid)
		out_str(o, " (main)");
	out_str(o, ": ");
	if (t)
		out_wait(o, t);
	else
		out_str(o, "running");
	out_str(o, "\n");
	for (uint32_t i = 0; t && i < t->nheld && i < t->held_cap; i++) {
		const struct lh_held *h = &t->held[i];
		uint32_t now = now_ms_safe();

		out_str(o, "    holds ");
		out_lock(o, h->lock, h->id, h->addr);
		if (h->mode == LH_MODE_READ)
			out_str(o, " for reading");
		if (h->since_ms && now >= h->since_ms) {
			out_str(o, ", for about ");
			out_u64(o, now - h->since_ms);
			out_str(o, " ms");
		}
		out_str(o, ", taken at ");
		out_hex(o, h->pc);
		out_str(o, "\n");
	}
	out_str(o, "    stack:\n");
	unwind_interrupted(&w);
	for (int i = 0; i < w.n; i++) {
		const struct lh_module *m = lh_module_find_try(fb_frames[i].pc);

		out_str(o, "      #");
		out_u64(o, (uint64_t)i);
		out_str(o, i < 10 ? "  " : " ");
		out_hex(o, fb_frames[i].pc);
		if (m) {
			out_str(o, " (");
			out_basename(o, m->path);
			out_str(o, "+");
			out_hex(o, fb_frames[i].pc - m->bias);
			out_str(o, ")");
		}
		out_str(o, "\n");
	}
	if (w.truncated)
		out_str(o, "      ...\n");
	out_str(
	    o,
	    "  (no dump thread: the process never created a thread; see lockhound(7))\n");
	if (cookie)
		out_putn(o, "\0\0", 2);
	out_flush(o);
	if (cookie)
		close(o->fd);
out:
	atomic_store(&fallback_busy, 0);
}

/* ---- the handlers ---------------------------------------------------------- */

/* A dump is wanted: wake the dump thread, or dump here without one.
 * async-signal-safe */
static void
post(uint32_t what, uint32_t cookie)
{
	if (atomic_load(&watcher) != W_RUNNING) {
		fallback(cookie);
		return;
	}
	for (int i = 0; cookie && i < MAX_CLI; i++) {
		uint32_t free_slot = 0;

		if (atomic_compare_exchange_strong(&cli_cookies[i], &free_slot, cookie))
			break;
	}
	atomic_fetch_or(&requests, what);
	wake_all(&requests);
}

/* dump_signal. async-signal-safe */
static void
on_dump_signal(int sig, siginfo_t *si, void *uc)
{
	int err = errno;

	post(REQ_SIGNAL, 0);
	chain(&prev_dump, sig, si, uc);
	errno = err;
}

/*
 * The runtime's real-time signal, with our magic in its value: from a
 * collector in this process (cookie 0), asking this thread for its stack;
 * or from `lockhound dump` (its cookie), asking for a dump. Anything else
 * (the program's own raise() or sigqueue() of that signal) goes to the
 * program's action for it, if it set one. async-signal-safe
 */
static void
on_rtsig(int sig, siginfo_t *si, void *uc)
{
	int err = errno;
	uint64_t v = (uint64_t)(uintptr_t)si->si_value.sival_ptr;

	if (si->si_code == SI_QUEUE && v >> 32 == LH_DUMP_MAGIC &&
	    si->si_uid == getuid()) {
		if ((uint32_t)v == 0) {
			if (si->si_pid == getpid())
				answer();
		} else {
			post(REQ_CLI, (uint32_t)v);
		}
	} else {
		chain(&app_rt[atomic_load(&app_rt_cur) & 1], sig, si, uc);
	}
	errno = err;
}

/* Asks thread tid for its stack: the runtime's signal with our magic and
 * cookie 0 (rt_tgsigqueueinfo; a plain tgkill could not be told from the
 * program's own). 0 or -1 with errno. */
static int
ask(pid_t pid, pid_t tid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	si.si_signo = rtsig;
	si.si_code = SI_QUEUE;
	si.si_pid = pid;
	si.si_uid = getuid();
	si.si_value.sival_ptr = (void *)(uintptr_t)(LH_DUMP_MAGIC << 32);
	return (int)syscall(SYS_rt_tgsigqueueinfo, pid, tid, rtsig, &si);
}

/* ---- installation ----------------------------------------------------------- */

/*
 * At start-up: installs the handlers of dump_signal and of the runtime's
 * real-time signal (SA_RESTART | SA_ONSTACK), unless dump_signal is 0 or
 * the program is setuid. A handler the program already had for dump_signal
 * is chained to.
 */
void
lh_dump_init(void)
{
	struct sigaction sa;
	void *p;

	if (lh_secure || lh_opt.dump_signal <= 0)
		return;
	p = mmap(NULL, MAX_THREADS * sizeof(struct slot), PROT_READ | PROT_WRITE,
	         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		lh_warn(
		    "out of memory for thread dumps; the dump signal is not installed");
		return;
	}
	slots = p;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
	sa.sa_sigaction = on_rtsig;
	if (real_sigaction(SIGRTMAX - LH_DUMP_RTSIG_BELOW_MAX, &sa, &app_rt[0]) != 0)
		return;
	rtsig = SIGRTMAX - LH_DUMP_RTSIG_BELOW_MAX;
	dump_sig = lh_opt.dump_signal;
	if (real_sigaction(dump_sig, NULL, &prev_dump) != 0)
		return;
	/* The program's handler, chained to, runs with the mask it asked for. */
	if (prev_dump.sa_handler != SIG_DFL && prev_dump.sa_handler != SIG_IGN)
		sa.sa_mask = prev_dump.sa_mask;
	sa.sa_sigaction = on_dump_signal;
	if (real_sigaction(dump_sig, &sa, NULL) == 0)
		atomic_store(&dump_sig_ours, true);
}

static void *watcher_main(void *arg);

/*
 * The program is about to create a thread (pthread_create): the process
 * becomes multithreaded, so the dump thread starts now, with create (the
 * real pthread_create). It blocks every signal but the runtime's own, so
 * that it never takes a signal meant for the program. Once per process.
 */
void
lh_dump_start(lh_create_fn create)
{
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t th;
	int rc;

	if (!rtsig || atomic_load(&watcher) != W_NONE)
		return;
	lh_mutex_lock(&start_mu);
	if (atomic_load(&watcher) != W_NONE) {
		lh_mutex_unlock(&start_mu);
		return;
	}
	sigfillset(&all);
	sigdelset(&all, rtsig);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = create(&th, &attr, watcher_main, NULL);
	if (rc == 0) {
		pthread_setname_np(th, "lockhound"); /* for ps and top; not dumped */
		while (!atomic_load(&watcher_tid))   /* its first act: never listed */
			sched_yield();
	}
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	atomic_store(&watcher, rc == 0 ? W_RUNNING : W_FAILED);
	lh_mutex_unlock(&start_mu);
	if (rc != 0)
		lh_warn_once(&start_warned,
		             "cannot start the dump thread; a dump shows only "
		             "the thread that got the signal");
}

/* Whether the runtime watches sig's disposition (see lh_dump_sigaction). */
bool
lh_dump_owns(int sig)
{
	return rtsig && (sig == rtsig || sig == dump_sig);
}

/* The one warning when the program takes the dump signal over: written
 * with write(2), since sigaction() may be called from a signal handler. */
static void
say_takeover(void)
{
	char buf[256], name[32];

	if (atomic_exchange(&takeover_warned, 1))
		return;
	strcpy(buf, "lockhound: warning: the program installed its own ");
	strcat(buf, lh_signal_name(dump_sig, name, sizeof(name)));
	strcat(buf, " action; it wins: that signal no longer dumps threads "
	            "(lockhound dump PID still does; see dump_signal)\n");
	send_all(2, false, buf, strlen(buf));
}

/*
 * The program's sigaction() for a signal the runtime uses. For the runtime's
 * real-time signal the program's action is kept aside and chained to for
 * every signal that is not the runtime's; the runtime's handler stays. For
 * the dump signal the program's action is installed: the program wins, and
 * the runtime says so once. Returns true when it took the call (*rc is
 * sigaction's result, errno set on failure); false: not one of ours.
 */
bool
lh_dump_sigaction(int sig, const struct sigaction *act, struct sigaction *old, int *rc)
{
	if (!rtsig)
		return false;
	if (sig == rtsig) {
		int cur;

		lh_mutex_lock(&app_rt_mu);
		cur = atomic_load(&app_rt_cur) & 1;
		if (old)
			*old = app_rt[cur];
		if (act) {
			app_rt[!cur] = *act;
			atomic_store(&app_rt_cur, !cur);
		}
		lh_mutex_unlock(&app_rt_mu);
		*rc = 0;
		return true;
	}
	if (sig != dump_sig || !act)
		return false;
	*rc = real_sigaction(sig, act, old);
	if (*rc == 0) {
		bool ours =
		    (act->sa_flags & SA_SIGINFO) && act->sa_sigaction == on_dump_signal;

		if (atomic_exchange(&dump_sig_ours, ours) && !ours)
			say_takeover();
	}
	return true;
}

/* In the child after fork: no dump thread (the next pthread_create starts
 * one), no dump in progress. The handlers are inherited. */
void
lh_dump_atfork_child(void)
{
	int n = atomic_load(&nslots);

	atomic_store(&watcher, W_NONE);
	atomic_store(&watcher_tid, 0);
	atomic_store(&requests, 0);
	for (int i = 0; i < MAX_CLI; i++)
		atomic_store(&cli_cookies[i], 0);
	for (int i = 0; slots && i < n; i++)
		atomic_store(&slots[i].state, SLOT_FREE);
	atomic_store(&nslots, 0);
	atomic_store(&fallback_busy, 0);
	lh_mutex_reset(&dump_mu);
	lh_mutex_reset(&start_mu);
	lh_mutex_reset(&app_rt_mu);
}

/* ---- a dump: what the collector gathers ------------------------------------ */

enum trigger { TRIGGER_SIGNAL, TRIGGER_CALL, TRIGGER_CLI };

enum no_answer {
	NA_NONE = 0,
	NA_TIMEOUT,   /* did not answer in ANSWER_MS */
	NA_BLOCKED,   /* blocks the runtime's signal */
	NA_STOPPED,   /* stopped or traced */
	NA_NOSIGNALS, /* dumps by signal are off: nobody is asked */
	NA_FULL,      /* more threads than slots */
	NA_SEND,      /* the request could not be sent (signal queue full) */
	NA_INCALL,    /* in a call the signal would end (a quiet dump) */
};

struct dheld {
	struct lh_held h; /* a copy */
	struct lh_gnode *g;
	uint32_t waiters;
	lh_stack_id taken;
};

struct dthread {
	pid_t tid;
	char name[16];
	int slot; /* -1: none */
	int no_answer;
	char sched; /* /proc state of a thread that did not answer */
	bool answered, gone, self, tracked, dead;
	const char *in_call; /* NA_INCALL: the call, as call_a_signal_ends names it */
	bool blocking_seen; /* at the last check: the signal blocked and pending */
	const struct lh_frame *frames;
	int nframes;
	bool truncated;
	lh_stack_id stack;
	struct wait_view wait; /* its wait record */
	struct lh_gnode *wait_g, *mutex_g;
	pid_t owners[MAX_SHOWN_OWNERS];
	int nowners;
	bool changing_hands; /* the awaited lock was free when read */
	/* its held locks */
	uint32_t nheld;
	struct dheld *held;
};

struct dump {
	enum trigger why;
	bool quiet; /* threads in calls a signal would end are not asked */
	struct dthread *th;
	int n, cap;
	long more; /* threads beyond MAX_THREADS */
	struct lh_waitchain *dl;
	int ndl;
	uint64_t now_ns;
	uint32_t now_ms;
};

static pid_t tids[MAX_THREADS];                   /* under dump_mu */
static struct lh_frame self_frames[LH_STACK_MAX]; /* under dump_mu */
static pid_t blockers[64];                        /* threads that block rtsig */
static int nblockers;

static int
cmp_tid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

static void
sort_tids(pid_t *a, int n)
{
	for (int i = 1; i < n; i++) {
		pid_t v = a[i];
		int j = i;

		while (j > 0 && cmp_tid(&a[j - 1], &v) > 0) {
			a[j] = a[j - 1];
			j--;
		}
		a[j] = v;
	}
}

/* A thread's signals from /proc/self/task/TID/status: blocked, and pending
 * for it alone. */
struct sigs {
	uint64_t blocked, pending;
};

static uint64_t
hex_field(const char *c)
{
	uint64_t v = 0;

	for (; (*c >= '0' && *c <= '9') || ((*c | 32) >= 'a' && (*c | 32) <= 'f'); c++)
		v = v * 16 + (uint64_t)(*c <= '9' ? *c - '0' : (*c | 32) - 'a' + 10);
	return v;
}

/* /proc/self/task/TID/status (or /proc/self/status with tid 0): the
 * scheduler state letter, the thread's signals, the process's number of
 * threads; each only if asked for. False if the thread is gone. */
static bool
proc_status(pid_t tid, char *state, struct sigs *sigs, long *threads)
{
	char buf[4096];

	if (lh_task_file(tid, "status", buf, sizeof(buf)) <= 0)
		return false;
	for (char *line = buf; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (state && strncmp(line, "State:\t", 7) == 0) {
			*state = line[7];
		} else if (sigs && strncmp(line, "SigBlk:\t", 8) == 0) {
			sigs->blocked = hex_field(line + 8);
		} else if (sigs && strncmp(line, "SigPnd:\t", 8) == 0) {
			sigs->pending = hex_field(line + 8);
		} else if (threads && strncmp(line, "Threads:\t", 9) == 0) {
			long v = 0;

			for (const char *c = line + 9; *c >= '0' && *c <= '9'; c++)
				v = v * 10 + (*c - '0');
			*threads = v;
		}
	}
	return true;
}

static bool
sig_in(uint64_t mask, int sig)
{
	return sig > 0 && (mask >> (sig - 1)) & 1;
}

static bool
is_blocker(pid_t tid)
{
	for (int i = 0; i < nblockers; i++)
		if (blockers[i] == tid)
			return true;
	return false;
}

static void
set_blocker(pid_t tid, bool on)
{
	for (int i = 0; i < nblockers; i++) {
		if (blockers[i] != tid)
			continue;
		if (!on)
			blockers[i] = blockers[--nblockers];
		return;
	}
	if (on && nblockers < (int)LH_ARRAY_SIZE(blockers))
		blockers[nblockers++] = tid;
}

/* The next slot a new request can use, from *cursor on; -1 if none. */
static int
free_slot(int *cursor)
{
	for (; *cursor < MAX_THREADS; (*cursor)++) {
		int st = atomic_load(&slots[*cursor].state);

		if (st == SLOT_FREE || st == SLOT_DONE)
			return (*cursor)++;
	}
	return -1;
}

/* Gives a request back unanswered; false if its thread is answering now. */
static bool
abandon(struct dthread *dt)
{
	int want = SLOT_REQUESTED;

	if (dt->slot < 0)
		return true;
	if (!atomic_compare_exchange_strong(&slots[dt->slot].state, &want, SLOT_FREE))
		return false;
	dt->slot = -1;
	return true;
}

/* Takes an answer if there is one. */
static bool
take_answer(struct dthread *dt)
{
	struct slot *s;

	if (dt->slot < 0)
		return false;
	s = &slots[dt->slot];
	if (atomic_load_explicit(&s->state, memory_order_acquire) != SLOT_DONE)
		return false;
	dt->answered = true;
	dt->frames = s->frames;
	dt->nframes = s->n;
	dt->truncated = s->truncated;
	return true;
}

/*
 * Asks /proc about the threads that have not answered yet: those gone or
 * stopped will not. Nor will one that blocks the signal: it shows the
 * signal blocked and still pending for it, at two checks in a row. (While a
 * thread runs the handler, the signal is blocked too, but no longer
 * pending; glibc blocks every signal for a moment in a few calls.)
 */
static void
check_pending(struct dump *d)
{
	for (int i = 0; i < d->n; i++) {
		struct dthread *dt = &d->th[i];
		struct sigs sg = {0, 0};
		char state = '?';

		if (dt->answered || dt->slot < 0)
			continue;
		if (!proc_status(dt->tid, &state, &sg, NULL) || state == 'Z' || state == 'X') {
			if (abandon(dt))
				dt->gone = true;
		} else if (sig_in(sg.blocked, rtsig) && sig_in(sg.pending, rtsig)) {
			if (dt->blocking_seen && abandon(dt)) {
				dt->no_answer = NA_BLOCKED;
				set_blocker(dt->tid, true);
			}
			dt->blocking_seen = true;
		} else if (state == 'T' || state == 't') {
			if (abandon(dt)) {
				dt->no_answer = NA_STOPPED;
				dt->sched = state;
			}
		} else {
			dt->blocking_seen = false;
		}
	}
}

static const char *call_a_signal_ends(pid_t tid);

/*
 * Phase one: the list of threads and their stacks. Every thread but the
 * dump thread is listed; the collector unwinds itself (from self_cfa);
 * the others are asked with the runtime's signal and waited for, at most
 * ANSWER_MS, but in a quiet dump (dump_interrupt=0, or `lockhound dump
 * --no-interrupt`) not those in a call that the signal would end early (a
 * sleep, poll, epoll_wait, a socket call...): they are shown with that
 * call and their locks, without a stack. Returns 0 or a negative errno.
 */
static int
collect(struct dump *d, uintptr_t self_cfa)
{
	pid_t me = lh_gettid(), w = atomic_load(&watcher_tid), pid = getpid();
	int n = lh_task_list(tids, MAX_THREADS), cursor = 0, high = 0, pending;
	uint64_t start, next_check, end;

	if (n <= 0) { /* no /proc: at least ourselves */
		tids[0] = me;
		n = 1;
	}
	if (n == MAX_THREADS && proc_status(0, NULL, NULL, &d->more))
		d->more = d->more > n ? d->more - n : 0;
	sort_tids(tids, n);
	d->cap = n + 16;
	d->th = lh_alloc((size_t)d->cap * sizeof(*d->th));
	if (!d->th)
		return -ENOMEM;
	/* Requests left over from an earlier dump whose thread never answered. */
	for (int i = 0; slots && i < atomic_load(&nslots); i++) {
		int want = SLOT_REQUESTED;

		atomic_compare_exchange_strong(&slots[i].state, &want, SLOT_FREE);
	}
	for (int i = 0; i < n; i++) {
		struct dthread *dt;
		int k;

		if (tids[i] == w)
			continue;
		dt = &d->th[d->n++];
		dt->tid = tids[i];
		dt->slot = -1;
		if (dt->tid == me) {
			dt->self = true;
			dt->frames = self_frames;
			dt->nframes = lh_unwind(self_frames, LH_STACK_MAX, self_cfa);
			continue;
		}
		if (!rtsig || !slots) {
			dt->no_answer = NA_NOSIGNALS;
			continue;
		}
		if (is_blocker(dt->tid)) {
			struct sigs sg = {0, 0};

			if (proc_status(dt->tid, NULL, &sg, NULL) &&
			    sig_in(sg.blocked, rtsig)) {
				dt->no_answer = NA_BLOCKED;
				continue;
			}
			set_blocker(dt->tid, false);
		}
		/* a quiet dump: a signal must not end its sleep early */
		if (d->quiet && (dt->in_call = call_a_signal_ends(dt->tid)) != NULL) {
			dt->no_answer = NA_INCALL;
			continue;
		}
		if ((k = free_slot(&cursor)) < 0) {
			dt->no_answer = NA_FULL;
			continue;
		}
		slots[k].n = 0;
		slots[k].truncated = false;
		atomic_store_explicit(&slots[k].tid, dt->tid, memory_order_relaxed);
		atomic_store_explicit(&slots[k].state, SLOT_REQUESTED,
		                      memory_order_release);
		dt->slot = k;
		if (k + 1 > high)
			high = k + 1;
	}
	if (high > atomic_load(&nslots))
		atomic_store_explicit(&nslots, high, memory_order_release);
	/* Marked before sent: a thread may answer before the send returns. */
	for (int i = 0; i < d->n; i++) {
		struct dthread *dt = &d->th[i];

		if (dt->slot < 0 || ask(pid, dt->tid) == 0)
			continue;
		if (abandon(dt)) {
			if (errno == ESRCH)
				dt->gone = true;
			else
				dt->no_answer = NA_SEND;
		}
	}
	start = lh_now_ns();
	next_check = start + CHECK_MS * 1000000ull;
	end = start + ANSWER_MS * 1000000ull;
	for (;;) {
		uint32_t seen = atomic_load(&answers);
		uint64_t now;

		pending = 0;
		for (int i = 0; i < d->n; i++)
			if (!d->th[i].answered && d->th[i].slot >= 0 &&
			    !take_answer(&d->th[i]))
				pending++;
		if (pending == 0)
			break;
		now = lh_now_ns();
		if (now >= end)
			break;
		if (now >= next_check) {
			check_pending(d);
			next_check = now + CHECK_MS * 1000000ull;
			continue;
		}
		wait_word(&answers, seen, (int)((next_check - now) / 1000000) + 1);
	}
	for (int i = 0; pending && i < d->n; i++) {
		struct dthread *dt = &d->th[i];

		if (dt->answered || dt->slot < 0)
			continue;
		if (!abandon(dt)) {
			/* It is writing its answer right now: a few more ms. */
			for (int k = 0; k < 100 && !take_answer(dt); k++)
				wait_word(&answers, atomic_load(&answers), 1);
			if (dt->answered)
				continue;
			dt->slot = -1; /* its late answer is left in the slot, unused */
		}
		dt->no_answer = NA_TIMEOUT;
		if (!proc_status(dt->tid, &dt->sched, NULL, NULL))
			dt->gone = true;
	}
	return 0;
}

/* The registered, live thread with this tid. Caller holds the registry. */
static struct lh_thread *
live_thread(pid_t tid)
{
	for (struct lh_thread *t = lh_threads_first(); t; t = t->next)
		if (t->tid == tid && !t->dead)
			return t;
	return NULL;
}

/*
 * A copy of t's held locks. Read without the thread's cooperation: the
 * capacity before the array, so that an array that grows meanwhile is
 * never read past its end (old arrays stay mapped while the thread lives).
 */
static void
copy_held(struct dthread *dt, const struct lh_thread *t)
{
	uint32_t cap = __atomic_load_n(&t->held_cap, __ATOMIC_ACQUIRE);
	const struct lh_held *h = __atomic_load_n(&t->held, __ATOMIC_ACQUIRE);
	uint32_t n = __atomic_load_n(&t->nheld, __ATOMIC_ACQUIRE);

	if (n > cap)
		n = cap;
	if (n == 0)
		return;
	dt->held = lh_alloc(n * sizeof(*dt->held));
	if (!dt->held)
		return;
	for (uint32_t i = 0; i < n; i++)
		dt->held[i].h = h[i];
	dt->nheld = n;
}

static void
snap_held(struct dthread *dt, const struct slot *s)
{
	if (s->nheld == 0 || !(dt->held = lh_alloc(s->nheld * sizeof(*dt->held))))
		return;
	for (uint32_t i = 0; i < s->nheld; i++)
		dt->held[i].h = s->held[i];
	dt->nheld = s->nheld;
}

/* The lock node for naming the lock at addr, if the runtime knows it. */
static struct lh_gnode *
node_at(uintptr_t addr)
{
	struct lh_lock *lk = addr ? lh_locktab_find((void *)addr) : NULL;

	return lk ? lh_report_node(lk) : NULL;
}

/* Phase two, under the registry: states, held locks, owners, deadlocks. */
static void
read_states(struct dump *d)
{
	struct lh_thread *o[LH_OWNERS_MAX];

	for (int i = 0; i < d->n; i++) {
		struct dthread *dt = &d->th[i];
		struct lh_thread *t = live_thread(dt->tid);
		const struct slot *s = dt->answered ? &slots[dt->slot] : NULL;

		if (s && s->snap) { /* what the thread had when it showed its stack */
			dt->tracked = true;
			dt->wait = s->wait;
			if (!s->held_more)
				snap_held(dt, s);
			else if (t)
				copy_held(dt, t);
		} else if (t) {
			dt->tracked = true;
			wait_view_of(t, &dt->wait);
			copy_held(dt, t);
		} else {
			continue;
		}
		if (dt->wait.kind == LH_WAIT_LOCK && t) {
			int no = lh_lock_owners(t, dt->wait.addr, o);
			enum lh_lock_type type = (enum lh_lock_type)dt->wait.type;
			pid_t tid;

			for (int k = 0; k < no && dt->nowners < MAX_SHOWN_OWNERS; k++)
				dt->owners[dt->nowners++] = o[k]->tid;
			/* glibc's owner, when the runtime does not know that thread;
			 * or the lock is between two owners right now. */
			if (no == 0 && (tid = lh_lock_owner((void *)dt->wait.addr, type)) > 0)
				dt->owners[dt->nowners++] = tid;
			else if (no == 0 && lh_lock_state((void *)dt->wait.addr, type) == 0)
				dt->changing_hands = true;
		}
	}
	/* Threads that exited holding locks: nobody can release those. */
	for (struct lh_thread *t = lh_threads_first(); t; t = t->next) {
		struct dthread *dt;

		if (!t->dead)
			continue;
		if (d->n == d->cap) {
			struct dthread *m = lh_realloc(d->th, (size_t)d->cap * sizeof(*m),
			                               (size_t)d->cap * 2 * sizeof(*m));

			if (!m)
				break;
			d->th = m;
			d->cap *= 2;
		}
		dt = &d->th[d->n++];
		dt->tid = t->tid;
		dt->slot = -1;
		dt->dead = dt->tracked = true;
		copy_held(dt, t);
	}
	d->dl = lh_alloc(MAX_DEADLOCKS * sizeof(*d->dl));
	if (d->dl)
		d->ndl = lh_deadlock_find_all(d->dl, MAX_DEADLOCKS);
}

/* The frames of where h was taken: its recorded stack, or its caller and the
 * holder's current frames from the function that took it on, when that
 * function is still running (as acquire.c does for the holder itself). */
static lh_stack_id
taken_at(const struct lh_held *h, const struct dthread *dt)
{
	uintptr_t pcs[LH_STACK_MAX];
	uintptr_t start;
	const struct lh_frame *f = dt->frames;
	int n = 0, nf = dt->nframes;

	if (h->stack)
		return h->stack;
	start = h->cfa && f ? lh_function_start(h->pc) : 0;
	pcs[n++] = h->pc;
	for (int j = 0; start && j < nf; j++) {
		if (f[j].start == start && f[j].cfa <= h->cfa &&
		    (j + 1 == nf || h->cfa < f[j + 1].cfa)) {
			for (int k = j + 1; k < nf && n < LH_STACK_MAX; k++)
				pcs[n++] = f[k].pc;
			return lh_stack_intern(pcs, n, 0);
		}
	}
	return lh_stack_intern(pcs, 1, LH_STACK_PARTIAL);
}

/* A thread's stack for the dump: the frames inside the runtime's own lock
 * calls are dropped, down to the outermost, the call the program made
 * (pthread_mutex_lock, lh_dump). */
static lh_stack_id
own_stack(const struct dthread *dt)
{
	uintptr_t pcs[LH_STACK_MAX];
	int first = 0;

	if (!dt->frames || dt->nframes == 0)
		return 0;
	for (int i = 0; i < dt->nframes; i++)
		if (dt->frames[i].pc >= lh_self_lo && dt->frames[i].pc < lh_self_hi)
			first = i;
	for (int i = first; i < dt->nframes; i++)
		pcs[i - first] = dt->frames[i].pc;
	return lh_stack_intern(pcs, dt->nframes - first, 0);
}

/*
 * The call thread tid sleeps in if a signal would make it fail with EINTR,
 * whatever SA_RESTART says (signal(7)): the sleeps, the fd multiplexers,
 * System V IPC, and socket calls, which do so when the socket has a
 * timeout (not visible from here); NULL if it runs, or waits in a call
 * that is restarted (a futex, a read of a file or a pipe, wait4...), or
 * /proc does not say. Then also for a call not known here, to be safe.
 */
static const char *
call_a_signal_ends(pid_t tid)
{
	static const long safe[] = {
		SYS_futex,  SYS_read,	 SYS_write,  SYS_readv,	SYS_writev, SYS_pread64, SYS_pwrite64,
		SYS_wait4,  SYS_waitid, SYS_openat, SYS_flock,	SYS_fsync,  SYS_fdatasync,
	};
	static const struct {
		long nr;
		const char *name;
	} named[] = {
		{SYS_nanosleep, "nanosleep"},	    {SYS_clock_nanosleep, "clock_nanosleep"},
		{SYS_poll, "poll"},		    {SYS_ppoll, "ppoll"},
		{SYS_select, "select"},		    {SYS_pselect6, "pselect"},
		{SYS_epoll_wait, "epoll_wait"},	    {SYS_epoll_pwait, "epoll_pwait"},
		{SYS_pause, "pause"},		    {SYS_rt_sigsuspend, "sigsuspend"},
		{SYS_rt_sigtimedwait, "sigtimedwait"}, {SYS_accept, "accept"},
		{SYS_accept4, "accept4"},	    {SYS_recvfrom, "recvfrom"},
		{SYS_recvmsg, "recvmsg"},	    {SYS_sendto, "sendto"},
		{SYS_sendmsg, "sendmsg"},	    {SYS_connect, "connect"},
		{SYS_msgrcv, "msgrcv"},		    {SYS_msgsnd, "msgsnd"},
		{SYS_semop, "semop"},		    {SYS_semtimedop, "semtimedop"},
		{SYS_io_getevents, "io_getevents"},
	};
	char buf[128], fdpath[64] = "/proc/self/fd/", link[16];
	const char *p;
	ssize_t n;
	long nr = 0;
	uintptr_t fd = 0;

	if (lh_task_file(tid, "syscall", buf, sizeof(buf)) <= 0)
		return NULL;
	if (buf[0] < '0' || buf[0] > '9')
		return NULL; /* "running", or "-1": not in a call */
	for (p = buf; *p >= '0' && *p <= '9'; p++)
		nr = nr * 10 + (*p - '0');
	for (size_t i = 0; i < LH_ARRAY_SIZE(named); i++)
		if (named[i].nr == nr)
			return named[i].name;
	for (size_t i = 0; i < LH_ARRAY_SIZE(safe); i++) {
		if (safe[i] != nr)
			continue;
		if (nr != SYS_read && nr != SYS_write && nr != SYS_readv && nr != SYS_writev)
			return NULL;
		/* A read or a write: of a socket? (its first argument, in hex) */
		if (p[0] == ' ' && p[1] == '0' && p[2] == 'x')
			for (p += 3; (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'); p++)
				fd = fd * 16 + (uintptr_t)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
		lh_fmt_u64(fdpath + strlen(fdpath), (uint64_t)fd);
		n = readlink(fdpath, link, sizeof(link));
		return n >= 7 && memcmp(link, "socket:", 7) == 0
			       ? (nr == SYS_read || nr == SYS_readv ? "read of a socket"
								    : "write to a socket")
			       : NULL;
	}
	return "a system call";
}

/*
 * Where thread tid of this process (not the caller) is now, asked as a dump
 * asks each thread: for the acquire-timeout report, which shows where the
 * holder of the lock is. out->stack: its stack, or 0 if it did not answer
 * within ms (it blocks the signal, is stopped, or is gone) or dumps are
 * off; out->taken: where it took h (when h is given), recovered from that
 * stack. A thread in a call that a handler would end with EINTR is not
 * asked: out->in_call names the call. Takes dump_mu: the caller holds no
 * runtime mutex.
 */
void
lh_dump_look_at(pid_t tid, const struct lh_held *h, int ms, struct lh_look *out)
{
	struct dthread dt = {.tid = tid, .slot = -1};
	int cursor = 0, k;
	uint64_t end;

	memset(out, 0, sizeof(*out));
	if (!rtsig || !slots || tid <= 0 || tid == lh_gettid())
		return;
	lh_mutex_lock(&dump_mu);
	if ((out->in_call = call_a_signal_ends(tid)) != NULL || (k = free_slot(&cursor)) < 0)
		goto out;
	slots[k].n = 0;
	slots[k].truncated = false;
	atomic_store_explicit(&slots[k].tid, tid, memory_order_relaxed);
	atomic_store_explicit(&slots[k].state, SLOT_REQUESTED, memory_order_release);
	dt.slot = k;
	if (k + 1 > atomic_load(&nslots))
		atomic_store_explicit(&nslots, k + 1, memory_order_release);
	if (ask(getpid(), tid) != 0) {
		abandon(&dt);
		goto out;
	}
	end = lh_now_ns() + (uint64_t)ms * 1000000;
	for (;;) {
		uint32_t seen = atomic_load(&answers);

		if (take_answer(&dt) || lh_now_ns() >= end)
			break;
		wait_word(&answers, seen, 10);
	}
	/* Not answered: give the request back, unless it is being answered
	 * right now (a few more ms then). */
	for (int n = 0; !dt.answered && !abandon(&dt) && n < 100; n++)
		if (!take_answer(&dt))
			wait_word(&answers, atomic_load(&answers), 1);
	if (dt.answered) {
		out->stack = own_stack(&dt);
		if (h)
			out->taken = taken_at(h, &dt);
		atomic_store(&slots[k].state, SLOT_FREE);
	}
out:
	lh_mutex_unlock(&dump_mu);
}

/* Names, stacks and counts, once the registry is read. graph_mu and the
 * depot are taken here, before report_mu. */
static void
resolve(struct dump *d)
{
	for (int i = 0; i < d->n; i++) {
		struct dthread *dt = &d->th[i];

		if (dt->answered && slots[dt->slot].name[0])
			memcpy(dt->name, slots[dt->slot].name, sizeof(dt->name));
		else if (!dt->dead && !dt->gone)
			lh_thread_name(dt->tid, dt->name, sizeof(dt->name));
		dt->stack = own_stack(dt);
		if (dt->wait.kind == LH_WAIT_LOCK || dt->wait.kind == LH_WAIT_COND)
			dt->wait_g = node_at(dt->wait.addr);
		if (dt->wait.kind == LH_WAIT_COND)
			dt->mutex_g = node_at(dt->wait.mutex);
		for (uint32_t k = 0; k < dt->nheld; k++) {
			struct dheld *dh = &dt->held[k];

			if (dh->h.lock && dh->h.lock->id == dh->h.id)
				dh->g = lh_report_node(dh->h.lock);
			dh->taken = taken_at(&dh->h, dt);
			for (int j = 0; j < d->n; j++)
				if (d->th[j].wait.kind == LH_WAIT_LOCK &&
				    d->th[j].wait.addr == dh->h.addr)
					dh->waiters++;
		}
	}
	d->now_ns = lh_now_ns();
	d->now_ms = lh_tick_update();
}

static struct dthread *
find_dt(struct dump *d, pid_t tid)
{
	for (int i = 0; i < d->n; i++)
		if (d->th[i].tid == tid)
			return &d->th[i];
	return NULL;
}

/* ---- text ------------------------------------------------------------------- */

static void
text_thread_ref(struct lh_buf *b, struct dump *d, pid_t tid)
{
	struct dthread *o = find_dt(d, tid);

	lh_text_thread(b, tid, o ? o->name : "");
	if (o && o->dead)
		lh_buf_puts(b, " (exited)");
}

static void
describe_lock(struct lh_buf *b, struct lh_gnode *g, uintptr_t addr)
{
	if (g)
		lh_lock_describe(b, g);
	else
		lh_text_object(b, "lock", addr);
}

static void
text_state(struct lh_buf *b, struct dump *d, const struct dthread *dt)
{
	uint64_t waited = dt->wait.since_ns && d->now_ns > dt->wait.since_ns
	                      ? (d->now_ns - dt->wait.since_ns) / 1000000
	                      : 0;

	if (dt->dead) {
		lh_buf_puts(b, "exited, still holding locks nobody can release");
		return;
	}
	switch (dt->wait.kind) {
	case LH_WAIT_LOCK:
		lh_buf_puts(b, "waiting for ");
		describe_lock(b, dt->wait_g, dt->wait.addr);
		if (dt->wait.mode == LH_MODE_READ)
			lh_buf_puts(b, " to read");
		break;
	case LH_WAIT_COND:
		lh_buf_puts(b, "waiting on ");
		describe_lock(b, dt->wait_g, dt->wait.addr);
		if (dt->wait.mutex) {
			lh_buf_puts(b, " with ");
			describe_lock(b, dt->mutex_g, dt->wait.mutex);
		}
		break;
	case LH_WAIT_SEM:
		lh_buf_puts(b, "waiting on ");
		lh_text_object(b, "semaphore", dt->wait.addr);
		break;
	case LH_WAIT_BARRIER:
		lh_buf_puts(b, "waiting at ");
		lh_text_object(b, "barrier", dt->wait.addr);
		break;
	default:
		if (dt->no_answer == NA_INCALL) { /* (what /proc said) */
			lh_buf_puts(b, "in ");
			lh_buf_puts(b, dt->in_call);
			return;
		}
		lh_buf_puts(b, "running");
		return;
	}
	lh_buf_puts(b, ", for ");
	lh_buf_put_u64(b, waited);
	lh_buf_puts(b, " ms");
	if (dt->wait.kind != LH_WAIT_LOCK)
		return;
	if (dt->changing_hands) {
		lh_buf_puts(b, ", changing hands (free when read)");
		return;
	}
	if (dt->nowners == 0) {
		lh_buf_puts(b, ", held by a thread lockhound did not see take it");
		return;
	}
	lh_buf_puts(b, ", held by ");
	for (int k = 0; k < dt->nowners; k++) {
		if (k)
			lh_buf_puts(b, k + 1 == dt->nowners ? " and " : ", ");
		text_thread_ref(b, d, dt->owners[k]);
	}
}

static void
text_held(struct lh_buf *b, struct dump *d, const struct dthread *dt)
{
	for (uint32_t k = 0; k < dt->nheld; k++) {
		const struct dheld *dh = &dt->held[k];

		lh_buf_puts(b, "    holds ");
		describe_lock(b, dh->g, dh->h.addr);
		if (dh->h.mode == LH_MODE_READ)
			lh_buf_puts(b, " for reading");
		if (dh->h.count > 1) {
			lh_buf_puts(b, " (");
			lh_buf_put_u64(b, dh->h.count);
			lh_buf_puts(b, " times)");
		}
		if (dh->h.since_ms && d->now_ms >= dh->h.since_ms) {
			lh_buf_puts(b, ", for ");
			lh_buf_put_u64(b, d->now_ms - dh->h.since_ms);
			lh_buf_puts(b, " ms");
		}
		if (dh->waiters) {
			lh_buf_puts(b, ", ");
			lh_buf_put_u64(b, dh->waiters);
			lh_buf_puts(b,
			            dh->waiters == 1 ? " thread waits" : " threads wait");
			lh_buf_puts(b, " for it");
		}
		lh_buf_puts(b, ", taken at:\n");
		lh_text_stack(b, dh->taken, "      ");
	}
}

static void
text_stack(struct lh_buf *b, const struct dthread *dt)
{
	char name[32];

	if (dt->stack) {
		lh_buf_puts(b, "    stack:\n");
		lh_text_stack(b, dt->stack, "      ");
		if (dt->truncated)
			lh_buf_puts(b, "      ...\n");
		return;
	}
	if (dt->dead)
		return;
	lh_buf_puts(b, "    stack unknown: ");
	switch (dt->no_answer) {
	case NA_BLOCKED:
		lh_buf_puts(b, "the thread blocks ");
		lh_buf_puts(b, lh_signal_name(rtsig, name, sizeof(name)));
		lh_buf_puts(b, ", the signal that asks for it");
		break;
	case NA_STOPPED:
		lh_buf_puts(b, "the thread is stopped");
		break;
	case NA_NOSIGNALS:
		lh_buf_puts(b, "dumps by signal are off (dump_signal=0)");
		break;
	case NA_FULL:
		lh_buf_puts(b, "more threads than a dump holds");
		break;
	case NA_SEND:
		lh_buf_puts(b, "the signal could not be sent");
		break;
	case NA_INCALL:
		lh_buf_puts(b, "not asked, so that its call goes on");
		break;
	case NA_TIMEOUT:
		lh_buf_puts(b, "the thread did not answer within ");
		lh_buf_put_u64(b, ANSWER_MS);
		lh_buf_puts(b, " ms");
		if (dt->sched) {
			lh_buf_puts(b, " (state ");
			lh_buf_putc(b, dt->sched);
			lh_buf_putc(b, ')');
		}
		break;
	default:
		lh_buf_puts(b, "no frames");
		break;
	}
	lh_buf_putc(b, '\n');
	if (dt->wait.stack) {
		lh_buf_puts(b, "    where it waits:\n");
		lh_text_stack(b, dt->wait.stack, "      ");
	}
}

static void
text_deadlocks(struct lh_buf *b, struct dump *d)
{
	for (int i = 0; i < d->ndl; i++) {
		const struct lh_waitchain *f = &d->dl[i];

		lh_buf_puts(b, "  deadlock found: ");
		if (f->dead) {
			lh_buf_put_u64(b, (uint64_t)f->n);
			lh_buf_puts(b, f->n == 1 ? " thread waits" : " threads wait");
			lh_buf_puts(b, " forever for a lock whose holder has exited\n");
		} else if (f->n == 1) {
			lh_buf_puts(b, "a thread waits for a lock it holds itself\n");
		} else {
			lh_buf_put_u64(b, (uint64_t)f->n);
			lh_buf_puts(b, " threads wait for each other\n");
		}
		for (int k = 0; k < f->n; k++) {
			const struct lh_thread *next = k + 1 < f->n ? f->chain[k + 1].t
			                               : f->dead    ? f->dead
			                                            : f->chain[0].t;
			struct dthread *m = find_dt(d, f->chain[k].t->tid);

			lh_buf_puts(b, "    ");
			text_thread_ref(b, d, f->chain[k].t->tid);
			lh_buf_puts(b, " waits for ");
			describe_lock(b, m ? m->wait_g : NULL, f->chain[k].addr);
			lh_buf_puts(b, ", held by ");
			text_thread_ref(b, d, next->tid);
			lh_buf_putc(b, '\n');
		}
	}
	if (d->ndl)
		lh_buf_putc(b, '\n');
}

static const char *const trigger_names[] = {"signal", "lh_dump", "lockhound-dump"};

static void
text_dump(struct lh_buf *b, struct dump *d)
{
	int live = 0, dead = 0;
	char name[32];

	for (int i = 0; i < d->n; i++) {
		if (d->th[i].gone)
			continue;
		if (d->th[i].dead)
			dead++;
		else
			live++;
	}
	lh_buf_puts(b, "lockhound: thread-dump: ");
	lh_buf_put_u64(b, (uint64_t)live);
	lh_buf_puts(b, live == 1 ? " thread" : " threads");
	if (dead) {
		lh_buf_puts(b, " and ");
		lh_buf_put_u64(b, (uint64_t)dead);
		lh_buf_puts(b, " exited holding locks");
	}
	lh_buf_puts(b, " (pid ");
	lh_buf_put_u64(b, (uint64_t)getpid());
	lh_buf_puts(b, "), ");
	if (d->why == TRIGGER_SIGNAL) {
		lh_buf_puts(b, "on ");
		lh_buf_puts(b, lh_signal_name(dump_sig, name, sizeof(name)));
	} else {
		lh_buf_puts(b, d->why == TRIGGER_CALL ? "from lh_dump()"
		                                      : "for lockhound dump");
	}
	lh_buf_putc(b, '\n');
	text_deadlocks(b, d);
	for (int i = 0; i < d->n; i++) {
		const struct dthread *dt = &d->th[i];

		if (dt->gone)
			continue;
		lh_buf_puts(b, "  ");
		lh_text_thread(b, dt->tid, dt->name);
		if (dt->tid == getpid())
			lh_buf_puts(b, " (main)");
		lh_buf_puts(b, ": ");
		text_state(b, d, dt);
		lh_buf_putc(b, '\n');
		text_held(b, d, dt);
		text_stack(b, dt);
	}
	if (d->more) {
		lh_buf_puts(b, "  ... and ");
		lh_buf_put_u64(b, (uint64_t)d->more);
		lh_buf_puts(b, " more threads (a dump lists at most 4096)\n");
	}
}

/* ---- the thread-dump record ---------------------------------------------- */

static void
json_lockref(struct lh_buf *j, struct lh_gnode *g, uintptr_t addr)
{
	lh_buf_puts(j, "\"addr\":\"");
	lh_buf_put_hex(j, addr);
	lh_buf_putc(j, '"');
	if (!g)
		return;
	lh_buf_puts(j, ",\"lock\":");
	lh_buf_put_u64(j, g->id);
	lh_buf_puts(j, ",\"name\":");
	lh_buf_put_json_str(j, lh_report_label(g));
	lh_buf_puts(j, ",\"type\":\"");
	lh_buf_puts(j, type_name(g->type));
	lh_buf_putc(j, '"');
}

static const char *
state_name(const struct dthread *dt)
{
	static const char *const waits[] = {"running", "waiting-lock", "waiting-cond",
	                                    "waiting-sem", "waiting-barrier"};

	if (dt->dead)
		return "exited";
	return dt->wait.kind < LH_ARRAY_SIZE(waits) ? waits[dt->wait.kind] : "running";
}

static const char *const no_answer_names[] = {
    "", "timeout", "blocked", "stopped", "no-signals", "too-many", "send-failed", "in-call"};

static void
json_thread(struct lh_buf *j, struct dump *d, const struct dthread *dt)
{
	lh_buf_puts(j, "{\"tid\":");
	lh_buf_put_u64(j, (uint64_t)dt->tid);
	lh_buf_puts(j, ",\"name\":");
	lh_buf_put_json_str(j, dt->name);
	if (dt->tid == getpid())
		lh_buf_puts(j, ",\"main\":true");
	lh_buf_puts(j, ",\"state\":\"");
	lh_buf_puts(j, state_name(dt));
	lh_buf_putc(j, '"');
	if (!dt->tracked)
		lh_buf_puts(j, ",\"tracked\":false");
	if (dt->wait.kind != LH_WAIT_NONE && !dt->dead) {
		static const char *const what[] = {"", "lock", "condition variable",
		                                   "semaphore", "barrier"};

		lh_buf_puts(j, dt->wait.kind == LH_WAIT_LOCK ? ",\"waits_for\":{"
		                                             : ",\"waits_on\":{");
		if (dt->wait.kind == LH_WAIT_LOCK || dt->wait.kind == LH_WAIT_COND) {
			json_lockref(j, dt->wait_g, dt->wait.addr);
		} else {
			lh_buf_puts(j, "\"addr\":\"");
			lh_buf_put_hex(j, dt->wait.addr);
			lh_buf_putc(j, '"');
		}
		if (dt->wait.kind != LH_WAIT_LOCK) {
			lh_buf_puts(j, ",\"what\":\"");
			lh_buf_puts(j, what[dt->wait.kind < 5 ? dt->wait.kind : 0]);
			lh_buf_putc(j, '"');
		}
		if (dt->wait.kind == LH_WAIT_COND && dt->wait.mutex) {
			lh_buf_puts(j, ",\"mutex\":{");
			json_lockref(j, dt->mutex_g, dt->wait.mutex);
			lh_buf_putc(j, '}');
		}
		if (dt->wait.kind == LH_WAIT_LOCK) {
			lh_buf_puts(j, ",\"mode\":\"");
			lh_buf_puts(j, dt->wait.mode == LH_MODE_READ ? "read" : "write");
			lh_buf_puts(j, "\",\"held_by\":[");
			for (int k = 0; k < dt->nowners; k++) {
				if (k)
					lh_buf_putc(j, ',');
				lh_buf_put_u64(j, (uint64_t)dt->owners[k]);
			}
			lh_buf_putc(j, ']');
			if (dt->changing_hands)
				lh_buf_puts(j, ",\"changing_hands\":true");
		}
		lh_buf_puts(j, ",\"waited_ms\":");
		lh_buf_put_u64(j, d->now_ns > dt->wait.since_ns
		                      ? (d->now_ns - dt->wait.since_ns) / 1000000
		                      : 0);
		if (dt->wait.stack) {
			lh_buf_puts(j, ",\"stack\":");
			lh_json_stack(j, dt->wait.stack);
		}
		lh_buf_putc(j, '}');
	}
	lh_buf_puts(j, ",\"held\":[");
	for (uint32_t k = 0; k < dt->nheld; k++) {
		const struct dheld *dh = &dt->held[k];
		unsigned flags = 0;
		int nf;

		if (k)
			lh_buf_putc(j, ',');
		lh_buf_putc(j, '{');
		json_lockref(j, dh->g, dh->h.addr);
		lh_buf_puts(j, ",\"mode\":\"");
		lh_buf_puts(j, dh->h.mode == LH_MODE_READ ? "read" : "write");
		lh_buf_puts(j, "\",\"count\":");
		lh_buf_put_u64(j, dh->h.count);
		if (dh->h.since_ms && d->now_ms >= dh->h.since_ms) {
			lh_buf_puts(j, ",\"held_ms\":");
			lh_buf_put_u64(j, d->now_ms - dh->h.since_ms);
		}
		lh_buf_puts(j, ",\"waiters\":");
		lh_buf_put_u64(j, dh->waiters);
		lh_buf_puts(j, ",\"stack\":");
		lh_json_stack(j, dh->taken);
		lh_stack_get(dh->taken, &nf, &flags);
		if (flags & LH_STACK_PARTIAL)
			lh_buf_puts(j, ",\"stack_partial\":true");
		lh_buf_putc(j, '}');
	}
	lh_buf_putc(j, ']');
	if (dt->stack) {
		lh_buf_puts(j, ",\"stack\":");
		lh_json_stack(j, dt->stack);
		if (dt->truncated)
			lh_buf_puts(j, ",\"stack_truncated\":true");
	} else if (!dt->dead) {
		lh_buf_puts(j, ",\"no_answer\":\"");
		lh_buf_puts(j, no_answer_names[(size_t)dt->no_answer < LH_ARRAY_SIZE(no_answer_names)
						       ? dt->no_answer
						       : 0]);
		lh_buf_putc(j, '"');
		if (dt->no_answer == NA_INCALL) {
			lh_buf_puts(j, ",\"in_call\":");
			lh_buf_put_json_str(j, dt->in_call);
		}
	}
	lh_buf_putc(j, '}');
}

static void
json_dump(struct lh_buf *j, struct dump *d)
{
	bool first = true;

	lh_json_begin(j, "thread-dump", lh_gettid());
	lh_buf_puts(j, ",\"trigger\":\"");
	lh_buf_puts(j, trigger_names[d->why]);
	lh_buf_putc(j, '"');
	if (d->why == TRIGGER_SIGNAL) {
		lh_buf_puts(j, ",\"signal\":");
		lh_buf_put_u64(j, (uint64_t)dump_sig);
	}
	lh_buf_puts(j, ",\"deadlocks\":[");
	for (int i = 0; i < d->ndl; i++) {
		const struct lh_waitchain *f = &d->dl[i];

		if (i)
			lh_buf_putc(j, ',');
		lh_buf_puts(j, "{\"cause\":\"");
		lh_buf_puts(j, f->dead ? "holder-exited" : "cycle");
		lh_buf_puts(j, "\",\"threads\":[");
		for (int k = 0; k < f->n; k++) {
			const struct lh_thread *next = k + 1 < f->n ? f->chain[k + 1].t
			                               : f->dead    ? f->dead
			                                            : f->chain[0].t;
			struct dthread *m = find_dt(d, f->chain[k].t->tid);

			if (k)
				lh_buf_putc(j, ',');
			lh_buf_puts(j, "{\"tid\":");
			lh_buf_put_u64(j, (uint64_t)f->chain[k].t->tid);
			lh_buf_puts(j, ",\"waits_for\":{");
			json_lockref(j, m ? m->wait_g : NULL, f->chain[k].addr);
			lh_buf_puts(j, "},\"held_by\":");
			lh_buf_put_u64(j, (uint64_t)next->tid);
			lh_buf_putc(j, '}');
		}
		lh_buf_puts(j, "]}");
	}
	lh_buf_puts(j, "],\"threads\":[");
	for (int i = 0; i < d->n; i++) {
		if (d->th[i].gone)
			continue;
		if (!first)
			lh_buf_putc(j, ',');
		first = false;
		json_thread(j, d, &d->th[i]);
	}
	lh_buf_putc(j, ']');
	if (d->more) {
		lh_buf_puts(j, ",\"more_threads\":");
		lh_buf_put_u64(j, (uint64_t)d->more);
	}
	lh_buf_puts(j, "}\n");
}

/* ---- writing it ----------------------------------------------------------- */

/* Streams the dump to each `lockhound dump` that asked: the protocol line,
 * the text, a NUL, the thread-dump record, a NUL. */
static void
send_to_cli(const struct lh_buf *text, const struct lh_buf *json)
{
	for (int i = 0; i < MAX_CLI; i++) {
		uint32_t cookie = atomic_exchange(&cli_cookies[i], 0);
		int fd;

		if (!cookie)
			continue;
		fd = cli_connect(cookie);
		if (fd < 0) {
			if (errno != ECONNREFUSED && errno != ENOENT)
				lh_warn_once(&refused_warned,
				             "a thread dump was not sent to a listener "
				             "that does not "
				             "run as this process's user");
			continue;
		}
		send_all(fd, true, LH_DUMP_PROTOCOL, strlen(LH_DUMP_PROTOCOL));
		send_all(fd, true, text->p ? text->p : "", text->len);
		send_all(fd, true, "", 1);
		send_all(fd, true, json->p ? json->p : "", json->len);
		send_all(fd, true, "", 1);
		close(fd);
	}
}

/* Whether every `lockhound dump` waiting for this dump asked for a quiet
 * one (--no-interrupt). One that asks while the dump is being made gets
 * it as it is. */
static bool
cli_all_quiet(void)
{
	bool some = false;

	for (int i = 0; i < MAX_CLI; i++) {
		uint32_t cookie = atomic_load(&cli_cookies[i]);

		if (cookie && !(cookie & LH_DUMP_COOKIE_QUIET))
			return false;
		some = some || cookie;
	}
	return some;
}

static void
release(struct dump *d)
{
	for (int i = 0; i < d->n; i++) {
		struct dthread *dt = &d->th[i];

		if (dt->answered && dt->slot >= 0)
			atomic_store(&slots[dt->slot].state, SLOT_FREE);
		lh_free(dt->held, dt->nheld * sizeof(*dt->held));
	}
	lh_free(d->th, (size_t)d->cap * sizeof(*d->th));
	lh_free(d->dl, MAX_DEADLOCKS * sizeof(*d->dl));
}

/*
 * One dump, by the calling thread (busy; the dump thread or lh_dump()'s
 * caller). self_cfa: where the caller's own stack starts. Returns 0 or a
 * negative errno.
 */
static int
dump(enum trigger why, uintptr_t self_cfa)
{
	struct dump d;
	struct lh_buf text, json, rec;
	int rc;

	memset(&d, 0, sizeof(d));
	d.why = why;
	d.quiet = !lh_opt.dump_interrupt || (why == TRIGGER_CLI && cli_all_quiet());
	lh_buf_init(&text);
	lh_buf_init(&json);
	lh_buf_init(&rec);
	lh_mutex_lock(&dump_mu);
	rc = collect(&d, self_cfa);
	if (rc < 0)
		goto out;
	lh_threads_lock();
	read_states(&d);
	resolve(&d);
	text_dump(&text, &d);
	json_dump(&rec, &d);
	lh_report_begin();
	for (int i = 0; i < d.n; i++) {
		struct dthread *dt = &d.th[i];

		lh_report_lock_record(&json, dt->wait_g);
		lh_report_lock_record(&json, dt->mutex_g);
		for (uint32_t k = 0; k < dt->nheld; k++)
			lh_report_lock_record(&json, dt->held[k].g);
	}
	lh_buf_putn(&json, rec.p ? rec.p : "", rec.len);
	lh_report_emit(why == TRIGGER_CLI ? NULL : &text, &json);
	lh_report_end();
	lh_threads_unlock();
	if (why == TRIGGER_CLI)
		send_to_cli(&text, &rec);
	lh_stats_report(false); /* contention records go with each dump */
	if (text.oom || rec.oom)
		rc = -ENOMEM;
out:
	release(&d);
	lh_mutex_unlock(&dump_mu);
	lh_buf_release(&text);
	lh_buf_release(&json);
	lh_buf_release(&rec);
	return rc;
}

/* The dump thread: waits for requests, dumps, and ticks the coarse clock. */
static void *
watcher_main(void *arg)
{
	(void)arg;
	lh_self = &dumper;
	atomic_store(&watcher_tid, lh_gettid());
	for (;;) {
		uint32_t r = atomic_exchange(&requests, 0);

		if (r & REQ_SIGNAL)
			dump(TRIGGER_SIGNAL, 0);
		if (r & REQ_CLI)
			dump(TRIGGER_CLI, 0);
		if (!r)
			wait_word(&requests, 0, TICK_MS);
		lh_tick_update();
	}
	return NULL;
}

/* lh_dump(), for lockhound.h: the caller (busy) collects. */
int
lh_dump_run(uintptr_t self_cfa)
{
	return dump(TRIGGER_CALL, self_cfa);
}
