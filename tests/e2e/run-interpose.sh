#!/bin/sh
# Interposition keeps pthread semantics: return values and errno for every
# mutex type, trylock, timed and clock locks; and locks taken in a library
# constructor before the runtime's constructor still count.
. "$top_srcdir/tests/e2e/lib.sh"

lh_run errno "$E2E/errno"
expect_eq "errno: every check passed" "failures=0" "$(cat "$TMP/errno.out")"
expect_eq "errno: exit 0" 0 "$rc"
expect_eq "errno: no findings" "" "$(stderr_of errno)"

lh_run early "$E2E/early"
expect_eq "early: the program ran" "done" "$(cat "$TMP/early.out")"
expect_eq "early: the constructor's order counts" 1 "$(q "$TMP/early.log" 'len(kind("lock-order-inversion"))')"
check "early: the held stack goes back to the constructor" grep -q "early_constructor" "$TMP/early.err"

finish
