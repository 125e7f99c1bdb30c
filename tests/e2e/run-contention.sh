#!/bin/sh
# Contention profiling: the lock four threads fight over ranks first by wait,
# with its waiters' and holders' call sites; the lock one thread takes most
# often ranks first by acquisitions and was never waited for. stats=hold adds
# hold times; stats=off records nothing.
. "$top_srcdir/tests/e2e/lib.sh"

lockq() { # lockq LOG NAME EXPR: EXPR over the lock-scope record of lock NAME
	q "$1" "(lambda r: $3)([r for r in kind('contention') if r['scope'] == 'lock' and r['name'] == '$2'][0])"
}

lh_run on "$E2E/contention"
expect_eq "the program's results" "hot=400 busy=200000" "$(cat "$TMP/on.out")"
expect_eq "first by total wait: hot_lock" hot_lock \
	"$(q "$TMP/on.log" 'max((r for r in kind("contention") if r["scope"] == "lock"), key=lambda r: r["wait_ns"])["name"]')"
expect_eq "first by acquisitions: busy_lock" busy_lock \
	"$(q "$TMP/on.log" 'max((r for r in kind("contention") if r["scope"] == "lock"), key=lambda r: r["acquisitions"])["name"]')"
expect_eq "hot_lock: every acquisition counted" 400 "$(lockq "$TMP/on.log" hot_lock 'r["acquisitions"]')"
expect_eq "busy_lock: every acquisition counted" 200000 "$(lockq "$TMP/on.log" busy_lock 'r["acquisitions"]')"
expect_eq "busy_lock: never waited for" 0 "$(lockq "$TMP/on.log" busy_lock 'r["contended"]')"
expect_eq "hot_lock: waited for, with mean and max" True \
	"$(lockq "$TMP/on.log" hot_lock 'r["contended"] > 0 and 0 < r["wait_mean_ns"] <= r["wait_max_ns"] <= r["wait_ns"]')"
expect_eq "hot_lock: one acquire site, the waiters' and the holders' sites" True \
	"$(lockq "$TMP/on.log" hot_lock 'r["sites"] >= 2 and len(r["wait_sites"]) >= 1 and len(r["holder_sites"]) >= 1 and pcs_ok(r["wait_sites"][0]["frame"])')"
check "stderr: the contention table" grep -q "^lockhound: contention: 1 lock was waited for" "$TMP/on.err"
check "stderr: hot_lock in it" grep -q "^  hot_lock " "$TMP/on.err"
expect_eq "stderr: no other headline" 0 "$(grep "^lockhound: " "$TMP/on.err" | grep -vc "^lockhound: contention: " || true)"

LH_EXTRA_OPTIONS=stats=hold lh_run hold "$E2E/contention"
expect_eq "stats=hold: hot_lock's holds measured (about 200 us each)" True \
	"$(lockq "$TMP/hold.log" hot_lock 'r["holds"] == 400 and r["hold_mean_ns"] >= 150000')"
expect_eq "stats=hold: busy_lock's holds are short" True \
	"$(lockq "$TMP/hold.log" busy_lock 'r["holds"] == 200000 and r["hold_mean_ns"] < r["hold_max_ns"]')"

LH_EXTRA_OPTIONS=stats=off lh_run off "$E2E/contention"
expect_eq "stats=off: no contention records" 0 "$(q "$TMP/off.log" 'len(kind("contention"))' 2>/dev/null || echo 0)"
expect_eq "stats=off: no table" "" "$(cat "$TMP/off.err")"

finish
