/*
 * A thread that returns while still holding a lock: on an error path it
 * forgets to unlock. Whoever needs the lock next waits forever; lockhound
 * names the lock and where it was taken when the thread exits.
 *
 *   lockhound run -- examples/exit
 */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t session_lock = PTHREAD_MUTEX_INITIALIZER;

static void *
handle(void *arg)
{
	int bad_input = *(int *)arg;

	pthread_mutex_lock(&session_lock);
	if (bad_input)
		return NULL; /* the bug: session_lock stays locked */
	pthread_mutex_unlock(&session_lock);
	return NULL;
}

int
main(void)
{
	int bad = 1;
	pthread_t t;

	pthread_create(&t, NULL, handle, &bad);
	pthread_join(t, NULL);
	puts(pthread_mutex_trylock(&session_lock) ? "session_lock is lost" : "fine");
	return 0;
}
