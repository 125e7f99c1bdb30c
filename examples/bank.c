/*
 * Bank transfers that lock two accounts in opposite orders: a potential
 * deadlock. transfer(a, b) locks a then b; the refund runs transfer(b, a).
 * The two threads run one after the other here, so this run never hangs,
 * but lockhound reports the cycle: run them at the same time and each can
 * hold one account and wait forever for the other.
 *
 *   lockhound run -- examples/bank
 *
 * The fix: lock accounts in one global order (by id), see transfer_fixed().
 */
#include <pthread.h>
#include <stdio.h>

struct account {
	int id;
	long balance;
	pthread_mutex_t lock;
};

static struct account alice = {1, 100, PTHREAD_MUTEX_INITIALIZER};
static struct account bob = {2, 50, PTHREAD_MUTEX_INITIALIZER};

/* noinline: so that the stacks show transfer() even in an -O2 build. */
__attribute__((noinline)) static void
transfer(struct account *from, struct account *to, long amount)
{
	pthread_mutex_lock(&from->lock);
	pthread_mutex_lock(&to->lock); /* inverted by the refund */
	from->balance -= amount;
	to->balance += amount;
	pthread_mutex_unlock(&to->lock);
	pthread_mutex_unlock(&from->lock);
}

/* The fix: lock the account with the lower id first, always. */
__attribute__((unused)) static void
transfer_fixed(struct account *from, struct account *to, long amount)
{
	struct account *first = from->id < to->id ? from : to;

	pthread_mutex_lock(&first->lock);
	pthread_mutex_lock(first == from ? &to->lock : &from->lock);
	from->balance -= amount;
	to->balance += amount;
	pthread_mutex_unlock(first == from ? &to->lock : &from->lock);
	pthread_mutex_unlock(&first->lock);
}

static void *
payment(void *arg)
{
	(void)arg;
	transfer(&alice, &bob, 30);
	return NULL;
}

static void *
refund(void *arg)
{
	(void)arg;
	transfer(&bob, &alice, 10);
	return NULL;
}

int
main(void)
{
	pthread_t t;

	pthread_create(&t, NULL, payment, NULL);
	pthread_join(t, NULL);
	pthread_create(&t, NULL, refund, NULL);
	pthread_join(t, NULL);
	printf("alice %ld, bob %ld\n", alice.balance, bob.balance);
	return 0;
}
