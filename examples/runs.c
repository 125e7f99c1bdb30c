/*
 * Two runs of one program whose lock orders only conflict across runs: with
 * "export" it takes catalog then prices, with "import" prices then catalog.
 * Each run alone is clean; lockhound replay joins their logs and finds the
 * potential deadlock; lockhound graph draws the orders.
 *
 *   lockhound run --log_path=export.log -- examples/runs export
 *   lockhound run --log_path=import.log -- examples/runs import
 *   lockhound replay export.log import.log
 *   lockhound graph --svg export.log import.log > orders.svg
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t catalog = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t prices = PTHREAD_MUTEX_INITIALIZER;

static void
both(pthread_mutex_t *first, pthread_mutex_t *second)
{
	pthread_mutex_lock(first);
	pthread_mutex_lock(second);
	pthread_mutex_unlock(second);
	pthread_mutex_unlock(first);
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "import") == 0)
		both(&prices, &catalog);
	else
		both(&catalog, &prices);
	puts("done");
	return 0;
}
