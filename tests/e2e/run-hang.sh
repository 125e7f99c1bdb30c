#!/bin/sh
# Hangs caught while they happen: a real ABBA deadlock (reported as
# `deadlock`, aborted with on_deadlock=abort, also with inline_locks=0, left
# hung with the default), a
# three-thread cycle, a cycle through an rwlock, a self-deadlock, a wait for
# a lock whose holder exited, an acquire-timeout naming the holder (the
# program still completes), a long condition wait that blames nobody, a
# lock lost in fork, and 200 forks while another thread keeps locking.
. "$top_srcdir/tests/e2e/lib.sh"
ulimit -c 0

# hung NAME KIND MODE: runs hang MODE with the default on_deadlock=report,
# waits (at most 60 s) for a KIND record, checks the process is still there,
# and kills it. The log is $TMP/NAME.log.
hung() {
	name=$1 kind=$2 mode=$3
	rm -f "$TMP/$name".*.log
	LD_PRELOAD="$LH_LIB" LOCKHOUND_OPTIONS="log_path=$TMP/$name.%p.log" \
		"$E2E/hang" "$mode" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	pid=$!
	n=0
	while ! grep -qs "\"kind\":\"$kind\"" "$TMP/$name.$pid.log" && [ $n -lt 600 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then alive=yes; else alive=no; fi
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	cp "$TMP/$name.$pid.log" "$TMP/$name.log" 2>/dev/null || : >"$TMP/$name.log"
}

members() {
	q "$TMP/$1.log" 'len(kind("deadlock")[0]["cycle"])'
}

LH_EXTRA_OPTIONS=on_deadlock=abort lh_run abba "$E2E/hang" abba
expect_eq "abba: aborted (on_deadlock=abort)" 134 "$rc"
expect_eq "abba: one deadlock record" 1 "$(q "$TMP/abba.log" 'len(kind("deadlock"))')"
expect_eq "abba: two threads in the cycle" 2 "$(members abba)"
expect_eq "abba: each waits for the lock the other holds" True \
	"$(q "$TMP/abba.log" '(lambda c: c[0]["waits_for"]["lock"] == c[1]["held"][0]["lock"] and c[1]["waits_for"]["lock"] == c[0]["held"][0]["lock"])(kind("deadlock")[0]["cycle"])')"
expect_eq "abba: each member's stack and where it took its lock" True \
	"$(q "$TMP/abba.log" 'all(pcs_ok(m["stack"]) and pcs_ok(m["held"][0]["stack"]) for m in kind("deadlock")[0]["cycle"])')"
check "abba: the headline" grep -q "^lockhound: deadlock: 2 threads wait for each other" "$TMP/abba.err"
check "abba: the waiting frame is take_pair" grep -q "in take_pair+" "$TMP/abba.err"
check "abba: the main thread is listed too" [ "$(q "$TMP/abba.log" 'len(kind("deadlock")[0]["threads"])')" -ge 1 ]

# The same with inline_locks=0: every mutex call goes to glibc.
LH_EXTRA_OPTIONS=on_deadlock=abort:inline_locks=0 lh_run abbaglibc "$E2E/hang" abba
expect_eq "abba, inline_locks=0: aborted" 134 "$rc"
expect_eq "abba, inline_locks=0: two threads in the cycle" 2 "$(members abbaglibc)"

hung abbahung deadlock abba
expect_eq "abba, on_deadlock=report: reported" 1 "$(q "$TMP/abbahung.log" 'len(kind("deadlock"))')"
expect_eq "abba, on_deadlock=report: the process is left as it is (hung)" yes "$alive"

LH_EXTRA_OPTIONS=on_deadlock=abort lh_run cycle3 "$E2E/hang" cycle3
expect_eq "cycle3: aborted" 134 "$rc"
expect_eq "cycle3: three threads in the cycle" 3 "$(members cycle3)"

LH_EXTRA_OPTIONS=on_deadlock=abort lh_run rwlock "$E2E/hang" rwlock
expect_eq "rwlock: a cycle through an rwlock" 2 "$(members rwlock)"
expect_eq "rwlock: the writer waits to write, the reader holds it to read" True \
	"$(q "$TMP/rwlock.log" 'any(m["waits_for"]["mode"] == "write" for m in kind("deadlock")[0]["cycle"]) and any(h["mode"] == "read" for m in kind("deadlock")[0]["cycle"] for h in m["held"])')"

hung self deadlock self
expect_eq "self: the relock is misuse" "['relock']" "$(q "$TMP/self.log" '[r["what"] for r in kind("misuse")]')"
expect_eq "self: and a deadlock of one thread" 1 "$(members self)"

LH_EXTRA_OPTIONS=on_deadlock=abort lh_run exited "$E2E/hang" exited
expect_eq "exited: aborted" 134 "$rc"
expect_eq "exited: the holder exited" holder-exited "$(q "$TMP/exited.log" 'kind("deadlock")[0]["cause"]')"
expect_eq "exited: names the exited holder and its lock" True \
	"$(q "$TMP/exited.log" '(lambda d: d["exited_holder"]["held"][0]["lock"] == d["cycle"][0]["waits_for"]["lock"])(kind("deadlock")[0])')"

LH_EXTRA_OPTIONS=timeout_ms=300 lh_run timeout "$E2E/hang" timeout
expect_eq "timeout: the program completes" "worker got the lock
timeout done" "$(cat "$TMP/timeout.out")"
expect_eq "timeout: one acquire-timeout" 1 "$(q "$TMP/timeout.log" 'len(kind("acquire-timeout"))')"
pid=$(q "$TMP/timeout.log" 'recs[0]["pid"]')
expect_eq "timeout: the holder is the main thread" "$pid" \
	"$(q "$TMP/timeout.log" 'kind("acquire-timeout")[0]["holder"]["tid"]')"
expect_eq "timeout: waited at least timeout_ms" True \
	"$(q "$TMP/timeout.log" 'kind("acquire-timeout")[0]["waited_ms"] >= 300')"
expect_eq "timeout: where the holder took the lock" True \
	"$(q "$TMP/timeout.log" 'pcs_ok(kind("acquire-timeout")[0]["holder"]["held_stack"])')"
check "timeout: the text names the holder's function" grep -q "in hold_for_two_seconds+" "$TMP/timeout.err"
expect_eq "timeout: no deadlock" 0 "$(q "$TMP/timeout.log" 'len(kind("deadlock"))')"
# The holder sleeps in nanosleep, which a signal would cut short: it is not
# asked for its stack, and holds the lock its whole 2 s.
expect_eq "timeout: the holder's sleep is named, not interrupted" clock_nanosleep \
	"$(q "$TMP/timeout.log" 'kind("acquire-timeout")[0]["holder"]["in_call"]')"
check "timeout: the text says so" grep -q "^  which is now not waiting for any lock, in clock_nanosleep (not interrupted for its stack)\$" "$TMP/timeout.err"
expect_eq "timeout: the holder held it its whole 2 s" True \
	"$(q "$TMP/timeout.log" '[r for r in kind("contention") if r["name"] == "lock_a"][-1]["wait_ns"] >= 1900000000')"

# The holder reads a pipe: it is asked where it is (a read goes on after the
# signal), and where it took the lock comes whole from that stack.
LH_EXTRA_OPTIONS=timeout_ms=300 lh_run tread "$E2E/hang" timeout-read
expect_eq "timeout-read: the program completes" "worker got the lock
timeout-read done" "$(cat "$TMP/tread.out")"
check "timeout-read: the read was not interrupted" sh -c "! grep -q '^read:' '$TMP/tread.err'"
expect_eq "timeout-read: where the holder is now" True \
	"$(q "$TMP/tread.log" 'pcs_ok(kind("acquire-timeout")[0]["holder"]["stack"])')"
expect_eq "timeout-read: where it took the lock, whole" "True False" \
	"$(q "$TMP/tread.log" '(lambda h: "%s %s" % (pcs_ok(h["held_stack"]) and len(h["held_stack"]) > 1, h.get("held_stack_partial", False)))(kind("acquire-timeout")[0]["holder"])')"
expect_eq "timeout-read: the text shows it in hold_in_a_read" 1 \
	"$(sed -n '/^  which is now not waiting for any lock, at:$/,/^  It goes on/p' "$TMP/tread.err" | grep -c ' in hold_in_a_read+0x')"

LH_EXTRA_OPTIONS=timeout_ms=300 lh_run condwait "$E2E/hang" condwait
expect_eq "condwait: completes" "condition wait over
condwait done" "$(cat "$TMP/condwait.out")"
expect_eq "condwait: a condition wait blames nobody" "" "$(stderr_of condwait)"

LH_EXTRA_OPTIONS=on_deadlock=abort lh_run fork "$E2E/hang" fork
expect_eq "fork: the child aborts instead of hanging" "child signal 6
fork done" "$(cat "$TMP/fork.out")"
childlog=$(grep -l held-across-fork "$TMP"/fork.*.log)
expect_eq "fork: the child's own log says held-across-fork" "['held-across-fork']" \
	"$(q "$childlog" '[r["what"] for r in kind("misuse")]')"
expect_eq "fork: names where the lost holder took it" True \
	"$(q "$childlog" 'pcs_ok(kind("misuse")[0]["held_stack"])')"

lh_run forkloop "$E2E/hang" forkloop
expect_eq "forkloop: 200 children locked and exited" "forks failed=0
forkloop done" "$(cat "$TMP/forkloop.out")"
expect_eq "forkloop: silent" "" "$(stderr_of forkloop)"

finish
