/*
 * A reader-writer lock built from a mutex and a condition variable, the way
 * tutorials write it, and the pitfalls it invites. Its write side keeps the
 * inner mutex for the whole write; a writer that logs while writing takes
 * log_lock under it, and a reader that logs first and then reads takes the
 * inner mutex under log_lock: a lock-order inversion lockhound reports
 * (each path alone is fine). It also starves writers: readers keep coming,
 * and the writer waits until none is left.
 *
 *   lockhound run -- examples/rwcond
 */
#include <pthread.h>
#include <stdio.h>

struct rwlock {
	pthread_mutex_t mu; /* held by a writer for the whole write */
	pthread_cond_t no_readers;
	int readers;
};

static struct rwlock table = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void read_lock(struct rwlock *rw)
{
	pthread_mutex_lock(&rw->mu);
	rw->readers++;
	pthread_mutex_unlock(&rw->mu);
}

static void read_unlock(struct rwlock *rw)
{
	pthread_mutex_lock(&rw->mu);
	if (--rw->readers == 0)
		pthread_cond_signal(&rw->no_readers);
	pthread_mutex_unlock(&rw->mu);
}

static void write_lock(struct rwlock *rw)
{
	pthread_mutex_lock(&rw->mu);
	while (rw->readers > 0) /* starves while readers keep coming */
		pthread_cond_wait(&rw->no_readers, &rw->mu);
}

static void *writer(void *arg)
{
	(void)arg; /* logs while writing */
	write_lock(&table);
	pthread_mutex_lock(&log_lock); /* table.mu -> log_lock */
	pthread_mutex_unlock(&log_lock);
	pthread_mutex_unlock(&table.mu); /* write_unlock() */
	return NULL;
}

static void *reader(void *arg)
{
	(void)arg; /* logs, then reads */
	pthread_mutex_lock(&log_lock);
	read_lock(&table); /* log_lock -> table.mu */
	read_unlock(&table);
	pthread_mutex_unlock(&log_lock);
	return NULL;
}

int main(void)
{
	pthread_t t;

	pthread_create(&t, NULL, writer, NULL);
	pthread_join(t, NULL);
	pthread_create(&t, NULL, reader, NULL);
	pthread_join(t, NULL);
	puts("done");
	return 0;
}
