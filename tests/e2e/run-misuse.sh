#!/bin/sh
# Misuse, each kind once with the stack of the offending call: relock of a
# mutex, a spinlock and an rwlock upgrade (reported before the thread hangs,
# then aborted with on_deadlock=abort), recursive read of a writer-preferring
# rwlock, unlock by a non-owner, unlock of an unlocked mutex, destroy of a
# locked mutex, a thread exiting holding a lock; the correct uses are silent.
. "$top_srcdir/tests/e2e/lib.sh"
ulimit -c 0

one_misuse() {
	expect_eq "$1: one misuse record" "['$2']" "$(q "$TMP/$1.log" '[r["what"] for r in kind("misuse")]')"
	expect_eq "$1: one headline" 1 "$(headlines "$TMP/$1.err" misuse)"
	check "$1: the headline names it" grep -q "^lockhound: misuse: $2: " "$TMP/$1.err"
}

for mode in relock spinrelock upgrade; do
	LH_EXTRA_OPTIONS=on_deadlock=abort lh_run "$mode" "$E2E/misuse" "$mode"
	expect_eq "$mode: aborted instead of hanging" 134 "$rc"
	one_misuse "$mode" relock
	check "$mode: said it aborts" grep -q "aborting (on_deadlock=abort)" "$TMP/$mode.err"
	expect_eq "$mode: the record has both stacks" True \
		"$(q "$TMP/$mode.log" 'pcs_ok(kind("misuse")[0]["stack"]) and pcs_ok(kind("misuse")[0]["held_stack"])')"
done
check "relock: the stack names relock()" grep -q "in relock+" "$TMP/relock.err"

lh_run recursiveread "$E2E/misuse" recursiveread
one_misuse recursiveread recursive-read
lh_run notowner "$E2E/misuse" notowner
one_misuse notowner unlock-not-owner
check "notowner: the stack is the unlocking thread's" grep -q "in unlock_it+" "$TMP/notowner.err"
lh_run unlocked "$E2E/misuse" unlocked
one_misuse unlocked unlock-unlocked
lh_run destroylocked "$E2E/misuse" destroylocked
one_misuse destroylocked destroy-locked
expect_eq "destroylocked: glibc's answer (EBUSY) is kept" "destroy=16" "$(head -n 1 "$TMP/destroylocked.out")"
expect_eq "destroylocked: where the lock was taken" True \
	"$(q "$TMP/destroylocked.log" 'pcs_ok(kind("misuse")[0]["held_stack"])')"
lh_run exitholding "$E2E/misuse" exitholding
one_misuse exitholding exit-holding
check "exitholding: where the lock was taken" grep -q "in leave_locked+" "$TMP/exitholding.err"

lh_run fine "$E2E/misuse" fine
expect_eq "fine: correct uses are silent" "" "$(stderr_of fine)"
expect_eq "fine: exit 0" 0 "$rc"

finish
