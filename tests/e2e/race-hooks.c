/*
 * Makes the compiler emit every -fsanitize=thread hook it has for C: plain,
 * unaligned and volatile accesses of 1 to 16 bytes, ranges (struct copies),
 * and every atomic builtin on 1, 2, 4, 8 and 16 bytes, each checked for its
 * result. Linked with lockhound instead of libtsan, it must link (every hook
 * is defined) and compute what it computes without instrumentation.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

struct __attribute__((packed)) packed {
	char c;
	short s;
	int i;
	long l;
	__int128 q;
};

struct big {
	char b[100];
};

static struct packed p;
static struct big big1, big2;
static volatile char vc;
static volatile short vs;
static volatile int vi;
static volatile long vl;
static volatile __int128 vq;
static char c8;
static short c16;
static int c32;
static long c64;
static __int128 c128;
static int failures;

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			printf("FAIL line %d: %s\n", __LINE__, #cond);                    \
			failures++;                                                      \
		}                                                                        \
	} while (0)

/* Every atomic operation on v (of type T), starting from 0. */
#define ATOMICS(T, v)                                                                    \
	do {                                                                             \
		T e = 0;                                                                 \
		__atomic_store_n(&v, 6, __ATOMIC_RELEASE);                               \
		CHECK(__atomic_load_n(&v, __ATOMIC_ACQUIRE) == 6);                       \
		CHECK(__atomic_load_n(&v, __ATOMIC_RELAXED) == 6);                       \
		CHECK(__atomic_exchange_n(&v, 12, __ATOMIC_ACQ_REL) == 6);               \
		CHECK(__atomic_fetch_add(&v, 3, __ATOMIC_SEQ_CST) == 12);                \
		CHECK(__atomic_fetch_sub(&v, 5, __ATOMIC_RELAXED) == 15);                \
		CHECK(__atomic_fetch_and(&v, 6, __ATOMIC_ACQUIRE) == 10);                \
		CHECK(__atomic_fetch_or(&v, 9, __ATOMIC_RELEASE) == 2);                  \
		CHECK(__atomic_fetch_xor(&v, 3, __ATOMIC_SEQ_CST) == 11);                \
		CHECK(__atomic_fetch_nand(&v, 12, __ATOMIC_SEQ_CST) == 8);               \
		CHECK(v == (T)~8);                                                       \
		__atomic_store_n(&v, 1, __ATOMIC_SEQ_CST);                               \
		CHECK(!__atomic_compare_exchange_n(&v, &e, 2, 0, __ATOMIC_SEQ_CST,       \
						   __ATOMIC_RELAXED));                   \
		CHECK(e == 1);                                                           \
		CHECK(__atomic_compare_exchange_n(&v, &e, 2, 0, __ATOMIC_ACQ_REL,        \
						  __ATOMIC_ACQUIRE));                    \
		while (!__atomic_compare_exchange_n(&v, &e, 3, 1, __ATOMIC_RELEASE,      \
						    __ATOMIC_RELAXED))                   \
			;                                                                \
		CHECK(v == 3);                                                           \
		CHECK(__atomic_add_fetch(&v, 1, __ATOMIC_SEQ_CST) == 4);                 \
	} while (0)

/* The legacy __sync builtins (up to 8 bytes without -mcx16), from v == 4. */
#define SYNCS(v)                                                                         \
	do {                                                                             \
		CHECK(__sync_val_compare_and_swap(&v, 4, 5) == 4);                       \
		CHECK(__sync_bool_compare_and_swap(&v, 5, 6));                           \
		CHECK(__sync_lock_test_and_set(&v, 7) == 6);                             \
		__sync_lock_release(&v);                                                 \
		CHECK(v == 0);                                                           \
		CHECK(__sync_fetch_and_add(&v, 2) == 0);                                 \
		CHECK(v == 2);                                                           \
	} while (0)

__attribute__((noinline)) static void
accesses(void)
{
	p.c = 1;
	p.s = 2;
	p.i = 3;
	p.l = 4;
	p.q = 5;
	CHECK(p.s + p.i + p.l + (long)p.q == 14);
	vc = 1;
	vs = vc;
	vi = vs;
	vl = vi;
	vq = vl;
	CHECK(vq == 1);
	c8 = 1;
	c16 = c8;
	c32 = c16;
	c64 = c32;
	c128 = c64;
	CHECK(c128 == 1);
	memset(&big2, 7, sizeof(big2));
	big1 = big2;
	CHECK(big1.b[99] == 7);
	memcpy(&big2, &big1, 50);
	memmove(&big2.b[1], &big2.b[0], 40);
}

__attribute__((noinline)) static void
atomics(void)
{
	atomic_flag fl = ATOMIC_FLAG_INIT;
	_Atomic int ai = 0;

	c8 = c16 = c32 = c64 = c128 = 0;
	ATOMICS(char, c8);
	ATOMICS(short, c16);
	ATOMICS(int, c32);
	ATOMICS(long, c64);
	ATOMICS(__int128, c128);
	SYNCS(c8);
	SYNCS(c16);
	SYNCS(c32);
	SYNCS(c64);
	atomic_thread_fence(memory_order_seq_cst);
	atomic_signal_fence(memory_order_acquire);
	__sync_synchronize();
	CHECK(!atomic_flag_test_and_set(&fl));
	CHECK(atomic_flag_test_and_set(&fl));
	atomic_flag_clear(&fl);
	ai += 5;
	ai++;
	CHECK(atomic_load_explicit(&ai, memory_order_consume) == 6);
}

int
main(void)
{
	accesses();
	atomics();
	printf("%s\n", failures ? "failed" : "ok");
	return failures != 0;
}
