/*
 * Locks taken in a library constructor, before the runtime's own constructor:
 * every entry point initializes lazily, so those orders count. The program
 * takes early_b then early_a: one inversion, whose held stack goes back to
 * the constructor.
 */
#include <pthread.h>
#include <stdio.h>

extern pthread_mutex_t early_a, early_b;

int
main(void)
{
	pthread_mutex_lock(&early_b);
	pthread_mutex_lock(&early_a);
	pthread_mutex_unlock(&early_a);
	pthread_mutex_unlock(&early_b);
	puts("done");
	return 0;
}
