/*
 * racework: the workload for a race detector's slowdown (bench/run). THREADS
 * threads (default 2) each build a histogram of their own slice of a shared,
 * read-only array, in private memory, and merge it into a global histogram
 * under a mutex every CHUNK elements: plenty of instrumented loads and stores,
 * some shared reads, a lock now and then, and no race. Built plain, with
 * -fsanitize=thread and TSan's runtime, and with -fsanitize=thread against
 * another runtime that defines the __tsan_* hooks. Prints
 *
 *   racework threads=T elements=N cpu_s=X wall_s=Y checksum=Z
 *
 * where cpu_s is the process's CPU time from the threads' start to their end
 * (every thread's, the tool's own included) and checksum proves that every build computed the same thing.
 *
 *   usage: racework [-t THREADS] [-n ELEMENTS]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BINS 256
#define CHUNK 4096
#define PASSES 8

static uint32_t *data;
static long nelem;
static long nthreads = 2;
static uint64_t global_hist[BINS];
static pthread_mutex_t global_mu = PTHREAD_MUTEX_INITIALIZER;

struct slice {
	pthread_t thread;
	long lo, hi;
};

static void *
slice_main(void *arg)
{
	struct slice *s = arg;
	uint64_t local[BINS];

	for (int pass = 0; pass < PASSES; pass++) {
		for (long c = s->lo; c < s->hi; c += CHUNK) {
			long end = c + CHUNK < s->hi ? c + CHUNK : s->hi;

			memset(local, 0, sizeof(local));
			for (long i = c; i < end; i++)
				local[(data[i] >> (pass * 3)) % BINS]++;
			pthread_mutex_lock(&global_mu);
			for (int b = 0; b < BINS; b++)
				global_hist[b] += local[b];
			pthread_mutex_unlock(&global_mu);
		}
	}
	return NULL;
}

static double
seconds(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	struct slice *s;
	uint64_t x = 88172645463325252ull, sum = 0;
	double w0, c0;
	int c;

	nelem = 1 << 24;
	while ((c = getopt(argc, argv, "t:n:")) != -1) {
		switch (c) {
		case 't':
			nthreads = strtol(optarg, NULL, 10);
			break;
		case 'n':
			nelem = strtol(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: racework [-t THREADS] [-n ELEMENTS]\n");
			return 2;
		}
	}
	if (optind != argc || nthreads < 1 || nthreads > 1024 || nelem < 1 ||
	    nelem > (1L << 30)) {
		fprintf(stderr, "usage: racework [-t THREADS 1..1024] [-n ELEMENTS 1..2^30]\n");
		return 2;
	}
	data = malloc((size_t)nelem * sizeof(*data));
	s = calloc((size_t)nthreads, sizeof(*s));
	if (!data || !s) {
		fprintf(stderr, "racework: out of memory\n");
		return 2;
	}
	for (long i = 0; i < nelem; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		data[i] = (uint32_t)x;
	}
	c0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
	w0 = seconds(CLOCK_MONOTONIC);
	for (long t = 0; t < nthreads; t++) {
		int rc;

		s[t].lo = nelem * t / nthreads;
		s[t].hi = nelem * (t + 1) / nthreads;
		rc = pthread_create(&s[t].thread, NULL, slice_main, &s[t]);
		if (rc) {
			fprintf(stderr, "racework: pthread_create: %s\n", strerror(rc));
			return 2;
		}
	}
	for (long t = 0; t < nthreads; t++)
		pthread_join(s[t].thread, NULL);
	for (int b = 0; b < BINS; b++)
		sum = sum * 31 + global_hist[b];
	printf("racework threads=%ld elements=%ld cpu_s=%.4f wall_s=%.4f checksum=%016llx\n",
	       nthreads, nelem, seconds(CLOCK_PROCESS_CPUTIME_ID) - c0,
	       seconds(CLOCK_MONOTONIC) - w0, (unsigned long long)sum);
	return 0;
}
