/*
 * The wrappers keep the real calls' semantics: return values of every mutex
 * type (normal, recursive, errorcheck, adaptive, robust), errno left as the
 * real call left it, trylock EBUSY, timedlock ETIMEDOUT, errorcheck relock
 * EDEADLK, recursive re-entry counted. Exits 1 on the first difference, and
 * nothing in here is a finding.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

static int failures;

#define EXPECT(cond)                                                                     \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "errno.c:%d: expected %s\n", __LINE__, #cond);   \
			failures++;                                                      \
		}                                                                        \
	} while (0)

static pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER;

static void *
holder(void *arg)
{
	pthread_mutex_t *m = arg;

	EXPECT(pthread_mutex_trylock(m) == EBUSY);
	return NULL;
}

static void
check_type(int type)
{
	pthread_mutexattr_t attr;
	pthread_mutex_t m;
	pthread_t t;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, type);
	EXPECT(pthread_mutex_init(&m, &attr) == 0);
	errno = 4242;
	EXPECT(pthread_mutex_lock(&m) == 0);
	EXPECT(errno == 4242);
	if (type == PTHREAD_MUTEX_RECURSIVE) {
		EXPECT(pthread_mutex_lock(&m) == 0);
		EXPECT(pthread_mutex_trylock(&m) == 0);
		EXPECT(pthread_mutex_unlock(&m) == 0);
		EXPECT(pthread_mutex_unlock(&m) == 0);
	} else if (type == PTHREAD_MUTEX_ERRORCHECK) {
		EXPECT(pthread_mutex_lock(&m) == EDEADLK);
		EXPECT(errno == 4242);
	}
	pthread_create(&t, NULL, holder, &m);
	pthread_join(t, NULL);
	EXPECT(pthread_mutex_unlock(&m) == 0);
	if (type == PTHREAD_MUTEX_ERRORCHECK)
		EXPECT(pthread_mutex_unlock(&m) == EPERM);
	EXPECT(pthread_mutex_destroy(&m) == 0);
	EXPECT(errno == 4242);
	pthread_mutexattr_destroy(&attr);
}

static void *
timed(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 20 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	errno = 77;
	EXPECT(pthread_mutex_timedlock(&busy, &ts) == ETIMEDOUT);
	EXPECT(errno == 77);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec = 0;
	EXPECT(pthread_mutex_clocklock(&busy, CLOCK_MONOTONIC, &ts) == ETIMEDOUT);
	EXPECT(pthread_mutex_trylock(&busy) == EBUSY);
	EXPECT(errno == 77);
	return NULL;
}

int
main(void)
{
	pthread_mutexattr_t attr;
	pthread_mutex_t robust;
	pthread_t t;

	check_type(PTHREAD_MUTEX_NORMAL);
	check_type(PTHREAD_MUTEX_RECURSIVE);
	check_type(PTHREAD_MUTEX_ERRORCHECK);
	check_type(PTHREAD_MUTEX_ADAPTIVE_NP);

	pthread_mutex_lock(&busy);
	pthread_create(&t, NULL, timed, NULL);
	pthread_join(t, NULL);
	pthread_mutex_unlock(&busy);

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	EXPECT(pthread_mutex_init(&robust, &attr) == 0);
	EXPECT(pthread_mutex_lock(&robust) == 0);
	EXPECT(pthread_mutex_unlock(&robust) == 0);
	EXPECT(pthread_mutex_destroy(&robust) == 0);

	printf("failures=%d\n", failures);
	return failures != 0;
}
