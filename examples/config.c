/*
 * A configuration lock held too long: reload() keeps config_lock while it
 * "reads a file" for two seconds, and a request thread waits for it. With
 * timeout_ms=500 lockhound says who holds the lock, where and for how long;
 * the program is not changed: the request is served once the reload ends.
 *
 *   lockhound run --timeout_ms=500 -- examples/config
 *
 * The fix: read the file without the lock, then swap the new configuration
 * in under it.
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;
static int config_version = 1;

static void *
serve_request(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&config_lock);
	printf("request served with configuration %d\n", config_version);
	pthread_mutex_unlock(&config_lock);
	return NULL;
}

static void
reload(void)
{
	pthread_mutex_lock(&config_lock);
	sleep(2); /* reading and parsing the file, lock held */
	config_version++;
	pthread_mutex_unlock(&config_lock);
}

int
main(void)
{
	pthread_t t;

	pthread_mutex_lock(&config_lock);
	pthread_mutex_unlock(&config_lock);
	pthread_create(&t, NULL, serve_request, NULL);
	reload();
	pthread_join(t, NULL);
	return 0;
}
