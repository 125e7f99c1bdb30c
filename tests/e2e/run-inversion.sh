#!/bin/sh
# Potential deadlocks found in runs that did not hang: AB/BA in two threads
# (found once, both stacks per edge, in the log and on stderr), a cycle of
# three over three threads, a cycle within one thread, a cycle of 30, an
# inversion after 300 held locks, and a blocking lock where a trylock was.
. "$top_srcdir/tests/e2e/lib.sh"

lh_run abba "$E2E/abba"
expect_eq "abba: program result unchanged" "shared=6" "$(cat "$TMP/abba.out")"
expect_eq "abba: exit status is the program's" 0 "$rc"
expect_eq "abba: one inversion record" 1 "$(q "$TMP/abba.log" 'len(kind("lock-order-inversion"))')"
expect_eq "abba: one headline on stderr" 1 "$(headlines "$TMP/abba.err" lock-order-inversion)"
expect_eq "abba: the cycle names both locks" "['lock_a', 'lock_b']" \
	"$(q "$TMP/abba.log" 'names(kind("lock-order-inversion")[0])')"
expect_eq "abba: two edges, each with both stacks" True \
	"$(q "$TMP/abba.log" 'all(pcs_ok(e["held_stack"]) and pcs_ok(e["stack"]) for e in kind("lock-order-inversion")[0]["edges"]) and len(kind("lock-order-inversion")[0]["edges"]) == 2')"
expect_eq "abba: edges come from two different threads" 2 \
	"$(q "$TMP/abba.log" 'len(set(e["thread"]["tid"] for e in kind("lock-order-inversion")[0]["edges"]))')"
expect_eq "abba: each new order is logged once, with its stacks" True \
	"$(q "$TMP/abba.log" 'len(kind("lock-order")) == 2 and all(pcs_ok(stack(o["held_stack_id"])) and pcs_ok(stack(o["stack_id"])) for o in kind("lock-order"))')"
for fn in take_a_then_b take_b_then_a; do
	n=$(grep -c "in $fn+" "$TMP/abba.err")
	check "abba: stderr shows $fn in both stacks of its edge" [ "$n" -ge 2 ]
done
check "abba: stderr says where the held lock was taken" grep -q "lock_a taken before, at:" "$TMP/abba.err"
check "abba: every frame is in a module of the header" \
	[ "$(q "$TMP/abba.log" 'all("module" in f for r in kind("stack") for f in r["frames"])')" = True ]

lh_run cycle3 "$E2E/cycle3"
expect_eq "cycle3: one inversion" 1 "$(q "$TMP/cycle3.log" 'len(kind("lock-order-inversion"))')"
expect_eq "cycle3: a cycle of three locks" "['lock_a', 'lock_b', 'lock_c']" \
	"$(q "$TMP/cycle3.log" 'names(kind("lock-order-inversion")[0])')"
expect_eq "cycle3: three threads" 3 \
	"$(q "$TMP/cycle3.log" 'len(set(e["thread"]["tid"] for e in kind("lock-order-inversion")[0]["edges"]))')"

lh_run samethread "$E2E/samethread"
expect_eq "one thread, both orders: reported" 1 "$(q "$TMP/samethread.log" 'len(kind("lock-order-inversion"))')"

lh_run cyclelong "$E2E/cyclelong"
expect_eq "cycle of 30: one report" 1 "$(q "$TMP/cyclelong.log" 'len(kind("lock-order-inversion"))')"
expect_eq "cycle of 30: thirty edges" 30 \
	"$(q "$TMP/cyclelong.log" 'len(kind("lock-order-inversion")[0]["edges"])')"

lh_run heldmany "$E2E/heldmany"
expect_eq "300 held locks: the program completes" "ascending done
done" "$(cat "$TMP/heldmany.out")"
expect_eq "300 held locks: only the final inversion" 1 "$(q "$TMP/heldmany.log" 'len(kind("lock-order-inversion"))')"
# The 300 locks come from one init call: one class, so their 44,850 orders
# are logged once per code path (the log grows with paths, not instances).
expect_eq "300 held locks: orders logged once per class and stacks" True \
	"$(q "$TMP/heldmany.log" '0 < len(kind("lock-order")) < 10')"

lh_run tryblock "$E2E/trylock" block
expect_eq "blocking lock instead of trylock: reported" 1 "$(q "$TMP/tryblock.log" 'len(kind("lock-order-inversion"))')"

finish
