#!/bin/sh
# The README's demo: lockhound run on the bank example finds the inversion
# without the run hanging, and names the accounts and the functions.
. "$top_srcdir/tests/e2e/lib.sh"

rc=0
"$LOCKHOUND" run -- "$top_builddir/examples/bank" >"$TMP/bank.out" 2>"$TMP/bank.err" || rc=$?
expect_eq "demo: exit 0" 0 "$rc"
expect_eq "demo: the program's output" "alice 80, bob 70" "$(cat "$TMP/bank.out")"
expect_eq "demo: one finding" 1 "$(headlines "$TMP/bank.err" lock-order-inversion)"
check "demo: names alice's lock" grep -q "alice+0x10" "$TMP/bank.err"
check "demo: shows payment and refund" sh -c "grep -q 'in payment+' '$TMP/bank.err' && grep -q 'in refund+' '$TMP/bank.err'"

finish
