/*
 * Trylock back-off: one thread takes A then B; another holds B and only
 * tries A, backing off when it is busy. A trylock cannot wait, so B->A is no
 * order and there is no deadlock: expected silence. With the argument
 * "block", the second thread takes A with a blocking lock instead: reported.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static int blocking, done;

static void *
forward(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++) {
		pthread_mutex_lock(&lock_a);
		pthread_mutex_lock(&lock_b);
		done++;
		pthread_mutex_unlock(&lock_b);
		pthread_mutex_unlock(&lock_a);
	}
	return NULL;
}

static void *
backoff(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++) {
		pthread_mutex_lock(&lock_b);
		if (blocking) {
			pthread_mutex_lock(&lock_a);
			pthread_mutex_unlock(&lock_a);
		} else if (pthread_mutex_trylock(&lock_a) == 0) {
			done++;
			pthread_mutex_unlock(&lock_a);
		}
		pthread_mutex_unlock(&lock_b);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t t1, t2;

	blocking = argc > 1 && strcmp(argv[1], "block") == 0;
	pthread_create(&t1, NULL, forward, NULL);
	pthread_join(t1, NULL);
	pthread_create(&t2, NULL, backoff, NULL);
	pthread_join(t2, NULL);
	printf("done=%d\n", done > 0);
	return 0;
}
