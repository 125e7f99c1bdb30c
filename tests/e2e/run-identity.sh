#!/bin/sh
# Lock identity: a mutex destroyed and made again at the same address is a new
# lock (silent); the same mutex kept is the same lock (reported).
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

finish
