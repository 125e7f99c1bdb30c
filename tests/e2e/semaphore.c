/*
 * Semaphores and barriers have no owner, so they make no lock order; but
 * they are waits, and the wrappers must keep their semantics: a pipeline of
 * two threads over two semaphores (1000 hand-offs, each taken while holding
 * a mutex: no order through the semaphore), sem_timedwait and sem_clockwait
 * timing out with errno ETIMEDOUT, sem_trywait EAGAIN, errno untouched by a
 * successful wait after a failed internal try, and a barrier of three.
 * Expected: correct results and silence.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <time.h>

static sem_t ping, pong;
static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t barrier;
static int failures, rounds, serial;

#define EXPECT(c)                                                                        \
	do {                                                                             \
		if (!(c)) {                                                              \
			fprintf(stderr, "semaphore.c:%d: expected %s\n", __LINE__, #c); \
			failures++;                                                      \
		}                                                                        \
	} while (0)

static void *
player(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++) {
		errno = 55;
		EXPECT(sem_wait(&ping) == 0);
		EXPECT(errno == 55);
		pthread_mutex_lock(&lock_a);
		rounds++;
		pthread_mutex_unlock(&lock_a);
		sem_post(&pong);
	}
	return NULL;
}

static void *
at_barrier(void *arg)
{
	(void)arg;
	if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD)
		__atomic_fetch_add(&serial, 1, __ATOMIC_RELAXED);
	return NULL;
}

int
main(void)
{
	struct timespec ts;
	pthread_t t, b[3];

	sem_init(&ping, 0, 0);
	sem_init(&pong, 0, 0);
	pthread_create(&t, NULL, player, NULL);
	for (int i = 0; i < 1000; i++) {
		pthread_mutex_lock(&lock_a); /* post while holding a lock */
		sem_post(&ping);
		pthread_mutex_unlock(&lock_a);
		EXPECT(sem_wait(&pong) == 0);
	}
	pthread_join(t, NULL);
	EXPECT(rounds == 1000);

	errno = 0;
	EXPECT(sem_trywait(&ping) == -1 && errno == EAGAIN);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 10 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	errno = 0;
	EXPECT(sem_timedwait(&ping, &ts) == -1 && errno == ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	errno = 0;
	EXPECT(sem_clockwait(&ping, CLOCK_MONOTONIC, &ts) == -1 && errno == ETIMEDOUT);
	sem_post(&ping);
	clock_gettime(CLOCK_REALTIME, &ts);
	EXPECT(sem_timedwait(&ping, &ts) == 0); /* available: no timeout */

	pthread_barrier_init(&barrier, NULL, 3);
	for (int i = 0; i < 3; i++)
		pthread_create(&b[i], NULL, at_barrier, NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(b[i], NULL);
	EXPECT(serial == 1);
	printf("failures=%d\n", failures);
	return failures != 0;
}
