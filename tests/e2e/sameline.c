/*
 * One lock taken 10 times in a loop by two calls on one source line: two
 * call sites (return addresses) that read the same. Expected: lockhound
 * stats shows one line of 20 acquisitions at that line, not two of 10.
 */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long count;

int
main(void)
{
	for (int i = 0; i < 10; i++) {
		/* clang-format off */
		pthread_mutex_lock(&lock); count++; pthread_mutex_unlock(&lock); pthread_mutex_lock(&lock); count++; pthread_mutex_unlock(&lock);
		/* clang-format on */
	}
	printf("count=%ld\n", count);
	return 0;
}
