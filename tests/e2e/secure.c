/*
 * Run setuid (AT_SECURE): the runtime must ignore LOCKHOUND_OPTIONS and
 * write no file. Prints AT_SECURE so that the test knows the kernel really
 * ran it that way, then makes an AB/BA inversion (still reported on stderr).
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/auxv.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;

int
main(void)
{
	printf("AT_SECURE=%lu\n", getauxval(AT_SECURE));
	pthread_mutex_lock(&lock_a);
	pthread_mutex_lock(&lock_b);
	pthread_mutex_unlock(&lock_b);
	pthread_mutex_unlock(&lock_a);
	pthread_mutex_lock(&lock_b);
	pthread_mutex_lock(&lock_a);
	pthread_mutex_unlock(&lock_a);
	pthread_mutex_unlock(&lock_b);
	return 0;
}
