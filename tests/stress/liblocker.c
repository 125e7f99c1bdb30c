/* A library whose constructor and destructor lock, loaded with dlopen while
 * the loader lock is held: the runtime must not need that lock. */
#include <pthread.h>

static pthread_mutex_t ctor_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t ctor_b = PTHREAD_MUTEX_INITIALIZER;
static int loads;

__attribute__((constructor)) static void
on_load(void)
{
	pthread_mutex_lock(&ctor_a);
	pthread_mutex_lock(&ctor_b);
	loads++;
	pthread_mutex_unlock(&ctor_b);
	pthread_mutex_unlock(&ctor_a);
}

__attribute__((destructor)) static void
on_unload(void)
{
	pthread_mutex_lock(&ctor_a);
	loads--;
	pthread_mutex_unlock(&ctor_a);
}
