/*
 * A library whose constructor locks before lockhound's constructor has run
 * (it is initialized first). It takes early_a then early_b; the program
 * later inverts them.
 */
#include <pthread.h>

pthread_mutex_t early_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t early_b = PTHREAD_MUTEX_INITIALIZER;

__attribute__((constructor)) static void
early_constructor(void)
{
	pthread_mutex_lock(&early_a);
	pthread_mutex_lock(&early_b);
	pthread_mutex_unlock(&early_b);
	pthread_mutex_unlock(&early_a);
}
