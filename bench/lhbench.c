/*
 * lhbench: the lock benchmarks of bench/run. Each case times pthread lock
 * calls in a created thread (glibc takes a cheaper, non-atomic lock path in a
 * process that never created one, which would flatter the baseline) and
 * prints one line:
 *
 *   lhbench case=NAME ops=N cpu_ns=X wall_ns=Y [key=value]...
 *
 * cpu_ns is thread CPU time (CLOCK_THREAD_CPUTIME_ID) per operation, summed
 * over the timing threads; wall_ns is elapsed time per operation. An
 * operation is one lock plus its unlock in every case, so that the cases
 * compare. The same source is built plain and with -fsanitize=thread; the
 * lockhound, Helgrind and DRD runs use the plain build.
 *
 * The timed loops are functions named timed_* (never inlined), so that
 * `valgrind --tool=callgrind --toggle-collect='timed_*'` counts exactly the
 * timed instructions.
 *
 * Cases (-n sets the operations timed):
 *   uncontended  one mutex, lock+unlock
 *   nested       DEPTH mutexes (-d, default 4) taken in one order, released
 *                in reverse
 *   locks10k     LOCKS mutexes (-l, default 10,000); a setup phase takes
 *                ORDERS (-o, default 1,000,000) distinct random pairs i < j,
 *                each once, so the lock-order graph holds that many orders;
 *                then the timed phase takes random pairs among them again.
 *                Also prints resident-memory deltas of the setup phases
 *                (rss_locks_kb: first use of every lock; rss_orders_kb: the
 *                orders) and setup_s.
 *   locks-random LOCKS mutexes (-l, default 10,000), one at a time, at
 *                random: per-object locks, no order between them; -k KIND
 *                takes other locks instead: recursive (mutexes), read or
 *                write (rwlocks' read or write locks), spin
 *   locks10k-hot the same graph, but the timed phase takes random pairs
 *                among the first HOT (-w, default 64) of the recorded ones
 *                only: a small working set of known orders in a big graph
 *   contended    two threads on one mutex (a counter increment inside)
 *   rwlock-read  one rwlock, rdlock+unlock
 *   threads64    THREADS threads (-t, default 64), each on its own mutex;
 *                -n is the total over all threads
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

struct params {
	const char *name;
	long ops;
	long depth;
	long locks;
	long orders;
	long threads;
	long hot; /* locks10k-hot: the pairs of the timed phase */
	const char *kind; /* locks-random: mutex, recursive, read, write, spin */
};

/* What a case reports. */
struct result {
	long ops;
	double cpu_ns; /* total CPU ns of the timing threads */
	double wall_ns;
	char extra[256];
};

static struct params P;
static struct result R;

static void
die(const char *what, int err)
{
	fprintf(stderr, "lhbench: %s: %s\n", what, strerror(err));
	exit(2);
}

static void
check(const char *what, int rc)
{
	if (rc != 0)
		die(what, rc);
}

static double
now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Resident set size in KiB, from /proc/self/statm. */
static long
rss_kb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, resident = 0;

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* xorshift64*: cheap, deterministic, the same in every run and build. */
static inline uint64_t
rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* ---- uncontended --------------------------------------------------------- */

static pthread_mutex_t one_mu = PTHREAD_MUTEX_INITIALIZER;

static NOINLINE void
timed_uncontended(pthread_mutex_t *m, long ops)
{
	for (long i = 0; i < ops; i++) {
		pthread_mutex_lock(m);
		pthread_mutex_unlock(m);
	}
}

static void
run_uncontended(void)
{
	double c0, w0;

	timed_uncontended(&one_mu, 10000); /* warm-up: first use is the slow path */
	c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	w0 = now_ns(CLOCK_MONOTONIC);
	timed_uncontended(&one_mu, P.ops);
	R.cpu_ns = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
	R.wall_ns = now_ns(CLOCK_MONOTONIC) - w0;
	R.ops = P.ops;
}

/* ---- nested -------------------------------------------------------------- */

static NOINLINE void
timed_nested(pthread_mutex_t *m, long depth, long rounds)
{
	for (long r = 0; r < rounds; r++) {
		for (long i = 0; i < depth; i++)
			pthread_mutex_lock(&m[i]);
		for (long i = depth; i-- > 0;)
			pthread_mutex_unlock(&m[i]);
	}
}

static void
run_nested(void)
{
	pthread_mutex_t *m = calloc((size_t)P.depth, sizeof(*m));
	long rounds = P.ops / P.depth;
	double c0, w0;

	if (!m)
		die("calloc", ENOMEM);
	for (long i = 0; i < P.depth; i++)
		check("pthread_mutex_init", pthread_mutex_init(&m[i], NULL));
	timed_nested(m, P.depth, 10000);
	c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	w0 = now_ns(CLOCK_MONOTONIC);
	timed_nested(m, P.depth, rounds);
	R.cpu_ns = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
	R.wall_ns = now_ns(CLOCK_MONOTONIC) - w0;
	R.ops = rounds * P.depth;
	snprintf(R.extra, sizeof(R.extra), "depth=%ld", P.depth);
}

/* ---- locks10k: many locks, a big lock-order graph ------------------------ */

struct pair {
	uint32_t a, b; /* a < b: every order agrees with the index order */
};

static NOINLINE void
take_pairs(pthread_mutex_t *m, const struct pair *pairs, long n)
{
	for (long i = 0; i < n; i++) {
		pthread_mutex_lock(&m[pairs[i].a]);
		pthread_mutex_lock(&m[pairs[i].b]);
		pthread_mutex_unlock(&m[pairs[i].b]);
		pthread_mutex_unlock(&m[pairs[i].a]);
	}
}

/*
 * Random pairs among the recorded ones. The pair array is far bigger than the
 * caches: the next pairs are prefetched RING iterations ahead, so that the
 * plain baseline times the locks, not a cache miss on our own array.
 */
#define RING 16

static NOINLINE void
timed_locks10k(pthread_mutex_t *m, const struct pair *pairs, long npairs, long rounds,
	       uint64_t seed)
{
	uint32_t ring[RING];

	for (int i = 0; i < RING; i++)
		ring[i] = (uint32_t)(rng_next(&seed) % (uint64_t)npairs);
	for (long r = 0; r < rounds; r++) {
		const struct pair *p = &pairs[ring[r % RING]];
		uint32_t next = (uint32_t)(rng_next(&seed) % (uint64_t)npairs);

		ring[r % RING] = next;
		__builtin_prefetch(&pairs[next]);
		pthread_mutex_lock(&m[p->a]);
		pthread_mutex_lock(&m[p->b]);
		pthread_mutex_unlock(&m[p->b]);
		pthread_mutex_unlock(&m[p->a]);
	}
}

/* ORDERS distinct random pairs i < j of LOCKS locks, in random order. */
static struct pair *
make_pairs(long nlocks, long norders)
{
	uint64_t bits = (uint64_t)nlocks * (uint64_t)nlocks, seed = 42;
	uint64_t *seen = calloc((size_t)(bits / 64 + 1), sizeof(*seen));
	struct pair *pairs = malloc((size_t)norders * sizeof(*pairs));

	if (!seen || !pairs)
		die("out of memory for pairs", ENOMEM);
	for (long i = 0; i < norders;) {
		uint32_t a = (uint32_t)(rng_next(&seed) % (uint64_t)nlocks);
		uint32_t b = (uint32_t)(rng_next(&seed) % (uint64_t)nlocks);
		uint64_t k;

		if (a == b)
			continue;
		if (a > b) {
			uint32_t t = a;

			a = b;
			b = t;
		}
		k = (uint64_t)a * (uint64_t)nlocks + b;
		if (seen[k / 64] & (1ull << (k % 64)))
			continue;
		seen[k / 64] |= 1ull << (k % 64);
		pairs[i].a = a;
		pairs[i].b = b;
		i++;
	}
	free(seen);
	return pairs;
}

static void
run_locks10k_with(long hot)
{
	long max_orders = P.locks * (P.locks - 1) / 2;
	pthread_mutex_t *m;
	struct pair *pairs;
	long rss0, rss1, rss2, rounds = P.ops / 2;
	double s0, c0, w0;

	if (P.locks < 2 || P.orders < 1 || P.orders > max_orders / 2) {
		fprintf(stderr, "lhbench: locks10k: -o must be between 1 and %ld for %ld locks\n",
			max_orders / 2, P.locks);
		exit(2);
	}
	m = malloc((size_t)P.locks * sizeof(*m));
	if (!m)
		die("malloc", ENOMEM);
	memset(m, 0xff, (size_t)P.locks * sizeof(*m)); /* touched: not counted below */
	pairs = make_pairs(P.locks, P.orders);

	s0 = now_ns(CLOCK_MONOTONIC);
	rss0 = rss_kb();
	for (long i = 0; i < P.locks; i++) {
		check("pthread_mutex_init", pthread_mutex_init(&m[i], NULL));
		pthread_mutex_lock(&m[i]);
		pthread_mutex_unlock(&m[i]);
	}
	rss1 = rss_kb();
	take_pairs(m, pairs, P.orders);
	rss2 = rss_kb();

	c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	w0 = now_ns(CLOCK_MONOTONIC);
	timed_locks10k(m, pairs, hot < P.orders ? hot : P.orders, rounds, 7);
	R.cpu_ns = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
	R.wall_ns = now_ns(CLOCK_MONOTONIC) - w0;
	R.ops = rounds * 2;
	snprintf(R.extra, sizeof(R.extra),
		 "locks=%ld orders=%ld setup_s=%.3f rss_locks_kb=%ld rss_orders_kb=%ld",
		 P.locks, P.orders, (w0 - s0) / 1e9, rss1 - rss0, rss2 - rss1);
	if (hot < P.orders) {
		size_t len = strlen(R.extra);

		snprintf(R.extra + len, sizeof(R.extra) - len, " hot=%ld", hot);
	}
}

static void
run_locks10k(void)
{
	run_locks10k_with(P.orders);
}

static void
run_locks10k_hot(void)
{
	run_locks10k_with(P.hot);
}

/* ---- locks-random: many locks, one at a time ------------------------------- */

enum any_kind { ANY_MUTEX, ANY_RECURSIVE, ANY_READ, ANY_WRITE, ANY_SPIN };

static const char *const any_kinds[] = {"mutex", "recursive", "read", "write", "spin"};

/* The size of a lock of kind: the locks lie side by side, as in an array
 * of them in a program. */
static size_t
any_size(enum any_kind kind)
{
	return kind == ANY_READ || kind == ANY_WRITE ? sizeof(pthread_rwlock_t)
	       : kind == ANY_SPIN		      ? sizeof(pthread_spinlock_t)
						      : sizeof(pthread_mutex_t);
}

static inline void
any_lock_unlock(void *l, enum any_kind kind)
{
	switch (kind) {
	case ANY_MUTEX:
	case ANY_RECURSIVE:
		pthread_mutex_lock(l);
		pthread_mutex_unlock(l);
		break;
	case ANY_READ:
		pthread_rwlock_rdlock(l);
		pthread_rwlock_unlock(l);
		break;
	case ANY_WRITE:
		pthread_rwlock_wrlock(l);
		pthread_rwlock_unlock(l);
		break;
	case ANY_SPIN:
		pthread_spin_lock(l);
		pthread_spin_unlock(l);
		break;
	}
}

static void
any_init(void *l, enum any_kind kind)
{
	pthread_mutexattr_t attr;

	switch (kind) {
	case ANY_MUTEX:
		check("pthread_mutex_init", pthread_mutex_init(l, NULL));
		break;
	case ANY_RECURSIVE:
		check("pthread_mutexattr_init", pthread_mutexattr_init(&attr));
		check("pthread_mutexattr_settype",
		      pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE));
		check("pthread_mutex_init", pthread_mutex_init(l, &attr));
		pthread_mutexattr_destroy(&attr);
		break;
	case ANY_READ:
	case ANY_WRITE:
		check("pthread_rwlock_init", pthread_rwlock_init(l, NULL));
		break;
	case ANY_SPIN:
		check("pthread_spin_init", pthread_spin_init(l, PTHREAD_PROCESS_PRIVATE));
		break;
	}
}

static NOINLINE void
timed_locks_random(pthread_mutex_t *m, long nlocks, long ops, uint64_t seed)
{
	for (long i = 0; i < ops; i++) {
		pthread_mutex_t *mu = &m[rng_next(&seed) % (uint64_t)nlocks];

		pthread_mutex_lock(mu);
		pthread_mutex_unlock(mu);
	}
}

/* The same loop for the other kinds (a loop of its own, so that the
 * mutex row's code stays what it was). */
static NOINLINE void
timed_any_random(char *locks, enum any_kind kind, long nlocks, long ops, uint64_t seed)
{
	size_t size = any_size(kind);

	for (long i = 0; i < ops; i++)
		any_lock_unlock(locks + rng_next(&seed) % (uint64_t)nlocks * size, kind);
}

static void
run_locks_random(void)
{
	enum any_kind kind = ANY_MUTEX;
	size_t size;
	char *locks;
	double c0, w0;

	while (strcmp(P.kind, any_kinds[kind]) != 0)
		if (++kind > ANY_SPIN) {
			fprintf(stderr, "lhbench: -k %s: not mutex, recursive, read, write or spin\n",
				P.kind);
			exit(2);
		}
	size = any_size(kind);
	if (!(locks = calloc((size_t)P.locks, size)))
		die("calloc", ENOMEM);
	for (long i = 0; i < P.locks; i++)
		any_init(locks + (size_t)i * size, kind);
	for (int pass = 0; pass < 2; pass++) /* warm-up: first use is the slow path */
		for (long i = 0; i < P.locks; i++)
			any_lock_unlock(locks + (size_t)i * size, kind);
	c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	w0 = now_ns(CLOCK_MONOTONIC);
	if (kind == ANY_MUTEX)
		timed_locks_random((pthread_mutex_t *)(void *)locks, P.locks, P.ops, 11);
	else
		timed_any_random(locks, kind, P.locks, P.ops, 11);
	R.cpu_ns = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
	R.wall_ns = now_ns(CLOCK_MONOTONIC) - w0;
	R.ops = P.ops;
	snprintf(R.extra, sizeof(R.extra), "locks=%ld kind=%s", P.locks, P.kind);
}

/* ---- threads: contended and threads64 ------------------------------------- */

struct worker {
	pthread_t thread;
	pthread_mutex_t *mu;
	volatile long *counter; /* incremented under mu */
	long ops;
	double cpu_ns;
	double wall0, wall1; /* when its timed loop started and ended */
	volatile long own_counter;
	char pad[64]; /* keep workers' own writes off each other's lines */
};

static pthread_barrier_t start_barrier;
static volatile long shared_counter;

static NOINLINE void
timed_workers(pthread_mutex_t *m, volatile long *counter, long ops)
{
	for (long i = 0; i < ops; i++) {
		pthread_mutex_lock(m);
		(*counter)++;
		pthread_mutex_unlock(m);
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	double c0;

	timed_workers(w->mu, w->counter, 1000);
	pthread_barrier_wait(&start_barrier);
	c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	w->wall0 = now_ns(CLOCK_MONOTONIC);
	timed_workers(w->mu, w->counter, w->ops);
	w->wall1 = now_ns(CLOCK_MONOTONIC);
	w->cpu_ns = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
	return NULL;
}

/*
 * Runs n workers; shared: all on one mutex, else each on its own. Wall time
 * spans from the first worker's start to the last one's end, as the workers
 * saw them (under valgrind, which runs one thread at a time, the joining
 * thread may not run again until they are all done).
 */
static void
run_workers(long n, bool shared)
{
	struct worker *w = calloc((size_t)n, sizeof(*w));
	pthread_mutex_t *mus = calloc((size_t)n, sizeof(*mus));
	long per = P.ops / n;
	double first, last;

	if (!w || !mus)
		die("calloc", ENOMEM);
	check("pthread_barrier_init", pthread_barrier_init(&start_barrier, NULL, (unsigned)n + 1));
	for (long i = 0; i < n; i++) {
		check("pthread_mutex_init", pthread_mutex_init(&mus[i], NULL));
		w[i].mu = shared ? &mus[0] : &mus[i];
		w[i].counter = shared ? &shared_counter : &w[i].own_counter;
		w[i].ops = per;
		check("pthread_create", pthread_create(&w[i].thread, NULL, worker_main, &w[i]));
	}
	pthread_barrier_wait(&start_barrier);
	for (long i = 0; i < n; i++)
		check("pthread_join", pthread_join(w[i].thread, NULL));
	first = w[0].wall0;
	last = w[0].wall1;
	R.cpu_ns = 0;
	for (long i = 0; i < n; i++) {
		R.cpu_ns += w[i].cpu_ns;
		if (w[i].wall0 < first)
			first = w[i].wall0;
		if (w[i].wall1 > last)
			last = w[i].wall1;
	}
	R.wall_ns = last - first;
	R.ops = per * n;
	snprintf(R.extra, sizeof(R.extra), "threads=%ld", n);
	pthread_barrier_destroy(&start_barrier);
}

static void
run_contended(void)
{
	run_workers(2, true);
}

static void
run_threads64(void)
{
	run_workers(P.threads, false);
}

/* ---- rwlock-read ---------------------------------------------------------- */

static pthread_rwlock_t one_rw = PTHREAD_RWLOCK_INITIALIZER;

static NOINLINE void
timed_rwlock_read(pthread_rwlock_t *rw, long ops)
{
	for (long i = 0; i < ops; i++) {
		pthread_rwlock_rdlock(rw);
		pthread_rwlock_unlock(rw);
	}
}

static void
run_rwlock_read(void)
{
	double c0, w0;

	timed_rwlock_read(&one_rw, 10000);
	c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	w0 = now_ns(CLOCK_MONOTONIC);
	timed_rwlock_read(&one_rw, P.ops);
	R.cpu_ns = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
	R.wall_ns = now_ns(CLOCK_MONOTONIC) - w0;
	R.ops = P.ops;
}

/* ---- main ------------------------------------------------------------------ */

static const struct {
	const char *name;
	void (*run)(void);
	long ops; /* default -n */
} cases[] = {
	{"uncontended", run_uncontended, 20000000},
	{"nested", run_nested, 20000000},
	{"locks10k", run_locks10k, 4000000},
	{"locks10k-hot", run_locks10k_hot, 20000000},
	{"locks-random", run_locks_random, 10000000},
	{"contended", run_contended, 4000000},
	{"rwlock-read", run_rwlock_read, 20000000},
	{"threads64", run_threads64, 20000000},
};

static void *
case_thread(void *arg)
{
	void (*run)(void) = (void (*)(void))arg;

	run();
	return NULL;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: lhbench [-n OPS] [-d DEPTH] [-l LOCKS] [-o ORDERS] [-t THREADS] [-w HOT] "
		   "[-k KIND] CASE\n"
		   "cases:");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		fprintf(f, " %s", cases[i].name);
	fprintf(f, "\n");
}

static long
number(const char *opt, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "lhbench: %s: '%s' is not a number from %ld to %ld\n", opt, s,
			min, max);
		exit(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	pthread_t th;
	size_t which;
	int c;

	P.ops = -1;
	P.depth = 4;
	P.locks = 10000;
	P.orders = 1000000;
	P.threads = 64;
	P.hot = 64;
	P.kind = "mutex";
	while ((c = getopt(argc, argv, "hn:d:l:o:t:w:k:")) != -1) {
		switch (c) {
		case 'n':
			P.ops = number("-n", optarg, 1, 1L << 40);
			break;
		case 'd':
			P.depth = number("-d", optarg, 1, 1000);
			break;
		case 'l':
			P.locks = number("-l", optarg, 2, 1000000);
			break;
		case 'o':
			P.orders = number("-o", optarg, 1, 100000000);
			break;
		case 't':
			P.threads = number("-t", optarg, 1, 4096);
			break;
		case 'w':
			P.hot = number("-w", optarg, 1, 100000000);
			break;
		case 'k':
			P.kind = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	for (which = 0; which < sizeof(cases) / sizeof(cases[0]); which++)
		if (strcmp(argv[optind], cases[which].name) == 0)
			break;
	if (which == sizeof(cases) / sizeof(cases[0])) {
		fprintf(stderr, "lhbench: %s: no such case\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	P.name = cases[which].name;
	if (P.ops < 0)
		P.ops = cases[which].ops;

	/* The case runs in a created thread: the process is multi-threaded. */
	check("pthread_create", pthread_create(&th, NULL, case_thread, (void *)cases[which].run));
	check("pthread_join", pthread_join(th, NULL));
	if (R.ops <= 0) {
		fprintf(stderr, "lhbench: %s: -n %ld is too small for this case\n", P.name,
			P.ops);
		return 2;
	}
	printf("lhbench case=%s ops=%ld cpu_ns=%.2f wall_ns=%.2f%s%s\n", P.name, R.ops,
	       R.cpu_ns / (double)R.ops, R.wall_ns / (double)R.ops, R.extra[0] ? " " : "",
	       R.extra);
	return 0;
}
