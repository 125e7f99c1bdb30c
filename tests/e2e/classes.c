/*
 * Dynamic locks of one class: two accounts made by one init line, locked
 * in the order the argument names ("12": account 1 then 2; "21": 2 then
 * 1). As order2, each run is clean and replay of both runs finds the
 * cycle, matching the two heap locks across runs by class and creation
 * rank.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct account {
	pthread_mutex_t lock;
	long balance;
};

__attribute__((noinline)) static struct account *
account_new(long balance)
{
	struct account *a = calloc(1, sizeof(*a));

	pthread_mutex_init(&a->lock, NULL);
	a->balance = balance;
	return a;
}

__attribute__((noinline)) static void
transfer(struct account *from, struct account *to, long amount)
{
	pthread_mutex_lock(&from->lock);
	pthread_mutex_lock(&to->lock);
	from->balance -= amount;
	to->balance += amount;
	pthread_mutex_unlock(&to->lock);
	pthread_mutex_unlock(&from->lock);
}

int
main(int argc, char **argv)
{
	struct account *one = account_new(100), *two = account_new(50);

	if (argc == 2 && strcmp(argv[1], "21") == 0)
		transfer(two, one, 10);
	else
		transfer(one, two, 10);
	printf("%ld %ld\n", one->balance, two->balance);
	return 0;
}
