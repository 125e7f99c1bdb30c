/*
 * Unit tests for lockhound attach's pieces (tools/attach*.c):
 *   - glibc: the layouts as glibc really uses them. Threads of this test
 *     block in each primitive; the futex word each one sleeps on, read from
 *     /proc/self/task/TID/syscall as attach reads it, must decode to the
 *     object it was given, and the owner to the thread that holds it;
 *   - ptrace: parsing /proc/PID/task/TID/syscall, which calls a stop would
 *     break, why an attach is refused (each reason);
 *   - the wait-for relation: cycles of every length found once, waits for
 *     a lock whose holder is gone, chains that only lead into a cycle.
 */
#include "config.h"

#define _GNU_SOURCE 1
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../../tools/attach.h"
#include "check-main.h"

/* ---- helpers: a thread that blocks, and where it sleeps -------------------- */

struct blocked {
	pthread_t thread;
	volatile pid_t tid;
	void *(*fn)(void *);
	void *obj;
};

static pid_t
gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void
nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Waits (at most 10 s) until tid sleeps in futex(2); its arguments. */
static bool
futex_of(pid_t tid, uint64_t args[6])
{
	char path[96], line[512];

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	for (int i = 0; i < 1000; i++) {
		FILE *f = fopen(path, "r");
		long nr;
		uint64_t sp, pc;

		if (f) {
			bool got = fgets(line, sizeof(line), f) != NULL;

			fclose(f);
			if (got && attach_parse_syscall(line, &nr, args, &sp, &pc) &&
			    nr == SYS_futex)
				return true;
		}
		nap(10);
	}
	return false;
}

/* Decodes what tid sleeps on as w, from a copy of our own memory taken as
 * attach takes the target's (target_snap: process_vm_readv, which also
 * keeps AddressSanitizer's redzones around the object out of it). */
static bool
decode_wait(pid_t tid, enum gwait w, struct gobj *o)
{
	struct target self = {.pid = getpid()};
	uint64_t args[6];
	struct gsnap s;

	ck_assert_msg(futex_of(tid, args), "thread %d never slept in futex", (int)tid);
	target_snap(&self, args[0], &s);
	ck_assert_int_eq(s.len, GLIBC_SNAP_SIZE);
	ck_assert_int_eq(s.addr, args[0] - GLIBC_SNAP_BEFORE);
	return glibc_decode(w, args[0], (unsigned)args[1], (uint32_t)args[2], &s, o);
}

static void *
run_blocked(void *arg)
{
	struct blocked *b = arg;

	b->tid = gettid_();
	return b->fn(b->obj);
}

static void
start(struct blocked *b, void *(*fn)(void *), void *obj)
{
	b->fn = fn;
	b->obj = obj;
	b->tid = 0;
	ck_assert_int_eq(pthread_create(&b->thread, NULL, run_blocked, b), 0);
	while (!b->tid)
		nap(1);
}

/* A thread that takes a lock and keeps it until told. */
struct holder {
	pthread_t thread;
	volatile pid_t tid;
	volatile int go, release;
	int (*take)(void *);
	int (*drop)(void *);
	void *obj;
};

static void *
run_holder(void *arg)
{
	struct holder *h = arg;

	h->take(h->obj);
	h->tid = gettid_();
	while (!h->release)
		nap(1);
	h->drop(h->obj);
	return NULL;
}

static void
hold(struct holder *h, int (*take)(void *), int (*drop)(void *), void *obj)
{
	memset(h, 0, sizeof(*h));
	h->take = take;
	h->drop = drop;
	h->obj = obj;
	ck_assert_int_eq(pthread_create(&h->thread, NULL, run_holder, h), 0);
	while (!h->tid)
		nap(1);
}

static void
let_go(struct holder *h)
{
	h->release = 1;
	pthread_join(h->thread, NULL);
}

static int
mutex_take(void *m)
{
	return pthread_mutex_lock(m);
}

static int
mutex_drop(void *m)
{
	return pthread_mutex_unlock(m);
}

static int
rd_take(void *l)
{
	return pthread_rwlock_rdlock(l);
}

static int
wr_take(void *l)
{
	return pthread_rwlock_wrlock(l);
}

static int
rw_drop(void *l)
{
	return pthread_rwlock_unlock(l);
}

static void *
lock_it(void *m)
{
	pthread_mutex_lock(m);
	pthread_mutex_unlock(m);
	return NULL;
}

static void *
timedlock_it(void *m)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 60;
	if (pthread_mutex_timedlock(m, &ts) == 0)
		pthread_mutex_unlock(m);
	return NULL;
}

static void *
rdlock_it(void *l)
{
	pthread_rwlock_rdlock(l);
	pthread_rwlock_unlock(l);
	return NULL;
}

static void *
wrlock_it(void *l)
{
	pthread_rwlock_wrlock(l);
	pthread_rwlock_unlock(l);
	return NULL;
}

/* ---- glibc ---------------------------------------------------------------- */

START_TEST(test_glibc_names_primitives_by_function)
{
	ck_assert_int_eq(glibc_classify("__GI___lll_lock_wait"), GW_MUTEX);
	ck_assert_int_eq(glibc_classify("__lll_lock_wait_private"), GW_INTERNAL);
	ck_assert_int_eq(glibc_classify("___pthread_mutex_lock"), GW_MUTEX);
	ck_assert_int_eq(glibc_classify("__pthread_mutex_lock_full"), GW_MUTEX);
	ck_assert_int_eq(glibc_classify("pthread_rwlock_wrlock@@GLIBC_2.34"), GW_RWLOCK_WRITE);
	ck_assert_int_eq(glibc_classify("pthread_rwlock_rdlock@GLIBC_2.2.5"), GW_RWLOCK_READ);
	ck_assert_int_eq(glibc_classify("__pthread_rwlock_wrlock_full64"), GW_RWLOCK_WRITE);
	ck_assert_int_eq(glibc_classify("__pthread_cond_wait_common"), GW_COND);
	ck_assert_int_eq(glibc_classify("__new_sem_wait_slow64.constprop.0"), GW_SEM);
	ck_assert_int_eq(glibc_classify("pthread_barrier_wait"), GW_BARRIER);
	ck_assert_int_eq(glibc_classify("__pthread_clockjoin_ex"), GW_JOIN);
	ck_assert_int_eq(glibc_classify("mtx_lock"), GW_MUTEX);
	ck_assert_int_eq(glibc_classify("__futex_abstimed_wait_common64"), GW_NONE);
	ck_assert_int_eq(glibc_classify("take_pair"), GW_NONE);
	ck_assert_int_eq(glibc_classify(NULL), GW_NONE);
	ck_assert_str_eq(glibc_type_name(GW_RWLOCK_READ), "rwlock");
	ck_assert_str_eq(glibc_type_name(GW_SEM), "semaphore");
}
END_TEST

START_TEST(test_glibc_mutex_waiter_decodes_to_mutex_and_owner)
{
	static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct holder h;
	struct blocked b;
	struct gobj o;

	hold(&h, mutex_take, mutex_drop, &m);
	start(&b, lock_it, &m);
	ck_assert(decode_wait(b.tid, GW_MUTEX, &o));
	ck_assert(o.valid);
	ck_assert_int_eq(o.type, GT_MUTEX);
	ck_assert_ptr_eq((void *)(uintptr_t)o.addr, &m);
	ck_assert_int_eq(o.owner, h.tid);
	ck_assert(o.locked);
	ck_assert_int_eq(o.mutex_kind, PTHREAD_MUTEX_NORMAL);
	let_go(&h);
	pthread_join(b.thread, NULL);
}
END_TEST

START_TEST(test_glibc_timed_recursive_robust_pi_mutexes)
{
	static const struct {
		int type, robust, protocol;
	} kinds[] = {{PTHREAD_MUTEX_RECURSIVE, 0, PTHREAD_PRIO_NONE},
		     {PTHREAD_MUTEX_ERRORCHECK, 0, PTHREAD_PRIO_NONE},
		     {PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_ROBUST, PTHREAD_PRIO_NONE},
		     {PTHREAD_MUTEX_NORMAL, 0, PTHREAD_PRIO_INHERIT}};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		pthread_mutexattr_t a;
		pthread_mutex_t m;
		struct holder h;
		struct blocked b;
		struct gobj o;

		pthread_mutexattr_init(&a);
		pthread_mutexattr_settype(&a, kinds[i].type);
		if (kinds[i].robust)
			pthread_mutexattr_setrobust(&a, kinds[i].robust);
		pthread_mutexattr_setprotocol(&a, kinds[i].protocol);
		ck_assert_int_eq(pthread_mutex_init(&m, &a), 0);
		hold(&h, mutex_take, mutex_drop, &m);
		start(&b, i % 2 ? timedlock_it : lock_it, &m);
		ck_assert(decode_wait(b.tid, GW_MUTEX, &o));
		ck_assert_msg(o.valid, "mutex kind %zu", i);
		ck_assert_ptr_eq((void *)(uintptr_t)o.addr, &m);
		ck_assert_int_eq(o.owner, h.tid);
		ck_assert_int_eq(o.mutex_kind, kinds[i].type);
		ck_assert(o.robust == (kinds[i].robust != 0));
		ck_assert(o.pi == (kinds[i].protocol == PTHREAD_PRIO_INHERIT));
		let_go(&h);
		pthread_join(b.thread, NULL);
		pthread_mutex_destroy(&m);
	}
}
END_TEST

START_TEST(test_glibc_rwlock_every_futex_word)
{
	pthread_rwlock_t l = PTHREAD_RWLOCK_INITIALIZER;
	pthread_rwlockattr_t a;
	struct holder h;
	struct blocked b, b2;
	struct gobj o;

	/* A writer waits for a writer: __writers_futex. */
	hold(&h, wr_take, rw_drop, &l);
	start(&b, wrlock_it, &l);
	ck_assert(decode_wait(b.tid, GW_RWLOCK_WRITE, &o));
	ck_assert_str_eq(o.futex_member, "__data.__writers_futex");
	ck_assert_ptr_eq((void *)(uintptr_t)o.addr, &l);
	ck_assert(o.valid && o.write_locked);
	ck_assert_int_eq(o.owner, h.tid);
	let_go(&h);
	pthread_join(b.thread, NULL);

	/* A reader waits for a writer: __wrphase_futex. */
	hold(&h, wr_take, rw_drop, &l);
	start(&b, rdlock_it, &l);
	ck_assert(decode_wait(b.tid, GW_RWLOCK_READ, &o));
	ck_assert_str_eq(o.futex_member, "__data.__wrphase_futex");
	ck_assert_ptr_eq((void *)(uintptr_t)o.addr, &l);
	ck_assert_int_eq(o.owner, h.tid);
	let_go(&h);
	pthread_join(b.thread, NULL);

	/* A writer waits for a reader: __wrphase_futex, held by one reader. */
	hold(&h, rd_take, rw_drop, &l);
	start(&b, wrlock_it, &l);
	ck_assert(decode_wait(b.tid, GW_RWLOCK_WRITE, &o));
	ck_assert_str_eq(o.futex_member, "__data.__wrphase_futex");
	ck_assert_ptr_eq((void *)(uintptr_t)o.addr, &l);
	ck_assert(!o.write_locked);
	ck_assert_int_eq(o.readers, 1);
	ck_assert_int_eq(o.owner, 0);
	let_go(&h);
	pthread_join(b.thread, NULL);
	pthread_rwlock_destroy(&l);

	/* Writer-preferring: a reader behind a queued writer waits on __readers. */
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	ck_assert_int_eq(pthread_rwlock_init(&l, &a), 0);
	hold(&h, rd_take, rw_drop, &l);
	start(&b, wrlock_it, &l);
	ck_assert(decode_wait(b.tid, GW_RWLOCK_WRITE, &o));
	start(&b2, rdlock_it, &l);
	ck_assert(decode_wait(b2.tid, GW_RWLOCK_READ, &o));
	ck_assert_str_eq(o.futex_member, "__data.__readers");
	ck_assert_ptr_eq((void *)(uintptr_t)o.addr, &l);
	ck_assert_int_eq(o.rwlock_kind, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	let_go(&h);
	pthread_join(b.thread, NULL);
	pthread_join(b2.thread, NULL);
	pthread_rwlock_destroy(&l);
}
END_TEST

static pthread_mutex_t cv_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static volatile int cv_done;

static void *
cond_wait_it(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&cv_mutex);
	while (!cv_done)
		pthread_cond_wait(&cv, &cv_mutex);
	pthread_mutex_unlock(&cv_mutex);
	return NULL;
}

static void *
sem_wait_it(void *s)
{
	sem_wait(s);
	return NULL;
}

static void *
barrier_it(void *b)
{
	pthread_barrier_wait(b);
	return NULL;
}

static void *
join_it(void *t)
{
	pthread_join(*(pthread_t *)t, NULL);
	return NULL;
}

static volatile int joinee_go;
static volatile pid_t joinee_tid;

static void *
joinee(void *arg)
{
	(void)arg;
	joinee_tid = gettid_();
	while (!joinee_go)
		nap(1);
	return NULL;
}

START_TEST(test_glibc_cond_sem_barrier_join)
{
	sem_t sem;
	pthread_barrier_t bar;
	pthread_t j;
	struct blocked b;
	struct gobj o;

	cv_done = 0;
	start(&b, cond_wait_it, NULL);
	ck_assert(decode_wait(b.tid, GW_COND, &o));
	ck_assert_ptr_eq((void *)(uintptr_t)o.addr, &cv);
	ck_assert_int_eq(o.type, GT_COND);
	pthread_mutex_lock(&cv_mutex);
	cv_done = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&cv_mutex);
	pthread_join(b.thread, NULL);

	sem_init(&sem, 0, 0);
	start(&b, sem_wait_it, &sem);
	ck_assert(decode_wait(b.tid, GW_SEM, &o));
	ck_assert_ptr_eq((void *)(uintptr_t)o.addr, &sem);
	ck_assert(o.valid);
	ck_assert_int_eq(o.sem_value, 0);
	sem_post(&sem);
	pthread_join(b.thread, NULL);
	sem_destroy(&sem);

	pthread_barrier_init(&bar, NULL, 2);
	start(&b, barrier_it, &bar);
	ck_assert(decode_wait(b.tid, GW_BARRIER, &o));
	ck_assert_ptr_eq((void *)(uintptr_t)o.addr, &bar);
	ck_assert(o.valid);
	ck_assert_int_eq(o.barrier_count, 2);
	pthread_barrier_wait(&bar);
	pthread_join(b.thread, NULL);
	pthread_barrier_destroy(&bar);

	joinee_go = 0;
	joinee_tid = 0;
	pthread_create(&j, NULL, joinee, NULL);
	while (!joinee_tid)
		nap(1);
	start(&b, join_it, &j);
	ck_assert(decode_wait(b.tid, GW_JOIN, &o));
	ck_assert_int_eq(o.joinee, joinee_tid);
	ck_assert_int_eq(o.type, GT_THREAD);
	joinee_go = 1;
	pthread_join(b.thread, NULL);
}
END_TEST

START_TEST(test_glibc_decode_needs_the_bytes)
{
	struct gsnap s = {.addr = 0x1000, .len = 8};
	struct gobj o;

	/* A mutex at 0x1000 needs 20 bytes; a snapshot of 8 is not enough. */
	ck_assert(!glibc_decode(GW_MUTEX, 0x1000, 0, 2, &s, &o));
	ck_assert_int_eq(o.addr, 0x1000);
	ck_assert(!glibc_decode(GW_RWLOCK_WRITE, 0x2008, 0, 2, &s, &o));
	ck_assert_int_eq(o.addr, 0x2000);
	/* A destroyed mutex (kind -1) decodes, as not valid. */
	memset(s.bytes, 0, sizeof(s.bytes));
	s.len = sizeof(s.bytes);
	memset(s.bytes + 16, 0xff, 4);
	ck_assert(glibc_decode(GW_MUTEX, 0x1000, 0, 2, &s, &o));
	ck_assert(!o.valid);
}
END_TEST

/* ---- ptrace helpers ---------------------------------------------------------- */

START_TEST(test_ptrace_parses_proc_syscall)
{
	long nr;
	uint64_t a[6], sp, pc;

	ck_assert(attach_parse_syscall("202 0x55d0c0de0040 0x80 0x2 0x0 0x0 0x0 0x7ffc10 "
				       "0x7f1234\n",
				       &nr, a, &sp, &pc));
	ck_assert_int_eq(nr, 202);
	ck_assert_int_eq(a[0], 0x55d0c0de0040);
	ck_assert_int_eq(a[1], 0x80);
	ck_assert_int_eq(a[2], 2);
	ck_assert_int_eq(sp, 0x7ffc10);
	ck_assert_int_eq(pc, 0x7f1234);
	ck_assert(attach_parse_syscall("-1 0x7ffc10 0x55aa\n", &nr, a, &sp, &pc));
	ck_assert_int_eq(nr, -1);
	ck_assert_int_eq(sp, 0x7ffc10);
	ck_assert_int_eq(pc, 0x55aa);
	ck_assert(attach_parse_syscall("running\n", &nr, a, &sp, &pc));
	ck_assert_int_eq(nr, -2);
	ck_assert(!attach_parse_syscall("", &nr, a, &sp, &pc));
	ck_assert(!attach_parse_syscall("202 0x1 0x2\n", &nr, a, &sp, &pc));
	ck_assert(!attach_parse_syscall("x 0x1\n", &nr, a, &sp, &pc));
}
END_TEST

START_TEST(test_ptrace_knows_which_calls_a_stop_breaks)
{
	ck_assert(attach_stop_would_interrupt(SYS_epoll_wait, false));
	ck_assert(attach_stop_would_interrupt(SYS_epoll_pwait, false));
	ck_assert(attach_stop_would_interrupt(SYS_rt_sigtimedwait, false));
	ck_assert(attach_stop_would_interrupt(SYS_semop, false));
	ck_assert(attach_stop_would_interrupt(SYS_recvfrom, true));
	ck_assert(attach_stop_would_interrupt(SYS_read, true));
	ck_assert(!attach_stop_would_interrupt(SYS_read, false));
	ck_assert(!attach_stop_would_interrupt(SYS_futex, false));
	ck_assert(!attach_stop_would_interrupt(SYS_clock_nanosleep, false));
	ck_assert(!attach_stop_would_interrupt(SYS_poll, false));
	ck_assert(!attach_stop_would_interrupt(-1, false));
	ck_assert_str_eq(attach_syscall_name(SYS_futex), "futex");
	ck_assert_ptr_null(attach_syscall_name(100000));
}
END_TEST

static const char *
reason(struct deny_facts f)
{
	static char buf[512];

	return attach_denied_reason(&f, buf, sizeof(buf));
}

START_TEST(test_ptrace_says_why_attach_is_refused)
{
	struct deny_facts base = {.err = EPERM, .pid = 42, .yama = 0, .same_uid = true,
				  .dumpable = true};
	struct deny_facts f;

	f = base;
	f.err = ESRCH;
	ck_assert_ptr_nonnull(strstr(reason(f), "no such process"));
	f = base;
	f.tracer = 77;
	strcpy(f.tracer_name, "gdb");
	ck_assert_ptr_nonnull(strstr(reason(f), "already traced by process 77 (gdb)"));
	f = base;
	f.yama = 3;
	f.privileged = true;
	ck_assert_ptr_nonnull(strstr(reason(f), "ptrace_scope = 3"));
	f = base;
	f.yama = 2;
	ck_assert_ptr_nonnull(strstr(reason(f), "ptrace_scope = 2"));
	f.privileged = true;
	ck_assert_ptr_null(strstr(reason(f), "ptrace_scope = 2"));
	f = base;
	f.same_uid = false;
	f.target_uid = 0;
	ck_assert_ptr_nonnull(strstr(reason(f), "belongs to user root (uid 0)"));
	f = base;
	f.dumpable = false;
	ck_assert_ptr_nonnull(strstr(reason(f), "not dumpable"));
	f = base;
	f.yama = 1;
	ck_assert_ptr_nonnull(strstr(reason(f), "ptrace_scope = 1"));
	f.descendant = true;
	ck_assert_ptr_null(strstr(reason(f), "ptrace_scope = 1"));
	ck_assert_ptr_nonnull(strstr(reason(f), "permission denied"));
	f = base;
	f.err = EIO;
	ck_assert_ptr_nonnull(strstr(reason(f), "ptrace: "));
}
END_TEST

START_TEST(test_ptrace_precheck_refuses_self_and_missing)
{
	char why[256];

	ck_assert(!attach_precheck(getpid(), why, sizeof(why)));
	ck_assert_ptr_nonnull(strstr(why, "this lockhound process"));
	ck_assert(!attach_precheck(0x3ffffff0, why, sizeof(why)));
	ck_assert_str_eq(why, "no such process");
	ck_assert(!attach_precheck(2, why, sizeof(why)) || true); /* kthreadd, if visible */
}
END_TEST

/* ---- the wait-for relation ---------------------------------------------------- */

static struct wf_node
waiter(pid_t tid, int lock, pid_t owner)
{
	struct wf_node n = {.tid = tid, .waits = lock, .nowners = owner ? 1 : 0, .exists = true};

	n.owners[0] = owner;
	return n;
}

static struct wf_node
idle(pid_t tid)
{
	struct wf_node n = {.tid = tid, .waits = -1, .exists = true};

	return n;
}

START_TEST(test_wf_finds_abba_once)
{
	struct wf_node n[] = {waiter(20, 1, 10), idle(5), waiter(10, 2, 20)};
	struct wf_chain out[8];

	ck_assert_int_eq(wf_find(n, 3, out, 8), 1);
	ck_assert_int_eq(out[0].n, 2);
	ck_assert_int_eq(out[0].dead, -1);
	ck_assert_int_eq(n[out[0].member[0]].tid, 10); /* from the lowest tid */
	ck_assert_int_eq(n[out[0].member[1]].tid, 20);
}
END_TEST

START_TEST(test_wf_finds_long_cycles_self_and_several)
{
	struct wf_node n[70];
	struct wf_chain out[8];
	int k = 0;

	/* A cycle of 3, a thread waiting on itself, a cycle of 60. */
	n[k++] = waiter(100, 1, 101);
	n[k++] = waiter(101, 2, 102);
	n[k++] = waiter(102, 3, 100);
	n[k++] = waiter(200, 4, 200);
	for (int i = 0; i < 60; i++)
		n[k++] = waiter(300 + i, 10 + i, 300 + (i + 1) % 60);
	ck_assert_int_eq(wf_find(n, k, out, 8), 3);
	ck_assert_int_eq(out[0].n, 3);
	ck_assert_int_eq(out[1].n, 1);
	ck_assert_int_eq(n[out[1].member[0]].tid, 200);
	ck_assert_int_eq(out[2].n, 60);
	ck_assert_int_eq(n[out[2].member[59]].tid, 359);
}
END_TEST

START_TEST(test_wf_chain_into_a_cycle_is_not_a_cycle)
{
	/* 30 waits for 10, which is in a cycle with 20: one cycle, of 2. */
	struct wf_node n[] = {waiter(30, 1, 10), waiter(10, 2, 20), waiter(20, 3, 10)};
	struct wf_chain out[8];

	ck_assert_int_eq(wf_find(n, 3, out, 8), 1);
	ck_assert_int_eq(out[0].n, 2);
	/* A plain chain ending at a running thread: nothing. */
	n[2] = idle(20);
	ck_assert_int_eq(wf_find(n, 3, out, 8), 0);
}
END_TEST

START_TEST(test_wf_lost_lock_once_per_lock)
{
	struct wf_node n[] = {waiter(12, 7, 99), waiter(11, 7, 99), waiter(13, 8, 98),
			      {.tid = 99, .waits = -1, .exists = false},
			      {.tid = 98, .waits = -1, .exists = false}};
	struct wf_chain out[8];

	ck_assert_int_eq(wf_find(n, 5, out, 8), 2);
	ck_assert_int_eq(out[0].n, 1);
	ck_assert_int_eq(n[out[0].member[0]].tid, 11); /* the lowest waiter of lock 7 */
	ck_assert_int_eq(n[out[0].dead].tid, 99);
	ck_assert_int_eq(n[out[1].member[0]].tid, 13);
	ck_assert_int_eq(n[out[1].dead].tid, 98);
}
END_TEST

START_TEST(test_wf_several_owners)
{
	/* A writer waits for two readers; one reader waits for the writer. */
	struct wf_node n[] = {waiter(1, 5, 2), idle(2), idle(3)};
	struct wf_chain out[8];

	n[0].owners[1] = 3;
	n[0].nowners = 2;
	n[2] = waiter(3, 6, 1);
	ck_assert_int_eq(wf_find(n, 3, out, 8), 1);
	ck_assert_int_eq(out[0].n, 2);
	ck_assert_int_eq(n[out[0].member[1]].tid, 3);
	ck_assert_int_eq(wf_find(n, 3, out, 0), 0);
}
END_TEST

static Suite *
attach_suite(void)
{
	Suite *s = suite_create("attach");
	TCase *glibc = tcase_create("glibc"), *ptr = tcase_create("ptrace"),
	      *wf = tcase_create("waitfor");

	tcase_set_timeout(glibc, 60);
	tcase_add_test(glibc, test_glibc_names_primitives_by_function);
	tcase_add_test(glibc, test_glibc_mutex_waiter_decodes_to_mutex_and_owner);
	tcase_add_test(glibc, test_glibc_timed_recursive_robust_pi_mutexes);
	tcase_add_test(glibc, test_glibc_rwlock_every_futex_word);
	tcase_add_test(glibc, test_glibc_cond_sem_barrier_join);
	tcase_add_test(glibc, test_glibc_decode_needs_the_bytes);
	suite_add_tcase(s, glibc);
	tcase_add_test(ptr, test_ptrace_parses_proc_syscall);
	tcase_add_test(ptr, test_ptrace_knows_which_calls_a_stop_breaks);
	tcase_add_test(ptr, test_ptrace_says_why_attach_is_refused);
	tcase_add_test(ptr, test_ptrace_precheck_refuses_self_and_missing);
	suite_add_tcase(s, ptr);
	tcase_add_test(wf, test_wf_finds_abba_once);
	tcase_add_test(wf, test_wf_finds_long_cycles_self_and_several);
	tcase_add_test(wf, test_wf_chain_into_a_cycle_is_not_a_cycle);
	tcase_add_test(wf, test_wf_lost_lock_once_per_lock);
	tcase_add_test(wf, test_wf_several_owners);
	suite_add_tcase(s, wf);
	return s;
}

CHECK_MAIN(attach_suite)
