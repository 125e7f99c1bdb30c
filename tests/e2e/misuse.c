/*
 * One misuse per mode, each reported once as a `misuse` record:
 *   relock          a normal mutex locked again by its holder (reported
 *                   before the thread hangs; run with on_deadlock=abort)
 *   spinrelock      the same with a spinlock
 *   upgrade         an rwlock write-locked by a thread holding it to read
 *   recursiveread   a writer-preferring rwlock read-locked twice
 *   notowner        a mutex unlocked by a thread that does not hold it
 *   unlocked        a mutex unlocked while not locked
 *   destroylocked   a locked mutex destroyed
 *   exitholding     a thread returns holding a lock
 *   fine            the correct uses of all the above: silent
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t guard = PTHREAD_MUTEX_INITIALIZER;
static pthread_spinlock_t spin;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;

__attribute__((noinline)) static void
relock(void)
{
	pthread_mutex_lock(&guard);
	pthread_mutex_lock(&guard); /* never returns */
}

static void *
unlock_it(void *arg)
{
	(void)arg;
	pthread_mutex_unlock(&guard);
	return NULL;
}

static void *
leave_locked(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&guard);
	return NULL; /* still holding guard */
}

static void *
lock_and_unlock(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&guard);
	pthread_mutex_unlock(&guard);
	return NULL;
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "fine";
	pthread_rwlockattr_t attr;
	pthread_t t;

	pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE);
	if (strcmp(mode, "relock") == 0) {
		relock();
	} else if (strcmp(mode, "spinrelock") == 0) {
		pthread_spin_lock(&spin);
		pthread_spin_lock(&spin);
	} else if (strcmp(mode, "upgrade") == 0) {
		pthread_rwlock_rdlock(&rw);
		pthread_rwlock_wrlock(&rw);
	} else if (strcmp(mode, "recursiveread") == 0) {
		pthread_rwlockattr_init(&attr);
		pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&rw, &attr);
		pthread_rwlock_rdlock(&rw);
		pthread_rwlock_rdlock(&rw);
		pthread_rwlock_unlock(&rw);
		pthread_rwlock_unlock(&rw);
	} else if (strcmp(mode, "notowner") == 0) {
		pthread_mutex_lock(&guard);
		pthread_create(&t, NULL, unlock_it, NULL);
		pthread_join(t, NULL);
	} else if (strcmp(mode, "unlocked") == 0) {
		pthread_mutex_unlock(&guard);
	} else if (strcmp(mode, "destroylocked") == 0) {
		pthread_mutex_lock(&guard);
		printf("destroy=%d\n", pthread_mutex_destroy(&guard));
		pthread_mutex_unlock(&guard);
	} else if (strcmp(mode, "exitholding") == 0) {
		pthread_create(&t, NULL, leave_locked, NULL);
		pthread_join(t, NULL);
	} else {
		pthread_mutex_lock(&guard);
		pthread_mutex_unlock(&guard);
		pthread_create(&t, NULL, lock_and_unlock, NULL);
		pthread_join(t, NULL);
		pthread_spin_lock(&spin);
		pthread_spin_unlock(&spin);
		pthread_rwlock_rdlock(&rw);
		pthread_rwlock_rdlock(&rw); /* reader-preferring: fine */
		pthread_rwlock_unlock(&rw);
		pthread_rwlock_unlock(&rw);
		pthread_rwlock_wrlock(&rw);
		pthread_rwlock_unlock(&rw);
		pthread_rwlock_destroy(&rw);
		pthread_mutex_destroy(&guard);
		pthread_spin_destroy(&spin);
	}
	printf("%s done\n", mode);
	return 0;
}
