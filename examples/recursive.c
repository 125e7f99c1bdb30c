/*
 * Taking a lock you already hold.
 *
 *   lockhound run -- examples/recursive            a recursive mutex: silent
 *   lockhound run --on_deadlock=abort -- examples/recursive normal
 *
 * A recursive mutex counts re-entries. A normal one taken again by its
 * holder waits for itself forever: lockhound reports it before the thread
 * blocks, and with on_deadlock=abort ends the process instead of hanging.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t state_lock;
static int depth;

static void
update(int level)
{
	pthread_mutex_lock(&state_lock);
	depth = level;
	if (level < 3)
		update(level + 1); /* takes state_lock again */
	pthread_mutex_unlock(&state_lock);
}

int
main(int argc, char **argv)
{
	pthread_mutexattr_t attr;
	int normal = argc > 1 && strcmp(argv[1], "normal") == 0;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, normal ? PTHREAD_MUTEX_NORMAL
						: PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&state_lock, &attr);
	update(1);
	printf("depth %d\n", depth);
	return 0;
}
