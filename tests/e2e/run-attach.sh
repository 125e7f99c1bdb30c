#!/bin/sh
# lockhound attach on processes started without the runtime: a real ABBA
# deadlock and a three-thread cycle named thread by thread, lock by variable
# (accounts_lock, bank.lock, ledger[1]) and source line; the process left
# exactly as it was (still alive and hung, its heartbeat still beating, a
# 4 s nanosleep and a 4 s epoll_wait not cut short, no tracer left, a
# job-control stop still in force); a lock whose holder exited, a thread
# relocking its own mutex, a main thread gone with pthread_exit holding a
# lock, a join in a cycle, heap locks named by where they
# are locked, static locks held with nobody waiting, a spinning thread, a deadlock through an rwlock's readers that only the runtime's
# records reveal (and the build-id guard on those records); a healthy busy
# program: no deadlock, its results unchanged; JSON records that `explain`
# reads; bad pids, permissions and an already traced process: exit 2 with one
# line. Skipped (77) where ptrace is not permitted.
. "$top_srcdir/tests/e2e/lib.sh"

T="$E2E/attach-target"
SRC="$top_srcdir/tests/e2e/attach-target.c"
pids=""
trap 'for p in $pids; do kill -9 $p 2>/dev/null; done; rm -rf "$TMP"' EXIT

# attach NAME ARGS...: runs lockhound attach; $TMP/NAME.txt, .err, $rc.
attach() {
	name=$1
	shift
	rc=0
	timeout 120 "$LOCKHOUND" attach "$@" >"$TMP/$name.txt" 2>"$TMP/$name.err" || rc=$?
}

# start NAME ARGS...: starts the target in the background; $pid. Waits (at
# most 10 s) for its "ready".
start() {
	name=$1
	shift
	"$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	pid=$!
	pids="$pids $pid"
	n=0
	until grep -q "^ready" "$TMP/$name.out" 2>/dev/null || [ $n -ge 200 ]; do
		sleep 0.05
		n=$((n + 1))
	done
}

# stop_target: ends the target started last.
stop_target() {
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || :
}

# deadlock_part NAME: the deadlock reports of $TMP/NAME.txt, without the dump.
deadlock_part() {
	sed -n '/^lockhound: deadlock: /,/^$/p' "$TMP/$1.txt"
}

# in_futex PID: how many of its threads sleep in futex(2) now.
in_futex() {
	cat /proc/"$1"/task/*/syscall 2>/dev/null | grep -c '^202 ' || true
}

# wait_blocked PID N: waits (at most 10 s) until N threads sleep in futex.
wait_blocked() {
	n=0
	until [ "$(in_futex "$1")" -ge "$2" ] || [ $n -ge 200 ]; do
		sleep 0.05
		n=$((n + 1))
	done
	[ "$(in_futex "$1")" -ge "$2" ] || fail "pid $1: $2 threads never blocked"
}

# tid_of PID NAME: the thread with that name.
tid_of() {
	for t in /proc/"$1"/task/*; do
		if [ "$(cat "$t/comm" 2>/dev/null)" = "$2" ]; then
			basename "$t"
			return
		fi
	done
}

# untouched PID: no tracer and no stop left on any of its threads.
untouched() {
	for t in /proc/"$1"/task/*; do
		grep -q '^TracerPid:[[:space:]]*0$' "$t/status" || return 1
		grep -q '^State:[[:space:]]*[tT]' "$t/status" && return 1
	done
	return 0
}

# beats FILE: the heartbeat's count.
beats() {
	tr -d ' \n' <"$1" 2>/dev/null || echo 0
}

# beating FILE: the count goes up (waits at most 10 s for it to).
beating() {
	b0=$(beats "$1")
	n=0
	while [ "$(beats "$1")" -le "${b0:-0}" ] && [ $n -lt 200 ]; do
		sleep 0.05
		n=$((n + 1))
	done
	[ "$(beats "$1")" -gt "${b0:-0}" ]
}

line_of() {
	grep -n "$1" "$SRC" | head -n 1 | cut -d: -f1
}

# ---- is ptrace permitted here? ----------------------------------------------
sleep 60 &
probe=$!
pids="$pids $probe"
attach probe "$probe"
if [ "$rc" -eq 2 ] && grep -q "permission denied\|ptrace is disabled" "$TMP/probe.err"; then
	echo "SKIP: ptrace is not permitted here: $(cat "$TMP/probe.err")"
	exit 77
fi
expect_eq "a sleeping process: nothing wrong" 0 "$rc"
check "a sleeping process: its thread sleeps in clock_nanosleep" \
	grep -q "^thread $probe \"sleep\" (main): sleeping (clock_nanosleep)" "$TMP/probe.txt"
kill $probe; wait $probe 2>/dev/null

# ---- ABBA --------------------------------------------------------------------
start abba "$T" abba "$TMP/abba.beats"
wait_blocked "$pid" 3 # worker-a, worker-b, main joining worker-a
ta=$(tid_of "$pid" worker-a)
tb=$(tid_of "$pid" worker-b)
lock_line=$(line_of "deadlocks \*/")
take_line=$(line_of "pthread_mutex_lock(p->first);")
attach abba "$pid"
expect_eq "abba: exit 1, a deadlock" 1 "$rc"
check "abba: the runtime's headline" \
	grep -q "^lockhound: deadlock: 2 threads wait for each other (pid $pid)$" "$TMP/abba.txt"
check "abba: worker-a waits for lock_b, held by worker-b" \
	grep -q "^  thread $ta \"worker-a\" waits for lock_b (mutex 0x[0-9a-f]*), held by thread $tb$" \
	"$TMP/abba.txt"
check "abba: worker-b waits for lock_a, held by worker-a" \
	grep -q "^  thread $tb \"worker-b\" waits for lock_a (mutex 0x[0-9a-f]*), held by thread $ta$" \
	"$TMP/abba.txt"
check "abba: each holds the other's lock" \
	[ "$(deadlock_part abba | grep -c '^    holds lock_[ab] (mutex')" -eq 2 ]
check "abba: where they wait, by source line" \
	[ "$(grep -c "#0  take_second at .*attach-target.c:$lock_line " "$TMP/abba.txt")" -ge 2 ]
check "abba: and who called it" grep -q "#1  take_pair at .*attach-target.c:" "$TMP/abba.txt"
check "abba: main waits behind the deadlock" \
	grep -q "^  other: thread $pid \"attach-target\" is waiting to join thread $ta, behind this deadlock" \
	"$TMP/abba.txt"
check "abba: the sleeper was seen in its 4 s sleep" \
	grep -q "^thread [0-9]* \"sleeper\": sleeping (clock_nanosleep)" "$TMP/abba.txt"
check "abba: the epoll thread was not stopped" \
	grep -A1 "\"epoll\": in epoll_wait" "$TMP/abba.txt" | grep -q "not stopped: a stop would make its epoll_wait fail with EINTR"
check "abba: yet its whole stack was read" \
	grep -A6 "\"epoll\": in epoll_wait" "$TMP/abba.txt" | grep -q "start_thread"
check "abba: the summary" grep -q "^1 deadlock found.$" "$TMP/abba.txt"
check "abba: nothing on stderr" [ ! -s "$TMP/abba.err" ]
check "abba: the process is alive" kill -0 "$pid"
check "abba: no tracer or stop left behind" untouched "$pid"
check "abba: the deadlocked threads still wait" [ "$(in_futex "$pid")" -ge 3 ]
check "abba: the heartbeat goes on" beating "$TMP/abba.beats"
# The same process as records; explain reads them.
attach abbajson --format=json "$pid"
expect_eq "abba json: exit 1" 1 "$rc"
expect_eq "abba json: one deadlock record, a cycle of 2" "cycle 2" \
	"$(q "$TMP/abbajson.txt" '"%s %d" % (kind("deadlock")[0]["cause"], len(kind("deadlock")[0]["cycle"]))')"
expect_eq "abba json: its locks by name" "['lock_a', 'lock_b']" \
	"$(q "$TMP/abbajson.txt" 'sorted(lock(m["waits_for"]["lock"])["name"] for m in kind("deadlock")[0]["cycle"])')"
expect_eq "abba json: each waits for what the next holds" True \
	"$(q "$TMP/abbajson.txt" '(lambda c: c[0]["waits_for"]["lock"] == c[1]["held"][0]["lock"] and c[1]["waits_for"]["lock"] == c[0]["held"][0]["lock"])(kind("deadlock")[0]["cycle"])')"
expect_eq "abba json: stacks are frames" True \
	"$(q "$TMP/abbajson.txt" 'all(pcs_ok(m["stack"]) for m in kind("deadlock")[0]["cycle"]) and all(pcs_ok(t["stack"]) for t in kind("attach-dump")[0]["threads"] if "stack" in t)')"
expect_eq "abba json: every thread in the dump" 6 \
	"$(q "$TMP/abbajson.txt" 'len(kind("attach-dump")[0]["threads"])')"
expect_eq "abba json: states" "attach-target:waiting-join epoll:in-syscall sleeper:in-syscall worker-a:waiting-lock worker-b:waiting-lock" \
	"$(q "$TMP/abbajson.txt" '" ".join(sorted("%s:%s" % (t["name"], t["state"]) for t in kind("attach-dump")[0]["threads"] if t["name"] != "heartbeat"))')"
expect_eq "abba json: the epoll thread was not stopped, the others were" "epoll:False sleeper:True worker-a:True worker-b:True" \
	"$(q "$TMP/abbajson.txt" '" ".join(sorted("%s:%s" % (t["name"], t["stopped"]) for t in kind("attach-dump")[0]["threads"] if t["name"] not in ("heartbeat", "attach-target")))')"
rc=0
"$LOCKHOUND" explain "$TMP/abbajson.txt" >"$TMP/explain.txt" 2>"$TMP/explain.err" || rc=$?
expect_eq "explain on attach's records: a finding" 1 "$rc"
check "explain: the deadlock, by lock names" grep -q "^lockhound: deadlock: .*lock_" "$TMP/explain.txt"
check "explain: with the source line" grep -q "attach-target.c:$lock_line" "$TMP/explain.txt"
check "explain: knows every kind" [ ! -s "$TMP/explain.err" ]
# The 4 s calls end on their own; woken early, they would say so.
n=0
until [ "$(grep -c "whole=" "$TMP/abba.out")" -ge 2 ] || [ $n -ge 300 ]; do
	sleep 0.05
	n=$((n + 1))
done
check "abba: the sleeper slept its whole time, no EINTR" \
	grep -q "^sleeper: rc=0 errno=0 whole=yes$" "$TMP/abba.out"
check "abba: epoll_wait timed out normally, no EINTR" \
	grep -q "^epoll: rc=0 errno=0 whole=yes$" "$TMP/abba.out"

stop_target

# ---- a job-control stop stays in force ------------------------------------------
start stopped "$T" abba "$TMP/stopped.beats"
wait_blocked "$pid" 3
kill -STOP "$pid"
n=0
until grep -q '^State:[[:space:]]*T' /proc/"$pid"/status || [ $n -ge 100 ]; do
	sleep 0.05
	n=$((n + 1))
done
attach stopped "$pid"
expect_eq "stopped: attached, the deadlock found" 1 "$rc"
check "stopped: its threads are told stopped" grep -q "\"heartbeat\": stopped (job control)" "$TMP/stopped.txt"
check "stopped: still stopped afterwards" grep -q '^State:[[:space:]]*T' /proc/"$pid"/status
check "stopped: no tracer left" [ "$(grep -h '^TracerPid' /proc/"$pid"/task/*/status | sort -u)" = "TracerPid:	0" ]
b0=$(beats "$TMP/stopped.beats")
kill -CONT "$pid"
check "stopped: once continued, the heartbeat goes on" beating "$TMP/stopped.beats"
stop_target

# ---- three threads --------------------------------------------------------------
start cycle3 "$T" cycle3 "$TMP/cycle3.beats"
wait_blocked "$pid" 4
attach cycle3 "$pid"
expect_eq "cycle3: a deadlock" 1 "$rc"
check "cycle3: headline" grep -q "^lockhound: deadlock: 3 threads wait for each other" "$TMP/cycle3.txt"
for w in "worker-a\" waits for bank.lock" "worker-b\" waits for ledger\[1\]" "worker-c\" waits for accounts_lock"; do
	check "cycle3: $w" grep -q "^  thread [0-9]* \"$w (mutex" "$TMP/cycle3.txt"
done
for l in accounts_lock bank.lock "ledger\[1\]"; do
	check "cycle3: a member holds $l" [ "$(deadlock_part cycle3 | grep -c "^    holds $l (mutex")" -eq 1 ]
done
check "cycle3: the source lines" \
	[ "$(grep -c "take_second at .*attach-target.c:$lock_line " "$TMP/cycle3.txt")" -ge 3 ]
check "cycle3: alive and untouched" untouched "$pid"
check "cycle3: the heartbeat goes on" beating "$TMP/cycle3.beats"
stop_target

# ---- other shapes --------------------------------------------------------------
start lost "$T" lost
wait_blocked "$pid" 2
attach lost "$pid"
expect_eq "lost: exit 1" 1 "$rc"
check "lost: the holder exited" \
	grep -q "^lockhound: deadlock: 1 thread waits forever for a lock whose holder has exited" "$TMP/lost.txt"
check "lost: worker-b waits for orphan_lock" \
	grep -q "\"worker-b\" waits for orphan_lock (mutex 0x[0-9a-f]*), held by thread [0-9]* (exited)" "$TMP/lost.txt"
check "lost: summary" grep -q "^1 lock whose holder has exited found.$" "$TMP/lost.txt"
stop_target

start self "$T" self
wait_blocked "$pid" 2
attach self "$pid"
expect_eq "self: exit 1" 1 "$rc"
check "self: a thread waits for itself" \
	grep -q "^lockhound: deadlock: a thread waits for a lock it holds itself" "$TMP/self.txt"
stop_target

start mainexit "$T" mainexit
wait_blocked "$pid" 1
attach mainexit "$pid"
expect_eq "main exited holding a lock: found" 1 "$rc"
check "main exited holding a lock: worker-a waits for main_lock, held by main (exited)" \
	grep -q "^  thread [0-9]* \"worker-a\" waits for main_lock (mutex 0x[0-9a-f]*), held by thread $pid (exited)$" \
	"$TMP/mainexit.txt"
stop_target

start join "$T" join
wait_blocked "$pid" 2
attach join "$pid"
expect_eq "join: a cycle through pthread_join" 1 "$rc"
check "join: main waits to join worker-a" \
	grep -q "^  thread $pid \"attach-target\" waits to join thread [0-9]*$" "$TMP/join.txt"
check "join: main holds join_lock" grep -q "^    holds join_lock (mutex" "$TMP/join.txt"
stop_target

start heap "$T" heap
wait_blocked "$pid" 3
attach heap "$pid"
expect_eq "heap: a deadlock" 1 "$rc"
check "heap: locks by address and where they are locked" \
	grep -q "waits for mutex 0x[0-9a-f]*, locked at attach-target.c:$lock_line in take_second, held by" \
	"$TMP/heap.txt"
stop_target

# A spinning thread: the spinlock from its registers; its holder only the
# runtime knows. (It runs: attach until it is seen spinning, at most 5 s.)
for mode in plain runtime; do
	if [ $mode = plain ]; then start spin "$T" spin; else start spin env LD_PRELOAD="$LH_LIB" "$T" spin; fi
	n=0
	attach spin "$pid"
	until grep -q '"worker-b": spinning on a spinlock' "$TMP/spin.txt" || [ $n -ge 50 ]; do
		sleep 0.1
		n=$((n + 1))
		attach spin "$pid"
	done
	if [ $mode = plain ]; then
		check "spin: worker-b spins on spin_lock" \
			grep -q "^    waits for spin_lock (spinlock 0x[0-9a-f]*), its holder is not recorded$" "$TMP/spin.txt"
	else
		check "spin, runtime: and worker-a holds it" \
			grep -q "^    waits for spin_lock (spinlock 0x[0-9a-f]*), for [0-9]* ms, held by thread [0-9]* \"worker-a\"$" \
			"$TMP/spin.txt"
	fi
	stop_target
done

# Static locks show as held even when nobody waits for them; one whose holder
# exited is noted.
start held "$T" held
n=0
until grep -q '^[0-9]* .*' /proc/"$pid"/syscall && [ "$(cut -d' ' -f1 /proc/"$pid"/syscall)" = 34 ] || [ $n -ge 200 ]; do
	sleep 0.05
	n=$((n + 1))
done
attach held "$pid"
expect_eq "held: nobody waits: nothing wrong" 0 "$rc"
check "held: main holds config_lock" grep -q "^    holds config_lock (mutex 0x[0-9a-f]*)$" "$TMP/held.txt"
check "held: and table" grep -q "^    holds table (rwlock 0x[0-9a-f]*)$" "$TMP/held.txt"
check "held: orphan_lock's holder is gone" \
	grep -q "^note: orphan_lock (mutex 0x[0-9a-f]*) is held by thread [0-9]*, which no longer exists" "$TMP/held.txt"
stop_target

# Readers of an rwlock are recorded nowhere in glibc: without the runtime,
# the cycle reader -> lock_a -> writer -> table -> reader is not seen...
start rwlock "$T" rwlock
wait_blocked "$pid" 3
attach rwlock "$pid"
expect_eq "rwlock, no runtime: no cycle to see" 0 "$rc"
check "rwlock, no runtime: the writer waits for readers it cannot name" \
	grep -q "waits for table (rwlock 0x[0-9a-f]*), held by readers lockhound cannot name" "$TMP/rwlock.txt"
stop_target

# ... with the runtime loaded, its records name the reader, and where each
# lock was taken.
start rwlockrt env LD_PRELOAD="$LH_LIB" "$T" rwlock
wait_blocked "$pid" 3
attach rwlockrt "$pid"
expect_eq "rwlock, runtime: the cycle" 1 "$rc"
check "rwlock, runtime: the writer waits for the reader" \
	grep -q "\"writer\" waits for table (rwlock 0x[0-9a-f]*), for [0-9]* ms, held by thread" "$TMP/rwlockrt.txt"
check "rwlock, runtime: the reader holds table for reading, and where it took it" \
	grep -A1 "^    holds table (rwlock 0x[0-9a-f]*) for reading, for about [0-9]* ms, taken at:" \
	"$TMP/rwlockrt.txt" | grep -q "reader at .*attach-target.c:"
check "rwlock, runtime: said in the dump's headline" grep -q "with liblockhound's records" "$TMP/rwlockrt.txt"
# Another build of the runtime than this lockhound's: its records are not read.
LOCKHOUND_LIBRARY="$top_builddir/tests/e2e/.libs/libearly.so" attach rwlockother "$pid"
expect_eq "rwlock, another build: no records, no cycle" 0 "$rc"
check "rwlock, another build: said once" \
	grep -q "note: the process's .*liblockhound.* is another build than this lockhound's" "$TMP/rwlockother.err"
stop_target

# ---- a healthy, busy program ------------------------------------------------------
start busy "$T" busy "$TMP/busy.stop"
for i in 1 2 3; do
	attach busy$i "$pid"
	expect_eq "busy $i: nothing wrong" 0 "$rc"
	check "busy $i: no deadlock" grep -q "^No deadlock found.$" "$TMP/busy$i.txt"
	check "busy $i: every thread" [ "$(grep -c '^thread [0-9]* "' "$TMP/busy$i.txt")" -eq 7 ]
done
touch "$TMP/busy.stop"
rc=0
wait "$pid" || rc=$?
expect_eq "busy: the program's own check passes" 0 "$rc"
check "busy: its results" grep -q "^counter=\([0-9]*\) sum=\1 pings=" "$TMP/busy.out"

# ---- cannot attach: exit 2, one line ------------------------------------------------
for bad in abc 0 -5 12x; do
	attach bad "$bad"
	expect_eq "pid '$bad': usage error" 2 "$rc"
	check "pid '$bad': one line" [ "$(cat "$TMP/bad.err")" = "lockhound: attach: $bad: not a process id" ]
done
attach none 1073741000
expect_eq "no such process: exit 2" 2 "$rc"
check "no such process: one line" [ "$(cat "$TMP/none.err")" = "lockhound: attach: 1073741000: no such process" ]
attach nopid
expect_eq "no pid: exit 2" 2 "$rc"
attach two 1 2
expect_eq "two pids: exit 2" 2 "$rc"
attach fmt --format=xml 1
expect_eq "bad format: exit 2" 2 "$rc"

start traced "$T" traced
child=$(head -n 1 "$TMP/traced.out")
n=0
until [ -n "$child" ] || [ $n -ge 200 ]; do
	sleep 0.05
	n=$((n + 1))
	child=$(head -n 1 "$TMP/traced.out")
done
pids="$pids $child"
attach traced "$child"
expect_eq "already traced: exit 2" 2 "$rc"
check "already traced: by whom, in one line" \
	[ "$(cat "$TMP/traced.err")" = "lockhound: attach: $child: already traced by process $pid (attach-target): a process can have one tracer; detach the debugger first" ]
kill -9 "$child" 2>/dev/null
stop_target

if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	sleep 60 &
	root_pid=$!
	pids="$pids $root_pid"
	rc=0
	setpriv --reuid=65534 --regid=65534 --clear-groups "$LOCKHOUND" attach "$root_pid" \
		>"$TMP/perm.txt" 2>"$TMP/perm.err" || rc=$?
	expect_eq "another user's process: exit 2" 2 "$rc"
	check "another user's process: why, in one line" \
		[ "$(cat "$TMP/perm.err")" = "lockhound: attach: $root_pid: permission denied: the process belongs to user root (uid 0); attach as that user or as root" ]
	kill "$root_pid"; wait "$root_pid" 2>/dev/null
fi

"$PYTHON3" -c 'import os, sys, time
p = os.fork()
if p == 0:
    os._exit(0)
print(p, flush=True)
time.sleep(60)' >"$TMP/zombie.pid" &
zparent=$!
pids="$pids $zparent"
n=0
until [ -s "$TMP/zombie.pid" ] || [ $n -ge 200 ]; do
	sleep 0.05
	n=$((n + 1))
done
zombie=$(cat "$TMP/zombie.pid")
if [ -n "$zombie" ]; then
	n=0
	until grep -q '^State:[[:space:]]*Z' /proc/"$zombie"/status 2>/dev/null || [ $n -ge 100 ]; do
		sleep 0.05
		n=$((n + 1))
	done
	attach zombie "$zombie"
	expect_eq "a zombie: exit 2" 2 "$rc"
	check "a zombie: one line" grep -q "^lockhound: attach: $zombie: the process has exited" "$TMP/zombie.err"
fi
kill "$zparent"
wait "$zparent" 2>/dev/null

if grep -qs '^Kthread:[[:space:]]*1' /proc/2/status; then
	attach kthread 2
	expect_eq "a kernel thread: exit 2" 2 "$rc"
	check "a kernel thread: one line" [ "$(cat "$TMP/kthread.err")" = "lockhound: attach: 2: a kernel thread, not a process" ]
fi

finish
