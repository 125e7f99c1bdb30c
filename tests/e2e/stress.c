/*
 * Lock stress for dump storms: stress THREADS STOPFILE
 *
 * THREADS threads (named stress-N) take two of 64 mutexes at a time, in
 * one global order, and count under them; every 64th round they read a
 * shared table under an rwlock (and one round in 512 writes it), and every
 * 256th they hand a token through a condition variable. main prints
 * "running" once every thread has made a round, and sets the stop flag
 * when STOPFILE exists. At the end each counter must equal the rounds that
 * touched it: "stress ok" or the first mismatch. Dumps fired at it must
 * change nothing, and it takes no lock in two orders (so no findings).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define NLOCKS 64
#define MAXT   256

static pthread_mutex_t locks[NLOCKS];
static long counters[NLOCKS];
static long touched[MAXT][NLOCKS];
static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static long table[16];
static long table_writes[MAXT];
static pthread_mutex_t token_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t token_cond = PTHREAD_COND_INITIALIZER;
static long tokens, token_passes[MAXT];
static int done; /* every worker has finished: under token_lock */
static volatile int stop;
static int started;

static void
nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000}, rem;

	while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
		ts = rem;
}

static void *
stress(void *arg)
{
	int me = (int)(long)arg;
	unsigned seed = (unsigned)me * 2654435761u + 1;
	char name[16];

	snprintf(name, sizeof(name), "stress-%d", me);
	pthread_setname_np(pthread_self(), name);
	for (long round = 0; !stop || round < 1000; round++) {
		int a = (int)(rand_r(&seed) % NLOCKS), b = (int)(rand_r(&seed) % NLOCKS);

		if (a == b)
			b = (a + 1) % NLOCKS;
		if (a > b) {
			int t = a;

			a = b;
			b = t;
		}
		pthread_mutex_lock(&locks[a]);
		pthread_mutex_lock(&locks[b]);
		counters[a]++;
		counters[b]++;
		pthread_mutex_unlock(&locks[b]);
		pthread_mutex_unlock(&locks[a]);
		touched[me][a]++;
		touched[me][b]++;
		if (round == 0)
			__atomic_fetch_add(&started, 1, __ATOMIC_SEQ_CST);
		if (round % 512 == 511) {
			pthread_rwlock_wrlock(&table_lock);
			table[round / 512 % 16]++;
			pthread_rwlock_unlock(&table_lock);
			table_writes[me]++;
		} else if (round % 64 == 63) {
			long sum = 0;

			pthread_rwlock_rdlock(&table_lock);
			for (int i = 0; i < 16; i++)
				sum += table[i];
			pthread_rwlock_unlock(&table_lock);
			(void)sum;
		}
		if (round % 256 == 255) {
			pthread_mutex_lock(&token_lock);
			tokens++;
			pthread_cond_signal(&token_cond);
			pthread_mutex_unlock(&token_lock);
			token_passes[me]++;
		}
	}
	return NULL;
}

/* Takes the tokens the workers hand in, through the condition variable. */
static void *
collector(void *arg)
{
	long *taken = arg;

	pthread_setname_np(pthread_self(), "collector");
	pthread_mutex_lock(&token_lock);
	for (;;) {
		while (tokens == 0 && !done)
			pthread_cond_wait(&token_cond, &token_lock);
		if (tokens == 0 && done)
			break;
		*taken += tokens;
		tokens = 0;
	}
	pthread_mutex_unlock(&token_lock);
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t t[MAXT], c;
	long taken = 0, passes = 0, writes = 0, sum = 0;
	int n;

	if (argc != 3 || (n = atoi(argv[1])) < 1 || n > MAXT) {
		fprintf(stderr, "usage: stress THREADS STOPFILE\n");
		return 2;
	}
	for (int i = 0; i < NLOCKS; i++)
		pthread_mutex_init(&locks[i], NULL);
	pthread_create(&c, NULL, collector, &taken);
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, stress, (void *)(long)i);
	while (__atomic_load_n(&started, __ATOMIC_SEQ_CST) < n)
		nap(5);
	printf("running\n");
	fflush(stdout);
	while (access(argv[2], F_OK) != 0)
		nap(20);
	stop = 1;
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_lock(&token_lock);
	done = 1;
	pthread_cond_broadcast(&token_cond);
	pthread_mutex_unlock(&token_lock);
	pthread_join(c, NULL);
	for (int k = 0; k < NLOCKS; k++) {
		long expect = 0;

		for (int i = 0; i < n; i++)
			expect += touched[i][k];
		if (counters[k] != expect) {
			printf("mismatch: lock %d counted %ld, expected %ld\n", k,
			       counters[k], expect);
			return 1;
		}
		sum += expect;
	}
	for (int i = 0; i < n; i++) {
		passes += token_passes[i];
		writes += table_writes[i];
	}
	for (int i = 0; i < 16; i++)
		writes -= table[i];
	if (taken != passes || writes != 0) {
		printf("mismatch: tokens %ld of %ld, table writes off by %ld\n", taken,
		       passes, writes);
		return 1;
	}
	printf("stress ok\n");
	fprintf(stderr, "stress: %ld lock rounds, %ld tokens\n", sum / 2, taken);
	return 0;
}
