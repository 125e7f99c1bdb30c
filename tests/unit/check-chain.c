/* Unit tests for lib/chain.c: chain keys and the global chain set. */
#include "config.h"

#include "check-main.h"
#include "lockhound-private.h"

START_TEST(test_chain_keys_depend_on_order_and_mode)
{
	uint64_t a = lh_lock_salt(1), b = lh_lock_salt(2);
	uint64_t ab = lh_chain_mix(lh_chain_mix(0, a, 0), b, 0);
	uint64_t ba = lh_chain_mix(lh_chain_mix(0, b, 0), a, 0);
	uint64_t ab_read = lh_chain_mix(lh_chain_mix(0, a, 0), b, 1);
	uint64_t aread_b = lh_chain_mix(lh_chain_mix(0, a, 1), b, 0);

	ck_assert_uint_ne(ab, ba);
	ck_assert_uint_ne(ab, ab_read);
	ck_assert_uint_ne(ab, aread_b);
	ck_assert_uint_ne(ab_read, aread_b);
	ck_assert_uint_eq(ab, lh_chain_mix(lh_chain_mix(0, a, 0), b, 0));
	/* 0 comes out only when prev + salt + mode wraps to 0 (2^-64 with
	 * random salts; it then reads as validated, as a collision would). */
	ck_assert_uint_eq(lh_chain_mix(0, -(uint64_t)1, 1), 0);
	for (uint64_t id = 1; id <= 100000; id++)
		ck_assert_uint_ne(lh_chain_mix(lh_chain_mix(0, lh_lock_salt(id), 0),
					       lh_lock_salt(id + 1), 1), 0);
	/* Salts of consecutive ids share no structure. */
	ck_assert_uint_ne(lh_lock_salt(2) - lh_lock_salt(1), lh_lock_salt(3) - lh_lock_salt(2));
}
END_TEST

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

START_TEST(test_chain_keys_rarely_collide)
{
	/* 200k keys of two-lock chains and 200k of three-lock chains over the
	 * salts of consecutive ids, in both modes: no collision. */
	static uint64_t keys[400000];
	int n = 0;

	for (uint64_t a = 1; a <= 400; a++)
		for (uint64_t b = 1; b <= 250; b++)
			for (unsigned m = 0; m < 2; m++)
				keys[n++] = lh_chain_mix(lh_chain_mix(0, lh_lock_salt(a), m),
							 lh_lock_salt(b), m ^ 1);
	for (uint64_t a = 1; a <= 50; a++)
		for (uint64_t b = 1; b <= 50; b++)
			for (uint64_t c = 1; c <= 80; c++)
				keys[n++] = lh_chain_mix(
				    lh_chain_mix(lh_chain_mix(0, lh_lock_salt(a), 0),
						 lh_lock_salt(b), 0),
				    lh_lock_salt(c), 0);
	qsort(keys, (size_t)n, sizeof(keys[0]), cmp_u64);
	for (int i = 1; i < n; i++)
		ck_assert_uint_ne(keys[i - 1], keys[i]);
}
END_TEST

START_TEST(test_chainset_membership)
{
	lh_chainset_init();
	ck_assert(!lh_chainset_contains(12345));
	lh_chainset_insert(12345);
	ck_assert(lh_chainset_contains(12345));
	lh_chainset_insert(12345);
	ck_assert(!lh_chainset_contains(54321));
	/* Keys of one bucket (high half 0) are all found: 40 fill two
	 * buckets and spill into a third. */
	for (uint64_t k = 1; k <= 40; k++)
		lh_chainset_insert(k);
	for (uint64_t k = 1; k <= 40; k++)
		ck_assert(lh_chainset_contains(k));
	ck_assert(!lh_chainset_contains(41));
}
END_TEST

/* The set keeps 32-bit fingerprints: a key whose low half and bucket match
 * a known key's reads as known (the documented price, chain.c); one whose
 * low half alone matches, in another bucket, does not. */
START_TEST(test_chainset_fingerprint)
{
	uint64_t key = 0x123456789abcdef1ull;

	lh_chainset_init();
	lh_chainset_insert(key);
	ck_assert(lh_chainset_contains(key));
	ck_assert(lh_chainset_contains(key ^ 1ull << 32));  /* same bucket */
	ck_assert(!lh_chainset_contains(key ^ 1ull << 63)); /* another bucket */
	ck_assert(!lh_chainset_contains(key ^ 1));	    /* another fingerprint */
}
END_TEST

START_TEST(test_chainset_grows_and_keeps_every_key)
{
	lh_chainset_init();
	for (uint64_t k = 1; k <= 300000; k++)
		lh_chainset_insert(k * 0x9e3779b97f4a7c15ull);
	for (uint64_t k = 1; k <= 300000; k++)
		ck_assert(lh_chainset_contains(k * 0x9e3779b97f4a7c15ull));
	/* Not a key, nor one of a key's fingerprint in its bucket: the odd
	 * multiplier makes low halves distinct among these. */
	for (uint64_t k = 300001; k <= 310000; k++)
		ck_assert(!lh_chainset_contains(k * 0x9e3779b97f4a7c15ull));
}
END_TEST

START_TEST(test_chainset_forgets_chains_of_retired_locks)
{
	size_t most = 0;

	/* A program that makes, nests and destroys a lock per request: every
	 * chain is new and dies with its lock. The set stays small (it is
	 * emptied once half its keys' locks are gone), not a key a lock. */
	lh_chainset_init();
	for (uint64_t k = 1; k <= 200000; k++) {
		lh_chainset_insert(k * 0x9e3779b97f4a7c15ull);
		ck_assert(lh_chainset_contains(k * 0x9e3779b97f4a7c15ull));
		lh_chainset_forget();
		if (lh_chainset_count() > most)
			most = lh_chainset_count();
	}
	ck_assert_uint_le(most, 4097);
}
END_TEST

START_TEST(test_chainset_keeps_live_chains_among_few_retired)
{
	/* Locks retired, but fewer than half the keys: nothing is emptied. */
	lh_chainset_init();
	for (uint64_t k = 1; k <= 10000; k++)
		lh_chainset_insert(k * 0x9e3779b97f4a7c15ull);
	for (int i = 0; i < 4999; i++)
		lh_chainset_forget();
	lh_chainset_insert(10001 * 0x9e3779b97f4a7c15ull);
	ck_assert_uint_eq(lh_chainset_count(), 10001);
	for (uint64_t k = 1; k <= 10001; k++)
		ck_assert(lh_chainset_contains(k * 0x9e3779b97f4a7c15ull));
	/* One more than half: the next insertion empties it first, and what
	 * was live comes back when it is inserted again (the slow path). */
	for (int i = 0; i < 2; i++)
		lh_chainset_forget();
	lh_chainset_insert(10002 * 0x9e3779b97f4a7c15ull);
	ck_assert_uint_eq(lh_chainset_count(), 1);
	ck_assert(!lh_chainset_contains(1 * 0x9e3779b97f4a7c15ull));
	ck_assert(lh_chainset_contains(10002 * 0x9e3779b97f4a7c15ull));
	lh_chainset_insert(1 * 0x9e3779b97f4a7c15ull);
	ck_assert(lh_chainset_contains(1 * 0x9e3779b97f4a7c15ull));
}
END_TEST

static Suite *
chain_suite(void)
{
	Suite *s = suite_create("chain");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_chainset_membership);
	tcase_add_test(tc, test_chain_keys_depend_on_order_and_mode);
	tcase_add_test(tc, test_chain_keys_rarely_collide);
	tcase_add_test(tc, test_chainset_fingerprint);
	tcase_add_test(tc, test_chainset_grows_and_keeps_every_key);
	tcase_add_test(tc, test_chainset_forgets_chains_of_retired_locks);
	tcase_add_test(tc, test_chainset_keeps_live_chains_among_few_retired);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(chain_suite)
