/*
 * Reader-writer locks, two threads that never overlap (joined in between),
 * each mode a pair of opposite orders:
 *   readread   both take both for reading: readers pass readers: silent
 *   writer     each holds one for reading and writes the other: reported
 *   readinto   T1 writes A then reads B, T2 reads B then writes A: T1's
 *              read passes T2's read hold (lockdep's rule): silent
 *   prefwriter like readread, on writer-preferring rwlocks: a read waits
 *              behind a queued writer, so reads can deadlock: reported
 *   timed      timed and clock variants, then trylock, all released: silent
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static pthread_rwlock_t lock_a, lock_b;
static const char *mode;

static void
take(pthread_rwlock_t *l, int write)
{
	if (write)
		pthread_rwlock_wrlock(l);
	else
		pthread_rwlock_rdlock(l);
}

static void *
first(void *arg)
{
	(void)arg;
	if (strcmp(mode, "timed") == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 5;
		pthread_rwlock_timedwrlock(&lock_a, &ts);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 5;
		pthread_rwlock_clockrdlock(&lock_b, CLOCK_MONOTONIC, &ts);
		pthread_rwlock_unlock(&lock_b);
		pthread_rwlock_unlock(&lock_a);
		if (pthread_rwlock_tryrdlock(&lock_a) == 0 && pthread_rwlock_trywrlock(&lock_b) == 0) {
			pthread_rwlock_unlock(&lock_b);
			pthread_rwlock_unlock(&lock_a);
		}
		return NULL;
	}
	take(&lock_a, strcmp(mode, "readinto") == 0);
	take(&lock_b, strcmp(mode, "writer") == 0);
	pthread_rwlock_unlock(&lock_b);
	pthread_rwlock_unlock(&lock_a);
	return NULL;
}

static void *
second(void *arg)
{
	(void)arg;
	if (strcmp(mode, "timed") == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 5;
		pthread_rwlock_timedrdlock(&lock_a, &ts);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 5;
		pthread_rwlock_clockwrlock(&lock_b, CLOCK_MONOTONIC, &ts);
		pthread_rwlock_unlock(&lock_b);
		pthread_rwlock_unlock(&lock_a);
		return NULL;
	}
	take(&lock_b, 0);
	take(&lock_a, strcmp(mode, "writer") == 0 || strcmp(mode, "readinto") == 0);
	pthread_rwlock_unlock(&lock_a);
	pthread_rwlock_unlock(&lock_b);
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_rwlockattr_t attr;
	pthread_t t;

	mode = argc > 1 ? argv[1] : "readread";
	pthread_rwlockattr_init(&attr);
	if (strcmp(mode, "prefwriter") == 0)
		pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&lock_a, &attr);
	pthread_rwlock_init(&lock_b, &attr);
	pthread_create(&t, NULL, first, NULL);
	pthread_join(t, NULL);
	pthread_create(&t, NULL, second, NULL);
	pthread_join(t, NULL);
	printf("%s done\n", mode);
	return 0;
}
