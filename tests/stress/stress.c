/*
 * Stress for the runtime: every mode must finish with exact results and
 * nothing reported (the test checks stderr and the log).
 *   nested     32 threads x 50,000 nested acquisitions (one to three locks,
 *              always in ascending order, from three call sites) over
 *              1,000 locks
 *   churn      2,000 threads, in waves of 50, each taking and releasing
 *              locks (some nested) before it exits
 *   reuse      objects with mutexes inside, made and freed over and over by
 *              8 threads (malloc hands the same memory back), locked in a
 *              consistent order: no identity is ever confused
 *   million    one thread makes, locks and destroys 1,000,000 locks (every
 *              64th under an outer lock: a new order each time); prints how
 *              much the resident set grew (the test bounds it)
 *   forkexec   4 threads keep locking while main forks 40 children; half exit
 *              at once, half exec argv[2] (a program with a finding)
 *   dlopen     4 threads dlopen/dlclose argv[2] (whose constructor locks)
 *              200 times while 2 others keep locking
 *   writers    four processes of 16 threads each write 3,200 lock-order
 *              records at once into one log file: no line may interleave
 *   masked     16 threads of nested work, half of them blocking every
 *              signal, while another thread asks for 20 thread dumps
 *              (SIGUSR1): the dumps name the blocking threads, the work is
 *              exact; prints the acquisitions, which the contention
 *              records at exit must add up to, dumps or not
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NLOCKS 1000

static pthread_mutex_t locks[NLOCKS];
static long counters[NLOCKS];
static volatile int stop;
static const char *arg2;

/* Three call sites of pthread_mutex_lock, one more than a normal mutex's
 * node keeps its counts for: they take the places from each other. */
static __attribute__((noinline)) void
lock_a(pthread_mutex_t *m)
{
	pthread_mutex_lock(m);
	__asm__ volatile("" ::: "memory"); /* not a tail call: a site of its own */
}

static __attribute__((noinline)) void
lock_b(pthread_mutex_t *m)
{
	pthread_mutex_lock(m);
	__asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void
lock_c(pthread_mutex_t *m)
{
	pthread_mutex_lock(m);
	__asm__ volatile("" ::: "memory");
}

static void (*const lock_at[3])(pthread_mutex_t *) = {lock_a, lock_b, lock_c};

static void *
nested(void *arg)
{
	unsigned seed = (unsigned)(long)arg;
	long done = 0;

	for (int n = 0; n < 50000; n++) {
		int k = 1 + rand_r(&seed) % 3, idx[3];

		for (int i = 0; i < k; i++) { /* k distinct locks, ascending */
			int v = rand_r(&seed) % NLOCKS, j = i;

			for (int d = 0; d < i; d++)
				if (idx[d] == v)
					v = -1;
			if (v < 0) {
				k = i;
				break;
			}
			while (j > 0 && idx[j - 1] > v) {
				idx[j] = idx[j - 1];
				j--;
			}
			idx[j] = v;
		}
		for (int i = 0; i < k; i++)
			lock_at[(n / 1000 + i) % 3](&locks[idx[i]]);
		for (int i = 0; i < k; i++)
			counters[idx[i]]++;
		done += k;
		for (int i = k - 1; i >= 0; i--)
			pthread_mutex_unlock(&locks[idx[i]]);
	}
	return (void *)done;
}

static long
total(void)
{
	long sum = 0;

	for (int i = 0; i < NLOCKS; i++)
		sum += counters[i];
	return sum;
}

static void *
short_life(void *arg)
{
	int i = (int)(long)arg % (NLOCKS - 1);

	pthread_mutex_lock(&locks[i]);
	pthread_mutex_lock(&locks[i + 1]);
	counters[i]++;
	pthread_mutex_unlock(&locks[i + 1]);
	pthread_mutex_unlock(&locks[i]);
	return NULL;
}

struct obj {
	pthread_mutex_t mu;
	long value;
};

static pthread_mutex_t registry = PTHREAD_MUTEX_INITIALIZER;

static void *
reuse(void *arg)
{
	unsigned seed = (unsigned)(long)arg;

	for (int n = 0; n < 20000; n++) {
		struct obj *o = malloc(sizeof(*o));

		pthread_mutex_init(&o->mu, NULL);
		if (rand_r(&seed) % 2) { /* registry, then the object */
			pthread_mutex_lock(&registry);
			pthread_mutex_lock(&o->mu);
			o->value = n;
			pthread_mutex_unlock(&o->mu);
			pthread_mutex_unlock(&registry);
		} else { /* a fresh object's lock alone, then the registry after */
			pthread_mutex_lock(&o->mu);
			o->value = n;
			pthread_mutex_unlock(&o->mu);
			pthread_mutex_lock(&registry);
			pthread_mutex_unlock(&registry);
		}
		pthread_mutex_destroy(&o->mu);
		free(o);
	}
	return NULL;
}

static long
rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static void *
million(void *arg)
{
	pthread_mutex_t outer = PTHREAD_MUTEX_INITIALIZER;
	long before = 0;

	(void)arg;
	for (int n = 0; n < 1000000; n++) {
		pthread_mutex_t *m = malloc(sizeof(*m));

		pthread_mutex_init(m, NULL);
		if (n % 64 == 0) /* a new lock order, now and then */
			pthread_mutex_lock(&outer);
		pthread_mutex_lock(m);
		pthread_mutex_unlock(m);
		if (n % 64 == 0)
			pthread_mutex_unlock(&outer);
		pthread_mutex_destroy(m);
		free(m);
		if (n == 100000)
			before = rss_kb();
	}
	printf("rss growth after warm-up: %ld kB\n", rss_kb() - before);
	return NULL;
}

static void *
keep_locking(void *arg)
{
	int i = (int)(long)arg;

	while (!stop) {
		pthread_mutex_lock(&locks[i]);
		pthread_mutex_lock(&locks[i + 10]);
		counters[i]++;
		pthread_mutex_unlock(&locks[i + 10]);
		pthread_mutex_unlock(&locks[i]);
	}
	return NULL;
}

static void *
opener(void *arg)
{
	(void)arg;
	for (int n = 0; n < 50; n++) {
		void *h = dlopen(arg2, RTLD_NOW | RTLD_LOCAL);

		if (!h) {
			fprintf(stderr, "dlopen: %s\n", dlerror());
			exit(3);
		}
		dlclose(h);
	}
	return NULL;
}

static pthread_mutex_t pool[16][400];

/* 200 new lock orders between static locks (each its own class), so that
 * every one is a record: 16 threads write at once. */
static void *
order_writer(void *arg)
{
	int t = (int)(long)arg - 1;

	for (int i = 0; i < 400; i += 2) {
		pthread_mutex_lock(&pool[t][i]);
		pthread_mutex_lock(&pool[t][i + 1]);
		pthread_mutex_unlock(&pool[t][i + 1]);
		pthread_mutex_unlock(&pool[t][i]);
	}
	return NULL;
}

/* nested(), with every signal blocked in every other thread. */
static void *
masked(void *arg)
{
	if ((long)arg % 2) {
		sigset_t all;

		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, NULL);
	}
	return nested(arg);
}

static void *
dumper(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20 && !stop; i++) {
		kill(getpid(), SIGUSR1);
		usleep(20000);
	}
	return NULL;
}

/* Runs n threads of fn; returns the sum of what they return. */
static long
run(int n, void *(*fn)(void *))
{
	pthread_t t[64];
	long sum = 0;

	for (long i = 0; i < n; i++)
		pthread_create(&t[i], NULL, fn, (void *)(i + 1));
	for (int i = 0; i < n; i++) {
		void *r;

		pthread_join(t[i], &r);
		sum += (long)r;
	}
	return sum;
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "nested";
	pthread_t t[64];
	int bad = 0;

	arg2 = argc > 2 ? argv[2] : "";
	for (int i = 0; i < NLOCKS; i++)
		pthread_mutex_init(&locks[i], NULL);
	if (strcmp(mode, "nested") == 0) {
		long expect = run(32, nested);

		printf("counters exact: %s\n", total() == expect ? "yes" : "no");
	} else if (strcmp(mode, "churn") == 0) {
		for (int wave = 0; wave < 40; wave++) {
			for (long i = 0; i < 50; i++)
				pthread_create(&t[i], NULL, short_life, (void *)(wave * 50 + i));
			for (int i = 0; i < 50; i++)
				pthread_join(t[i], NULL);
		}
		printf("threads: %ld\n", total());
	} else if (strcmp(mode, "reuse") == 0) {
		run(8, reuse);
		puts("reuse ok");
	} else if (strcmp(mode, "million") == 0) {
		run(1, million);
	} else if (strcmp(mode, "forkexec") == 0) {
		for (long i = 0; i < 4; i++)
			pthread_create(&t[i], NULL, keep_locking, (void *)(i * 20));
		for (int n = 0; n < 40; n++) {
			pid_t pid = fork();
			int status;

			if (pid == 0) {
				if (n % 2)
					execl(arg2, arg2, (char *)NULL);
				_exit(n % 2 ? 127 : 0);
			}
			if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
			    WEXITSTATUS(status) != 0)
				bad++;
		}
		stop = 1;
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
		printf("children failed: %d\n", bad);
	} else if (strcmp(mode, "dlopen") == 0) {
		for (long i = 0; i < 2; i++)
			pthread_create(&t[i], NULL, keep_locking, (void *)(i * 20));
		run(4, opener);
		stop = 1;
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		puts("dlopen ok");
	} else if (strcmp(mode, "writers") == 0) {
		/* Four processes, 16 threads each, one log file (no %p). */
		for (int p = 0; p < 3; p++)
			if (fork() == 0) {
				run(16, order_writer);
				_exit(0);
			}
		run(16, order_writer);
		while (wait(NULL) > 0)
			;
		puts("writers done");
	} else if (strcmp(mode, "masked") == 0) {
		long expect;

		pthread_create(&t[0], NULL, dumper, NULL);
		expect = run(16, masked);
		stop = 1;
		pthread_join(t[0], NULL);
		printf("counters exact: %s\n", total() == expect ? "yes" : "no");
		printf("acquisitions: %ld\n", expect);
	}
	return bad != 0;
}
