/*
 * Takes two static locks in the order its argument names: "ab" takes
 * lock_a then lock_b, "ba" lock_b then lock_a. Each run alone is clean (one
 * order only); the logs of an "ab" run and a "ba" run together form a
 * cycle, which only lockhound replay can see.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static int shared;

__attribute__((noinline)) static void
take(pthread_mutex_t *first, pthread_mutex_t *second)
{
	pthread_mutex_lock(first);
	pthread_mutex_lock(second);
	shared++;
	pthread_mutex_unlock(second);
	pthread_mutex_unlock(first);
}

__attribute__((noinline)) static void
a_then_b(void)
{
	take(&lock_a, &lock_b);
	__asm__ volatile(""); /* no tail call: keep this frame in the stack */
}

__attribute__((noinline)) static void
b_then_a(void)
{
	take(&lock_b, &lock_a);
	__asm__ volatile("");
}

int
main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "ab") != 0 && strcmp(argv[1], "ba") != 0)) {
		fprintf(stderr, "usage: order2 ab|ba\n");
		return 2;
	}
	if (strcmp(argv[1], "ab") == 0)
		a_then_b();
	else
		b_then_a();
	printf("shared=%d\n", shared);
	return 0;
}
