/*
 * Spinlocks and C11 mutexes, which glibc does not route through the pthread
 * mutex symbols:
 *   spin       AB/BA on two spinlocks: reported
 *   spintry    the second thread only tries the first lock: silent
 *   mtx        AB/BA on two mtx_t: reported
 *   mtxok      recursive mtx_t re-entered, mtx_timedlock and mtx_trylock,
 *              all in one order: silent
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <threads.h>
#include <time.h>

static pthread_spinlock_t spin_a, spin_b;
static mtx_t mtx_a, mtx_b;
static const char *mode;

static int
spin_ab(void *arg)
{
	(void)arg;
	pthread_spin_lock(&spin_a);
	pthread_spin_lock(&spin_b);
	pthread_spin_unlock(&spin_b);
	pthread_spin_unlock(&spin_a);
	return 0;
}

static int
spin_ba(void *arg)
{
	(void)arg;
	pthread_spin_lock(&spin_b);
	if (strcmp(mode, "spintry") == 0) {
		if (pthread_spin_trylock(&spin_a) == 0)
			pthread_spin_unlock(&spin_a);
	} else {
		pthread_spin_lock(&spin_a);
		pthread_spin_unlock(&spin_a);
	}
	pthread_spin_unlock(&spin_b);
	return 0;
}

static int
mtx_ab(void *arg)
{
	struct timespec ts;

	(void)arg;
	mtx_lock(&mtx_a);
	if (strcmp(mode, "mtxok") == 0) {
		mtx_lock(&mtx_a); /* recursive */
		timespec_get(&ts, TIME_UTC);
		ts.tv_sec += 5;
		mtx_timedlock(&mtx_b, &ts);
		mtx_unlock(&mtx_b);
		if (mtx_trylock(&mtx_b) == thrd_success)
			mtx_unlock(&mtx_b);
		mtx_unlock(&mtx_a);
	} else {
		mtx_lock(&mtx_b);
		mtx_unlock(&mtx_b);
	}
	mtx_unlock(&mtx_a);
	return 0;
}

static int
mtx_ba(void *arg)
{
	(void)arg;
	if (strcmp(mode, "mtxok") == 0)
		return mtx_ab(arg);
	mtx_lock(&mtx_b);
	mtx_lock(&mtx_a);
	mtx_unlock(&mtx_a);
	mtx_unlock(&mtx_b);
	return 0;
}

int
main(int argc, char **argv)
{
	int spins;
	thrd_t t;

	mode = argc > 1 ? argv[1] : "spin";
	spins = strncmp(mode, "spin", 4) == 0;
	pthread_spin_init(&spin_a, PTHREAD_PROCESS_PRIVATE);
	pthread_spin_init(&spin_b, PTHREAD_PROCESS_PRIVATE);
	mtx_init(&mtx_a, strcmp(mode, "mtxok") == 0 ? mtx_plain | mtx_recursive : mtx_plain);
	mtx_init(&mtx_b, mtx_timed);
	thrd_create(&t, spins ? spin_ab : mtx_ab, NULL);
	thrd_join(t, NULL);
	thrd_create(&t, spins ? spin_ba : mtx_ba, NULL);
	thrd_join(t, NULL);
	pthread_spin_destroy(&spin_a);
	pthread_spin_destroy(&spin_b);
	mtx_destroy(&mtx_a);
	mtx_destroy(&mtx_b);
	printf("%s done\n", mode);
	return 0;
}
