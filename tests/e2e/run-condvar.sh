#!/bin/sh
# Condition variables: the mutex leaves the held set for the wait and comes
# back as an ordinary acquisition, on success, timeout and cancellation; one
# condition used with two mutexes at once is misuse.
. "$top_srcdir/tests/e2e/lib.sh"

for mode in queue cnd timeout; do
	lh_run "$mode" "$E2E/condvar" "$mode"
	expect_eq "$mode: the program completes" "$mode done" "$(tail -n 1 "$TMP/$mode.out")"
	expect_eq "$mode: silent" "" "$(stderr_of "$mode")"
done
expect_eq "queue: every item consumed" "consumed=1000" "$(head -n 1 "$TMP/queue.out")"
expect_eq "cnd: every item consumed" "consumed=1000" "$(head -n 1 "$TMP/cnd.out")"
expect_eq "timeout: both waits timed out" "timedwait=ETIMEDOUT clockwait=ETIMEDOUT" "$(head -n 1 "$TMP/timeout.out")"
expect_eq "timeout: the mutex was held again after the waits (stats_lock under queue_lock)" True \
	"$(q "$TMP/timeout.log" 'any(lock(o["from"])["name"] == "queue_lock" and lock(o["to"])["name"] == "stats_lock" for o in kind("lock-order"))')"
expect_eq "queue: the consumer's order queue_lock -> stats_lock, once" 1 \
	"$(q "$TMP/queue.log" 'len(kind("lock-order"))')"

lh_run order "$E2E/condvar" order
expect_eq "order: reacquiring after the wait counts (A -> M, then M -> A)" 1 \
	"$(q "$TMP/order.log" 'len(kind("lock-order-inversion"))')"
expect_eq "order: the cycle" "['lock_a', 'queue_lock']" \
	"$(q "$TMP/order.log" 'names(kind("lock-order-inversion")[0])')"

lh_run mismatch "$E2E/condvar" mismatch
expect_eq "mismatch: the program completes" "mismatch done" "$(cat "$TMP/mismatch.out")"
expect_eq "mismatch: one cond-mutex-mismatch" "['cond-mutex-mismatch']" \
	"$(q "$TMP/mismatch.log" '[r["what"] for r in kind("misuse")]')"
expect_eq "mismatch: names the second mutex" other_lock \
	"$(q "$TMP/mismatch.log" 'lock(kind("misuse")[0]["lock"])["name"]')"

lh_run cancel "$E2E/condvar" cancel
expect_eq "cancel: the program completes" "cancelled
cancel done" "$(cat "$TMP/cancel.out")"
expect_eq "cancel: the mutex taken back on cancellation is left held: exit-holding" \
	"['exit-holding']" "$(q "$TMP/cancel.log" '[r["what"] for r in kind("misuse")]')"
expect_eq "cancel: it names the mutex" queue_lock \
	"$(q "$TMP/cancel.log" 'lock(kind("misuse")[0]["lock"])["name"]')"

finish
