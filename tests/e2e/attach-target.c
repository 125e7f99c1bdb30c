/*
 * Programs for lockhound attach to look at, built without the runtime
 * (run-attach.sh). Every thread has a name. Modes:
 *
 *   abba FILE    worker-a takes lock_a then lock_b, worker-b lock_b then
 *                lock_a, lined up by a barrier: a real ABBA deadlock; main
 *                joins worker-a. Besides them, a heartbeat thread writes its
 *                count to FILE every 5 ms, a sleeper sleeps 4 s in one
 *                nanosleep and an epoll thread waits 4 s in epoll_wait; each
 *                prints what its call returned and whether it waited its
 *                whole time (a stop that woke it early would show).
 *   cycle3 FILE  three threads and three locks in a cycle: accounts_lock,
 *                the `lock` member of the static struct `bank`, and
 *                ledger[1] of an array; the same side threads.
 *   lost         worker-a takes orphan_lock and returns without unlocking;
 *                worker-b then waits for it forever.
 *   self         worker-a locks self_lock twice (a normal mutex).
 *   mainexit     main takes main_lock and calls pthread_exit; worker-a then
 *                waits for main_lock (the process lives on, its main thread
 *                a zombie without memory).
 *   join         main holds join_lock and joins worker-a, which waits for it.
 *   rwlock       reader holds table (rwlock) to read and waits for lock_a;
 *                writer holds lock_a and waits for table to write.
 *   heap         two threads deadlock on two mutexes allocated with malloc.
 *   spin         worker-a holds spin_lock (a spinlock) and sleeps; worker-b
 *                spins on it.
 *   held         main takes config_lock and `table` (rwlock) for writing, a
 *                worker exits holding orphan_lock; then main sleeps. Nobody
 *                waits for anything.
 *   busy FILE    four threads increment a counter under counter_lock, two
 *                ping-pong through a condition variable, until FILE exists;
 *                then prints the counts and exits 0 if they agree.
 *   traced       forks; the parent PTRACE_SEIZEs the child (without stopping
 *                it) and prints the child's pid: a process already traced.
 *
 * Each mode prints "ready" once its threads are started; the test then
 * waits, from /proc, until they are really blocked.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t accounts_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	long balance;
	pthread_mutex_t lock;
} bank = {0, PTHREAD_MUTEX_INITIALIZER};
static pthread_mutex_t ledger[3] = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
				    PTHREAD_MUTEX_INITIALIZER};
static pthread_mutex_t orphan_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t self_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t join_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t main_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t table = PTHREAD_RWLOCK_INITIALIZER;
static pthread_spinlock_t spin_lock;
static pthread_barrier_t line_up;
static const char *beat_file;

struct pair {
	pthread_mutex_t *first, *second;
	const char *name;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

static void
say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/* ---- threads beside the deadlock, to prove the process is left as it was */

static void *
heartbeat(void *arg)
{
	unsigned long beats = 0;
	int fd = open(beat_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	(void)arg;
	pthread_setname_np(pthread_self(), "heartbeat");
	for (;;) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%20lu\n", ++beats);

		if (pwrite(fd, buf, (size_t)n, 0) != n)
			abort();
		nap_ms(5);
	}
	return NULL;
}

static void *
sleeper(void *arg)
{
	struct timespec ts = {4, 0};
	double t0 = now();
	int rc;

	(void)arg;
	pthread_setname_np(pthread_self(), "sleeper");
	rc = nanosleep(&ts, NULL);
	say("sleeper: rc=%d errno=%d whole=%s\n", rc, rc ? errno : 0,
	    now() - t0 >= 4.0 ? "yes" : "no");
	return NULL;
}

static void *
epoller(void *arg)
{
	struct epoll_event ev;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	double t0 = now();
	int rc;

	(void)arg;
	pthread_setname_np(pthread_self(), "epoll");
	rc = epoll_wait(ep, &ev, 1, 4000);
	say("epoll: rc=%d errno=%d whole=%s\n", rc, rc < 0 ? errno : 0,
	    now() - t0 >= 3.99 ? "yes" : "no");
	return NULL;
}

static void
side_threads(void)
{
	pthread_t t;

	pthread_create(&t, NULL, heartbeat, NULL);
	pthread_create(&t, NULL, sleeper, NULL);
	pthread_create(&t, NULL, epoller, NULL);
}

/* ---- deadlocks ------------------------------------------------------------- */

__attribute__((noinline)) static void
take_second(pthread_mutex_t *m)
{
	pthread_mutex_lock(m); /* deadlocks */
	pthread_mutex_unlock(m);
}

__attribute__((noinline)) static void *
take_pair(void *arg)
{
	struct pair *p = arg;

	pthread_setname_np(pthread_self(), p->name);
	pthread_mutex_lock(p->first);
	pthread_barrier_wait(&line_up);
	take_second(p->second);
	pthread_mutex_unlock(p->first);
	return NULL;
}

static void
cycle(struct pair *pairs, int n)
{
	pthread_t t[3];

	pthread_barrier_init(&line_up, NULL, (unsigned)n);
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, take_pair, &pairs[i]);
	say("ready\n");
	pthread_join(t[0], NULL);
}

static void *
lose(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "worker-a");
	pthread_mutex_lock(&orphan_lock);
	return NULL; /* still holding it */
}

static void *
wait_orphan(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "worker-b");
	pthread_mutex_lock(&orphan_lock);
	return NULL;
}

static void *
relock(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "worker-a");
	pthread_mutex_lock(&self_lock);
	pthread_mutex_lock(&self_lock);
	return NULL;
}

static void *
want_join_lock(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "worker-a");
	pthread_mutex_lock(&join_lock);
	return NULL;
}

static void *
want_main_lock(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "worker-a");
	nap_ms(100); /* main is gone by then */
	pthread_mutex_lock(&main_lock);
	return NULL;
}

static void *
reader(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "reader");
	pthread_rwlock_rdlock(&table);
	pthread_barrier_wait(&line_up);
	pthread_mutex_lock(&lock_a);
	return NULL;
}

static void *
writer(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "writer");
	pthread_mutex_lock(&lock_a);
	pthread_barrier_wait(&line_up);
	pthread_rwlock_wrlock(&table);
	return NULL;
}

static void *
spin_holder(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "worker-a");
	pthread_spin_lock(&spin_lock);
	pthread_barrier_wait(&line_up);
	for (;;)
		pause();
	return NULL;
}

static void *
spinner(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "worker-b");
	pthread_barrier_wait(&line_up);
	pthread_spin_lock(&spin_lock);
	return NULL;
}

/* ---- busy ------------------------------------------------------------------- */

static volatile int stop;
static long counter, counts[4];
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static long q_items, pings, pongs;

static void *
incrementer(void *arg)
{
	long *mine = arg;

	pthread_setname_np(pthread_self(), "incrementer");
	while (!stop) {
		pthread_mutex_lock(&counter_lock);
		counter++;
		(*mine)++;
		pthread_mutex_unlock(&counter_lock);
	}
	return NULL;
}

static void *
pinger(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "pinger");
	while (!stop) {
		pthread_mutex_lock(&q_lock);
		while (q_items >= 4 && !stop)
			pthread_cond_wait(&q_cond, &q_lock);
		q_items++;
		pings++;
		pthread_cond_broadcast(&q_cond);
		pthread_mutex_unlock(&q_lock);
	}
	return NULL;
}

static void *
ponger(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "ponger");
	for (;;) {
		pthread_mutex_lock(&q_lock);
		while (q_items == 0 && !stop)
			pthread_cond_wait(&q_cond, &q_lock);
		if (q_items == 0 && stop) {
			pthread_mutex_unlock(&q_lock);
			return NULL;
		}
		q_items--;
		pongs++;
		pthread_cond_broadcast(&q_cond);
		pthread_mutex_unlock(&q_lock);
	}
}

static int
busy(const char *stop_file)
{
	pthread_t t[6];
	long sum = 0;

	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, incrementer, &counts[i]);
	pthread_create(&t[4], NULL, pinger, NULL);
	pthread_create(&t[5], NULL, ponger, NULL);
	say("ready\n");
	while (access(stop_file, F_OK) != 0)
		nap_ms(10);
	stop = 1;
	pthread_mutex_lock(&q_lock);
	pthread_cond_broadcast(&q_cond);
	pthread_mutex_unlock(&q_lock);
	for (int i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 4; i++)
		sum += counts[i];
	say("counter=%ld sum=%ld pings=%ld pongs=%ld queued=%ld\n", counter, sum, pings, pongs,
	    q_items);
	return counter == sum && counter > 0 && pings == pongs + q_items ? 0 : 1;
}

static int
traced(void)
{
	pid_t child = fork();

	if (child == 0) {
		for (;;)
			pause();
	}
	if (ptrace(PTRACE_SEIZE, child, NULL, NULL) != 0) {
		perror("PTRACE_SEIZE");
		kill(child, SIGKILL);
		return 1;
	}
	say("%d\n", (int)child);
	for (;;) {
		int status;

		/* Nothing stops it; should it stop, let it go on. */
		if (waitpid(child, &status, __WALL) == child && WIFSTOPPED(status))
			ptrace(PTRACE_CONT, child, NULL, NULL);
		else if (errno == ECHILD)
			return 0;
	}
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	pthread_t t, u;

	beat_file = argc > 2 ? argv[2] : "/dev/null";
	if (strcmp(mode, "abba") == 0) {
		struct pair p[2] = {{&lock_a, &lock_b, "worker-a"}, {&lock_b, &lock_a, "worker-b"}};

		side_threads();
		cycle(p, 2);
	} else if (strcmp(mode, "cycle3") == 0) {
		struct pair p[3] = {{&accounts_lock, &bank.lock, "worker-a"},
				    {&bank.lock, &ledger[1], "worker-b"},
				    {&ledger[1], &accounts_lock, "worker-c"}};

		side_threads();
		cycle(p, 3);
	} else if (strcmp(mode, "heap") == 0) {
		pthread_mutex_t *m = malloc(2 * sizeof(*m));
		struct pair p[2] = {{&m[0], &m[1], "worker-a"}, {&m[1], &m[0], "worker-b"}};

		pthread_mutex_init(&m[0], NULL);
		pthread_mutex_init(&m[1], NULL);
		cycle(p, 2);
	} else if (strcmp(mode, "lost") == 0) {
		pthread_create(&t, NULL, lose, NULL);
		pthread_join(t, NULL);
		pthread_create(&u, NULL, wait_orphan, NULL);
		say("ready\n");
		pthread_join(u, NULL);
	} else if (strcmp(mode, "self") == 0) {
		pthread_create(&t, NULL, relock, NULL);
		say("ready\n");
		pthread_join(t, NULL);
	} else if (strcmp(mode, "mainexit") == 0) {
		pthread_mutex_lock(&main_lock);
		pthread_create(&t, NULL, want_main_lock, NULL);
		say("ready\n");
		pthread_exit(NULL);
	} else if (strcmp(mode, "join") == 0) {
		pthread_mutex_lock(&join_lock);
		pthread_create(&t, NULL, want_join_lock, NULL);
		say("ready\n");
		pthread_join(t, NULL);
	} else if (strcmp(mode, "rwlock") == 0) {
		pthread_barrier_init(&line_up, NULL, 2);
		pthread_create(&t, NULL, reader, NULL);
		pthread_create(&u, NULL, writer, NULL);
		say("ready\n");
		pthread_join(t, NULL);
	} else if (strcmp(mode, "spin") == 0) {
		pthread_spin_init(&spin_lock, PTHREAD_PROCESS_PRIVATE);
		pthread_barrier_init(&line_up, NULL, 2);
		pthread_create(&t, NULL, spin_holder, NULL);
		pthread_create(&u, NULL, spinner, NULL);
		say("ready\n");
		pthread_join(u, NULL);
	} else if (strcmp(mode, "held") == 0) {
		pthread_mutex_lock(&config_lock);
		pthread_rwlock_wrlock(&table);
		pthread_create(&t, NULL, lose, NULL);
		pthread_join(t, NULL);
		say("ready\n");
		for (;;)
			pause();
	} else if (strcmp(mode, "busy") == 0 && argc > 2) {
		return busy(argv[2]);
	} else if (strcmp(mode, "traced") == 0) {
		return traced();
	} else {
		fprintf(stderr, "usage: attach-target abba|cycle3|heap|lost|self|mainexit|join|rwlock|spin|held "
				"[FILE] | busy FILE | traced\n");
		return 2;
	}
	return 0;
}
