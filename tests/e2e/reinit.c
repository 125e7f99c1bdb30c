/*
 * Lock identity across destroy and re-init. A thread takes A then M; M is
 * destroyed, its memory freed, and a new mutex is made (malloc hands back
 * the same address); another thread takes that new M then A. The two M's
 * are different locks: expected silence. With the argument "same", M is
 * kept instead (no destroy): the same lock, a real cycle: reported.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t *m;

static void *
a_then_m(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock_a);
	pthread_mutex_lock(m);
	pthread_mutex_unlock(m);
	pthread_mutex_unlock(&lock_a);
	return NULL;
}

static void *
m_then_a(void *arg)
{
	(void)arg;
	pthread_mutex_lock(m);
	pthread_mutex_lock(&lock_a);
	pthread_mutex_unlock(&lock_a);
	pthread_mutex_unlock(m);
	return NULL;
}

int
main(int argc, char **argv)
{
	int same = argc > 1 && strcmp(argv[1], "same") == 0;
	pthread_mutex_t *old;
	pthread_t t;

	m = malloc(sizeof(*m));
	pthread_mutex_init(m, NULL);
	pthread_create(&t, NULL, a_then_m, NULL);
	pthread_join(t, NULL);
	if (!same) {
		old = m;
		pthread_mutex_destroy(m);
		free(m);
		m = malloc(sizeof(*m));
		pthread_mutex_init(m, NULL);
		printf("reused=%d\n", m == old);
	}
	pthread_create(&t, NULL, m_then_a, NULL);
	pthread_join(t, NULL);
	pthread_mutex_destroy(m);
	free(m);
	return 0;
}
