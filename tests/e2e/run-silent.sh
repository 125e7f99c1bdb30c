#!/bin/sh
# No false alarms where no deadlock is possible: 1000 heap locks of one class
# in a consistent order over eight threads (with recursive re-entry), a gate
# lock, a trylock back-off, dining philosophers with a waiter.
. "$top_srcdir/tests/e2e/lib.sh"

silent() {
	name=$1
	shift
	lh_run "$name" "$@"
	expect_eq "$name: exit status 0" 0 "$rc"
	expect_eq "$name: no inversion in the log" 0 "$(q "$TMP/$name.log" 'len(kind("lock-order-inversion"))')"
	expect_eq "$name: nothing on stderr" "" "$(stderr_of "$name")"
}

silent consistent "$E2E/consistent"
expect_eq "consistent: results exact" "sum=0" "$(cat "$TMP/consistent.out")"
expect_eq "consistent: the orders of its two code paths were recorded" True \
	"$(q "$TMP/consistent.log" '1 <= len(kind("lock-order")) <= 10')"

silent gate "$E2E/gate"
expect_eq "gate: A->B and B->A recorded, each gated by the gate lock" True \
	"$(q "$TMP/gate.log" '(lambda g: sorted(lock(o["from"])["name"] + ">" + lock(o["to"])["name"] for o in kind("lock-order") if g not in (o["from"], o["to"])) == ["lock_a>lock_b", "lock_b>lock_a"] and all(o["gates"] == [g] for o in kind("lock-order") if g not in (o["from"], o["to"])))([r["id"] for r in kind("lock") if r["name"] == "gate"][0])')"

silent trylock "$E2E/trylock"
silent waiter "$E2E/philosophers" waiter

finish
