#!/bin/sh
# Lock identity: a mutex destroyed and made again at the same address is a new
# lock (silent); the same mutex kept is the same lock (reported). Thread
# identity: an order names the thread as it was called when it took it.
. "$top_srcdir/tests/e2e/lib.sh"

lh_run reinit "$E2E/reinit"
expect_eq "reinit: no inversion" 0 "$(q "$TMP/reinit.log" 'len(kind("lock-order-inversion"))')"
expect_eq "reinit: nothing on stderr" "" "$(stderr_of reinit)"
expect_eq "reinit: two identities were logged for the re-made lock" True \
	"$(q "$TMP/reinit.log" 'len(set(r["id"] for r in kind("lock") if r["name"] != "lock_a")) == 2')"

lh_run same "$E2E/reinit" same
expect_eq "same lock kept: reported" 1 "$(q "$TMP/same.log" 'len(kind("lock-order-inversion"))')"
expect_eq "same lock kept: its class is the init call" True \
	"$(q "$TMP/same.log" 'any("init" in lock(i) for i in kind("lock-order-inversion")[0]["cycle"])')"

lh_run renamed "$E2E/renamed"
check "renamed: the first order names the thread as it was" \
	grep -q '^  edge 2 of 2: thread [0-9]* "before" took lock_b' "$TMP/renamed.err"
check "renamed: the order after pthread_setname_np names it anew" \
	grep -q '^  edge 1 of 2: thread [0-9]* "after" took lock_a' "$TMP/renamed.err"
expect_eq "renamed: the log agrees" 'after before' \
	"$(q "$TMP/renamed.log" '" ".join(sorted(e["thread"]["name"] for e in kind("lock-order-inversion")[0]["edges"]))')"

finish
