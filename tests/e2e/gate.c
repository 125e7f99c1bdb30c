/*
 * Gate locks. Two threads take A and B in opposite orders, but always while
 * holding G: they cannot both be inside, so no deadlock is possible:
 * expected silence. With the argument "leak", a third thread later takes
 * B then A without G: now the cycle can deadlock (against the first thread's
 * A->B), and it must be reported, once.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;

static void *
gated_ab(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&gate);
	pthread_mutex_lock(&lock_a);
	pthread_mutex_lock(&lock_b);
	pthread_mutex_unlock(&lock_b);
	pthread_mutex_unlock(&lock_a);
	pthread_mutex_unlock(&gate);
	return NULL;
}

static void *
gated_ba(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&gate);
	pthread_mutex_lock(&lock_b);
	pthread_mutex_lock(&lock_a);
	pthread_mutex_unlock(&lock_a);
	pthread_mutex_unlock(&lock_b);
	pthread_mutex_unlock(&gate);
	return NULL;
}

static void *
ungated_ba(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock_b);
	pthread_mutex_lock(&lock_a);
	pthread_mutex_unlock(&lock_a);
	pthread_mutex_unlock(&lock_b);
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t t;

	pthread_create(&t, NULL, gated_ab, NULL);
	pthread_join(t, NULL);
	pthread_create(&t, NULL, gated_ba, NULL);
	pthread_join(t, NULL);
	if (argc > 1 && strcmp(argv[1], "leak") == 0) {
		pthread_create(&t, NULL, ungated_ba, NULL);
		pthread_join(t, NULL);
	}
	puts("done");
	return 0;
}
