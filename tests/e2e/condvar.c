/*
 * Condition variables release their mutex while waiting and take it again
 * before returning; the runtime must follow exactly:
 *   queue      a producer-consumer queue, 1000 items, the consumer also takes
 *              a stats lock while holding the queue lock: silent
 *   order      T1 holds A and waits on the condition with M (M is taken
 *              again while holding A: A->M); T2 takes M then A: reported
 *   timeout    timed and clock waits that time out, then unlock: silent
 *   cnd        the queue on C11 cnd_t and mtx_t: silent
 *   mismatch   two threads wait on one condition at once, with two mutexes:
 *              misuse cond-mutex-mismatch
 *   cancel     a thread cancelled in its wait, whose cleanup handler forgets
 *              to unlock the mutex: misuse exit-holding names the mutex
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <threads.h>
#include <time.h>

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t other_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t nonempty = PTHREAD_COND_INITIALIZER;
static mtx_t c11_lock;
static cnd_t c11_cond;
static int items, consumed, ready, done, use_c11;

static void *
producer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++) {
		if (use_c11) {
			mtx_lock(&c11_lock);
			items++;
			cnd_signal(&c11_cond);
			mtx_unlock(&c11_lock);
		} else {
			pthread_mutex_lock(&queue_lock);
			items++;
			pthread_cond_signal(&nonempty);
			pthread_mutex_unlock(&queue_lock);
		}
	}
	return NULL;
}

static void *
consumer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++) {
		if (use_c11) {
			mtx_lock(&c11_lock);
			while (items == 0)
				cnd_wait(&c11_cond, &c11_lock);
			items--;
			consumed++;
			mtx_unlock(&c11_lock);
			continue;
		}
		pthread_mutex_lock(&queue_lock);
		while (items == 0)
			pthread_cond_wait(&nonempty, &queue_lock);
		items--;
		pthread_mutex_lock(&stats_lock);
		consumed++;
		pthread_mutex_unlock(&stats_lock);
		pthread_mutex_unlock(&queue_lock);
	}
	return NULL;
}

static void
queue(void)
{
	pthread_t p, c;

	pthread_create(&c, NULL, consumer, NULL);
	pthread_create(&p, NULL, producer, NULL);
	pthread_join(p, NULL);
	pthread_join(c, NULL);
	printf("consumed=%d\n", consumed);
}

static void *
wait_holding_a(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock_a);
	pthread_mutex_lock(&queue_lock);
	ready = 1;
	while (!done)
		pthread_cond_wait(&nonempty, &queue_lock);
	pthread_mutex_unlock(&queue_lock);
	pthread_mutex_unlock(&lock_a);
	return NULL;
}

static void *
m_then_a(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&queue_lock);
	pthread_mutex_lock(&lock_a);
	pthread_mutex_unlock(&lock_a);
	pthread_mutex_unlock(&queue_lock);
	return NULL;
}

static void
order(void)
{
	pthread_t t;

	pthread_create(&t, NULL, wait_holding_a, NULL);
	for (;;) { /* the waiter released queue_lock inside its wait */
		pthread_mutex_lock(&queue_lock);
		if (ready)
			break;
		pthread_mutex_unlock(&queue_lock);
		sched_yield();
	}
	done = 1;
	pthread_cond_broadcast(&nonempty);
	pthread_mutex_unlock(&queue_lock);
	pthread_join(t, NULL);
	pthread_create(&t, NULL, m_then_a, NULL);
	pthread_join(t, NULL);
}

static void
timeout(void)
{
	struct timespec ts;
	int rc1, rc2;

	pthread_mutex_lock(&queue_lock);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 10 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	rc1 = pthread_cond_timedwait(&nonempty, &queue_lock, &ts);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	rc2 = pthread_cond_clockwait(&nonempty, &queue_lock, CLOCK_MONOTONIC, &ts);
	pthread_mutex_lock(&stats_lock); /* still holding queue_lock */
	pthread_mutex_unlock(&stats_lock);
	pthread_mutex_unlock(&queue_lock);
	printf("timedwait=%s clockwait=%s\n", rc1 == ETIMEDOUT ? "ETIMEDOUT" : "?",
	       rc2 == ETIMEDOUT ? "ETIMEDOUT" : "?");
}

static int ready2;

static void *
wait_with(void *arg)
{
	pthread_mutex_t *m = arg;

	pthread_mutex_lock(m);
	if (m == &queue_lock)
		ready = 1;
	else
		ready2 = 1;
	while (!done)
		pthread_cond_wait(&nonempty, m);
	pthread_mutex_unlock(m);
	return NULL;
}

/* Waits until the thread that sets *flag under m is inside its wait: it
 * releases m only there. */
static void
await_waiter(pthread_mutex_t *m, int *flag)
{
	for (;;) {
		pthread_mutex_lock(m);
		if (*flag)
			break;
		pthread_mutex_unlock(m);
		sched_yield();
	}
	pthread_mutex_unlock(m);
}

static void
mismatch(void)
{
	pthread_t t1, t2;

	pthread_create(&t1, NULL, wait_with, &queue_lock);
	await_waiter(&queue_lock, &ready);
	pthread_create(&t2, NULL, wait_with, &other_lock);
	await_waiter(&other_lock, &ready2);
	pthread_mutex_lock(&queue_lock);
	pthread_mutex_lock(&other_lock);
	done = 1;
	pthread_cond_broadcast(&nonempty);
	pthread_mutex_unlock(&other_lock);
	pthread_mutex_unlock(&queue_lock);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
}

static void
leak_cleanup(void *arg)
{
	(void)arg; /* the bug: should unlock queue_lock */
}

static void *
cancelled_waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&queue_lock);
	ready = 1;
	pthread_cleanup_push(leak_cleanup, NULL);
	for (;;)
		pthread_cond_wait(&nonempty, &queue_lock);
	pthread_cleanup_pop(0);
	return NULL;
}

static void
cancel(void)
{
	pthread_t t;

	pthread_create(&t, NULL, cancelled_waiter, NULL);
	await_waiter(&queue_lock, &ready);
	pthread_cancel(t);
	pthread_join(t, NULL);
	puts("cancelled");
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "queue";

	if (strcmp(mode, "queue") == 0) {
		queue();
	} else if (strcmp(mode, "cnd") == 0) {
		use_c11 = 1;
		mtx_init(&c11_lock, mtx_plain);
		cnd_init(&c11_cond);
		queue();
	} else if (strcmp(mode, "order") == 0) {
		order();
	} else if (strcmp(mode, "timeout") == 0) {
		timeout();
	} else if (strcmp(mode, "mismatch") == 0) {
		mismatch();
	} else if (strcmp(mode, "cancel") == 0) {
		cancel();
	}
	printf("%s done\n", mode);
	return 0;
}
