/*
 * libFuzzer target: suppression files (lib/suppress.c), the format shared
 * by the runtime and the CLI: parse, then match the rules against a few
 * names (globs are run against fuzzed patterns). Build and run:
 * fuzz/run.sh.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../lib/lockhound-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

void
lh_warn(const char *msg)
{
	(void)msg;
}

void
lh_warn_once(_Atomic int *flag, const char *msg)
{
	(void)flag;
	(void)msg;
}

static bool
any(void *arg, int type, const char *pattern)
{
	static const char *const names[] = {"accounts_lock", "bob.lock", "take_b_then_a",
					    "/src/bank.c", "mutex 0x5610 (made at x.c:3)", ""};

	(void)arg;
	(void)type;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (lh_supp_glob(pattern, names[i]))
			return true;
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lh_suppressions s = {0};
	char err[160];
	unsigned line;

	if (lh_supp_parse(&s, (const char *)data, size, err, sizeof(err), &line) == 0) {
		lh_supp_match(&s, "lock-order-inversion", any, NULL);
		lh_supp_match(&s, "misuse", any, NULL);
	}
	lh_supp_free(&s);
	return 0;
}
