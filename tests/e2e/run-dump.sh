#!/bin/sh
# Thread dumps. A service whose eight named workers queue behind a lock its
# sleeping main thread holds, dumped by kill -USR1 and by `lockhound dump`
# (all nine threads, the holder, the waiters; every worker completes after);
# lh_dump(); a dump of 100 threads; a storm of 50 dumps during a 32-thread
# lock stress run (every thread answers every time, results unchanged, no
# findings); a program's own SIGUSR1 handler, chained when it was there
# first, winning when installed later; a program's own use of the runtime's
# real-time signal; dump_signal=SIGUSR2 and dump_signal=0 (no handler, no
# dump thread); a single-threaded process (dumped by the handler); the
# "deadlock found" section; `lockhound dump`'s errors.
. "$top_srcdir/tests/e2e/lib.sh"

# waitfor FILE REGEX [COUNT]: waits (at most 60 s, and only while process
# $pid lives) for COUNT matching lines.
waitfor() {
	n=0
	while c=$(grep -c -- "$2" "$1" 2>/dev/null); [ "${c:-0}" -lt "${3:-1}" ] && [ $n -lt 6000 ]; do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.01
		n=$((n + 1))
	done
}

# bg [VAR=VALUE]... PROG ARGS...: starts PROG in the background, sets $pid,
# and returns once PROG runs: until its exec, the child is a copy of this
# shell, whose EXIT trap would remove $TMP if a signal reached it there.
bg() {
	(
		trap - EXIT
		exec env "$@"
	) &
	pid=$!
	n=0
	while [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink /proc/$$/exe)" ] &&
		[ $n -lt 6000 ]; do
		sleep 0.01
		n=$((n + 1))
	done
}

# start NAME PROG ARGS...: starts PROG under the runtime, logging to
# $TMP/NAME.PID.log; sets $pid; waits for "ready" or "running".
start() {
	name=$1
	shift
	rm -f "$TMP/$name".*.log "$TMP/$name.go"
	bg LD_PRELOAD="$LH_LIB" \
		LOCKHOUND_OPTIONS="log_path=$TMP/$name.%p.log${LH_EXTRA_OPTIONS:+:$LH_EXTRA_OPTIONS}" \
		"$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
	waitfor "$TMP/$name.out" '^ready$\|^running$'
	check "$name: started" grep -q '^ready$\|^running$' "$TMP/$name.out"
}

# release NAME: lets it go on (GOFILE) and waits for it: $rc, $TMP/NAME.log.
release() {
	touch "$TMP/$1.go"
	rc=0
	wait "$pid" || rc=$?
	cp "$TMP/$1.$pid.log" "$TMP/$1.log" 2>/dev/null || : >"$TMP/$1.log"
}

# dump PID: `lockhound dump PID` into $TMP/dump.out and .err; sets $drc.
dump() {
	drc=0
	"$LOCKHOUND" dump "$@" >"$TMP/dump.out" 2>"$TMP/dump.err" || drc=$?
}

# caught PID SIG: whether the process catches signal number SIG.
caught() {
	mask=$(sed -n 's/^SigCgt:[[:space:]]*//p' "/proc/$1/status")
	[ $(((0x$mask >> ($2 - 1)) & 1)) -eq 1 ]
}

not() {
	! "$@"
}

threads_named() {
	cat /proc/"$1"/task/*/comm 2>/dev/null | grep -c "^$2\$" || true
}

RT=62 # SIGRTMAX - 2, the runtime's own signal

# ---- the service: kill -USR1, then lockhound dump ---------------------------
start svc "$E2E/service" 8 "$TMP/svc.go"
mainpid=$pid
check "service: a dump thread was started" [ "$(threads_named "$pid" lockhound)" -eq 1 ]
kill -USR1 "$pid"
waitfor "$TMP/svc.$pid.log" '"kind":"thread-dump"'
dump "$pid"
cp "$TMP/dump.out" "$TMP/dump.sym"
dump --no-symbolize "$pid"
cp "$TMP/dump.out" "$TMP/dump.raw"
cp "$TMP/dump.sym" "$TMP/dump.out"
release svc
expect_eq "service: it runs on and every worker completes" "ready
8 workers done" "$(cat "$TMP/svc.out")"
expect_eq "service: exit status" 0 "$rc"
D='kind("thread-dump")[0]'
expect_eq "kill -USR1: a thread-dump record" signal "$(q "$TMP/svc.log" "$D[\"trigger\"]")"
expect_eq "kill -USR1: all nine threads" 9 "$(q "$TMP/svc.log" "len($D[\"threads\"])")"
expect_eq "kill -USR1: their names" "['service', 'worker-1', 'worker-2', 'worker-3', 'worker-4', 'worker-5', 'worker-6', 'worker-7', 'worker-8']" \
	"$(q "$TMP/svc.log" "sorted(t[\"name\"] for t in $D[\"threads\"])")"
expect_eq "kill -USR1: main holds queue_lock, eight threads wait for it" "[('queue_lock', 8)]" \
	"$(q "$TMP/svc.log" "[(h[\"name\"], h[\"waiters\"]) for t in $D[\"threads\"] if t.get(\"main\") for h in t[\"held\"]]")"
expect_eq "kill -USR1: where main took it" True \
	"$(q "$TMP/svc.log" "all(pcs_ok(h[\"stack\"]) for t in $D[\"threads\"] if t.get(\"main\") for h in t[\"held\"])")"
expect_eq "kill -USR1: each worker waits for queue_lock, held by main" True \
	"$(q "$TMP/svc.log" "all(t[\"state\"] == \"waiting-lock\" and t[\"waits_for\"][\"name\"] == \"queue_lock\" and t[\"waits_for\"][\"held_by\"] == [$mainpid] for t in $D[\"threads\"] if not t.get(\"main\"))")"
expect_eq "kill -USR1: every thread's stack" True \
	"$(q "$TMP/svc.log" "all(pcs_ok(t[\"stack\"]) for t in $D[\"threads\"])")"
expect_eq "kill -USR1: no deadlock" "[]" "$(q "$TMP/svc.log" "$D[\"deadlocks\"]")"
check "kill -USR1: the headline on stderr" \
	grep -q "^lockhound: thread-dump: 9 threads (pid $mainpid), on SIGUSR1\$" "$TMP/svc.err"
check "kill -USR1: main, sleeping, holds queue_lock with eight waiters" \
	grep -q "^    holds queue_lock (mutex 0x[0-9a-f]*), for [0-9]* ms, 8 threads wait for it, taken at:" "$TMP/svc.err"
expect_eq "kill -USR1: eight waiters named, with their holder" 8 \
	"$(grep -c "^  thread [0-9]* \"worker-[1-8]\": waiting for queue_lock (mutex 0x[0-9a-f]*), for [0-9]* ms, held by thread $mainpid \"service\"\$" "$TMP/svc.err")"
check "kill -USR1: main's stack names where it sleeps" grep -q " in hold_and_sleep+0x" "$TMP/svc.err"
expect_eq "kill -USR1: the workers' stacks name worker()" 8 "$(grep -c " in worker+0x" "$TMP/svc.err")"
expect_eq "lockhound dump: exit status" 0 "$drc"
check "lockhound dump: the dump on its stdout" \
	grep -q "^lockhound: thread-dump: 9 threads (pid $mainpid), for lockhound dump\$" "$TMP/dump.out"
expect_eq "lockhound dump: the eight waiters and their holder" 8 \
	"$(grep -c "waiting for queue_lock (mutex 0x[0-9a-f]*), for [0-9]* ms, held by thread $mainpid \"service\"" "$TMP/dump.out")"
expect_eq "lockhound dump: nine stacks" 9 "$(grep -c "^    stack:" "$TMP/dump.out")"
expect_eq "lockhound dump: frames with file:line" 8 \
	"$(grep -c "^      #1  0x[0-9a-f]* in worker+0x[0-9a-f]* (service) at .*/service\.c:[0-9]*\$" "$TMP/dump.out")"
check "lockhound dump: calls inlined there" grep -q "^          nap at .*/service\.c:[0-9]* (inlined)\$" "$TMP/dump.out"
expect_eq "lockhound dump: the runtime's own frame as is" 8 \
	"$(grep -c "^      #0  0x[0-9a-f]* in [a-z_]*+0x[0-9a-f]* (liblockhound[^)]*)\$" "$TMP/dump.out")"
expect_eq "lockhound dump: not on the program's stderr" 1 "$(headlines "$TMP/svc.err" thread-dump)"
expect_eq "lockhound dump: its records in the log" "['signal', 'lockhound-dump', 'lockhound-dump']" \
	"$(q "$TMP/svc.log" '[d["trigger"] for d in kind("thread-dump")]')"
expect_eq "lockhound dump --no-symbolize: as the process wrote it" "0 9" \
	"$(grep -c " at /" "$TMP/dump.raw") $(grep -c "^    stack:" "$TMP/dump.raw")"

# ---- lh_dump() ---------------------------------------------------------------
start call "$E2E/service" 3 - lh_dump
rc=0
wait "$pid" || rc=$?
expect_eq "lh_dump: returns 0 and the program completes" "ready
lh_dump=0
3 workers done" "$(cat "$TMP/call.out")"
check "lh_dump: the headline" grep -q "^lockhound: thread-dump: 4 threads (pid $pid), from lh_dump()\$" "$TMP/call.err"
expect_eq "lh_dump: the caller's own stack starts in main" 1 \
	"$(sed -n "/^  thread $pid \"service\" (main)/,/^  thread /p" "$TMP/call.err" |
		grep -A1 '^    stack:' | grep -c '^      #0  0x[0-9a-f]* in main+0x')"
cp "$TMP/call.$pid.log" "$TMP/call.log"
expect_eq "lh_dump: its record" "lh_dump 4" \
	"$(q "$TMP/call.log" '" ".join([kind("thread-dump")[0]["trigger"], str(len(kind("thread-dump")[0]["threads"]))])')"

# ---- 100 threads ---------------------------------------------------------------
start many "$E2E/service" 100 "$TMP/many.go"
dump "$pid"
release many
expect_eq "100 threads: lockhound dump succeeds" 0 "$drc"
check "100 threads: all 101 listed" grep -q "^lockhound: thread-dump: 101 threads" "$TMP/dump.out"
expect_eq "100 threads: every one with its stack" 101 "$(grep -c "^    stack:" "$TMP/dump.out")"
expect_eq "100 threads: every worker completes" "100 workers done" "$(tail -n 1 "$TMP/many.out")"

# ---- a dump that cuts a sleep short ----------------------------------------------
# The worker's nanosleep ends with EINTR and it lets nap_lock go and ends
# while the dump waits for main (which blocks the runtime's signal): the dump
# still shows what the worker held when it showed its stack.
start napper "$E2E/napper" $RT "$TMP/napper.go"
napper_pid=$pid
kill -USR1 "$pid"
waitfor "$TMP/napper.out" '^joined$'
waitfor "$TMP/napper.$pid.log" '"kind":"thread-dump"'
release napper
expect_eq "napper: its sleep cut short, the worker ends first" "0 ready nap: interrupted joined done" \
	"$rc $(cat "$TMP/napper.out" | tr '\n' ' ' | sed 's/ $//')"
check "napper: the headline" grep -q "^lockhound: thread-dump: 2 threads (pid $napper_pid), on SIGUSR1\$" "$TMP/napper.err"
expect_eq "napper: the worker holds nap_lock, asleep in napper()" 1 \
	"$(sed -n '/^  thread [0-9]* "napper": /,/^  thread /p' "$TMP/napper.err" |
		grep -c '^    holds nap_lock (mutex 0x[0-9a-f]*), for [0-9]* ms, taken at:$')"
expect_eq "napper: the record too" "['nap_lock']" \
	"$(q "$TMP/napper.log" '[h["name"] for t in kind("thread-dump")[0]["threads"] if not t.get("main") for h in t["held"]]')"

# ---- dump_interrupt=0: the sleep goes on -----------------------------------------
# The same program, a 3-second nap (main naps too): the dump does not ask
# the worker (it would end the sleep), shows it in clock_nanosleep holding
# nap_lock, and the sleep is whole. (Main's is cut short as a rule:
# kill -USR1's handler runs there; not checked, since the signal can come
# just before main's nap starts.)
LH_EXTRA_OPTIONS=dump_interrupt=0
start nap0 "$E2E/napper" $RT "$TMP/nap0.go" 3
LH_EXTRA_OPTIONS=
nap0_pid=$pid
kill -USR1 "$pid"
waitfor "$TMP/nap0.$pid.log" '"kind":"thread-dump"'
waitfor "$TMP/nap0.out" '^joined$'
release nap0
expect_eq "dump_interrupt=0: the worker's sleep is whole" "0 ready nap: whole joined done" \
	"$rc $(grep -v '^main nap: ' "$TMP/nap0.out" | tr '\n' ' ' | sed 's/ $//')"
check "dump_interrupt=0: the headline" \
	grep -q "^lockhound: thread-dump: 2 threads (pid $nap0_pid), on SIGUSR1\$" "$TMP/nap0.err"
sed -n '/^  thread [0-9]* "napper": /,/^  thread /p' "$TMP/nap0.err" >"$TMP/nap0.worker"
check "dump_interrupt=0: the worker holds nap_lock" \
	grep -q '^    holds nap_lock (mutex 0x[0-9a-f]*), for [0-9]* ms' "$TMP/nap0.worker"
check "dump_interrupt=0: the worker's call" \
	grep -q '^  thread [0-9]* "napper": in clock_nanosleep$' "$TMP/nap0.worker"
check "dump_interrupt=0: no stack, and why" \
	grep -q '^    stack unknown: not asked, so that its call goes on$' \
	"$TMP/nap0.worker"
expect_eq "dump_interrupt=0: the record" "[('in-call', 'clock_nanosleep', ['nap_lock'])]" \
	"$(q "$TMP/nap0.log" '[(t["no_answer"], t["in_call"], [h["name"] for h in t["held"]]) for t in kind("thread-dump")[0]["threads"] if not t.get("main")]')"

# ---- lockhound dump --no-interrupt: the same, for one dump ----------------------
# The request goes to the runtime's own thread, not to a program thread
# (whose sleep it would end), and the dump leaves the sleeper alone.
start nap1 "$E2E/napper" $RT "$TMP/nap1.go" 3
dump --no-interrupt "$pid"
release nap1
expect_eq "dump --no-interrupt: exit 0" 0 "$drc"
expect_eq "dump --no-interrupt: both sleeps are whole" "0 ready main nap: whole nap: whole joined done" \
	"$rc $(cat "$TMP/nap1.out" | tr '\n' ' ' | sed 's/ $//')"
sed -n '/^  thread [0-9]* "napper": /,/^  thread /p' "$TMP/dump.out" >"$TMP/nap1.worker"
check "dump --no-interrupt: the worker's call" \
	grep -q '^  thread [0-9]* "napper": in clock_nanosleep$' "$TMP/nap1.worker"
check "dump --no-interrupt: the worker holds nap_lock" \
	grep -q '^    holds nap_lock (mutex 0x[0-9a-f]*), for [0-9]* ms' "$TMP/nap1.worker"
check "dump --no-interrupt: in its usage" sh -c '"$1" dump --help | grep -q -- --no-interrupt' sh "$LOCKHOUND"

# ---- a storm of 50 dumps during a 32-thread stress run --------------------------
start storm "$E2E/stress" 32 "$TMP/storm.go"
cli_ok=0
for i in $(seq 1 50); do
	kill -0 "$pid" 2>/dev/null || break
	if [ $((i % 5)) -eq 0 ]; then
		dump "$pid"
		[ "$drc" -eq 0 ] && grep -q "^lockhound: thread-dump: 34 threads" "$TMP/dump.out" &&
			! grep -q "stack unknown" "$TMP/dump.out" && cli_ok=$((cli_ok + 1))
	else
		kill -USR1 "$pid"
	fi
	waitfor "$TMP/storm.$pid.log" '"kind":"thread-dump"' "$i"
done
release storm
expect_eq "storm: the results are exact" "running
stress ok" "$(cat "$TMP/storm.out")"
expect_eq "storm: exit status" 0 "$rc"
expect_eq "storm: 50 dumps" 50 "$(q "$TMP/storm.log" 'len(kind("thread-dump"))')"
expect_eq "storm: each lists 34 threads (32, the collector, main)" "[34]" \
	"$(q "$TMP/storm.log" 'sorted(set(len(d["threads"]) for d in kind("thread-dump")))')"
expect_eq "storm: every thread answered every time" 0 \
	"$(q "$TMP/storm.log" 'sum(1 for d in kind("thread-dump") for t in d["threads"] if "no_answer" in t or not pcs_ok(t["stack"]))')"
expect_eq "storm: the ten lockhound dumps each had every thread" 10 "$cli_ok"
expect_eq "storm: no finding" "[]" \
	"$(q "$TMP/storm.log" '[r["kind"] for r in recs if r["kind"] in ("deadlock", "lock-order-inversion", "misuse", "acquire-timeout")]')"

# ---- the program's own SIGUSR1 handler ------------------------------------------
SIGUSR_EARLY=1
export SIGUSR_EARLY
start early "$E2E/sigusr" early "$TMP/early.go"
unset SIGUSR_EARLY
kill -USR1 "$pid"
waitfor "$TMP/early.$pid.log" '"kind":"thread-dump"'
waitfor "$TMP/early.out" '^SIGUSR1 handler ran$'
release early
expect_eq "handler there first: the dump is made" 1 "$(q "$TMP/early.log" 'len(kind("thread-dump"))')"
expect_eq "handler there first: and the program's handler runs too" "SIGUSR1 handler: 1" \
	"$(grep "^SIGUSR1 handler:" "$TMP/early.out")"
expect_eq "handler there first: no warning" 0 "$(grep -c warning "$TMP/early.err" || true)"

for how in late signal bsd_signal sysv_signal sigset; do
	start "$how" "$E2E/sigusr" "$how" "$TMP/$how.go"
	kill -USR1 "$pid"
	waitfor "$TMP/$how.out" '^SIGUSR1 handler ran$'
	dump "$pid"
	release "$how"
	expect_eq "handler installed later ($how): it wins" "SIGUSR1 handler: 1" \
		"$(grep "^SIGUSR1 handler:" "$TMP/$how.out")"
	expect_eq "handler installed later ($how): SIGUSR1 dumps nothing" "['lockhound-dump']" \
		"$(q "$TMP/$how.log" '[d["trigger"] for d in kind("thread-dump")]')"
	expect_eq "handler installed later ($how): said once" 1 \
		"$(grep -c "^lockhound: warning: the program installed its own SIGUSR1 action; it wins" "$TMP/$how.err")"
	expect_eq "handler installed later ($how): lockhound dump still works" 0 "$drc"
	check "handler installed later ($how): with both threads" grep -q '^lockhound: thread-dump: 2 threads' "$TMP/dump.out"
done

# ---- the program's own use of the runtime's signal -------------------------------
start rt "$E2E/sigusr" rt "$TMP/rt.go"
dump "$pid"
release rt
expect_eq "program's SIGRTMAX-2: it sees its own actions" "old rt action: default
rt action is the program's: yes" "$(head -n 2 "$TMP/rt.out")"
expect_eq "program's SIGRTMAX-2: its raise and pthread_kill reach its handler" "rt handler: 2" \
	"$(tail -n 1 "$TMP/rt.out")"
expect_eq "program's SIGRTMAX-2: dumps still work" 0 "$drc"
expect_eq "program's SIGRTMAX-2: every thread answered" 2 "$(grep -c "^    stack:" "$TMP/dump.out")"

# ---- dump_signal ------------------------------------------------------------------
LH_EXTRA_OPTIONS=dump_signal=SIGUSR2
start usr2 "$E2E/service" 2 "$TMP/usr2.go"
LH_EXTRA_OPTIONS=
check "dump_signal=SIGUSR2: SIGUSR1 is left alone" not caught "$pid" 10
kill -USR2 "$pid"
waitfor "$TMP/usr2.$pid.log" '"kind":"thread-dump"'
release usr2
expect_eq "dump_signal=SIGUSR2: it dumps" 12 "$(q "$TMP/usr2.log" 'kind("thread-dump")[0]["signal"]')"
check "dump_signal=SIGUSR2: the headline" grep -q "), on SIGUSR2\$" "$TMP/usr2.err"

LH_EXTRA_OPTIONS=dump_signal=0
start off "$E2E/service" 2 "$TMP/off.go"
LH_EXTRA_OPTIONS=
check "dump_signal=0: no SIGUSR1 handler" not caught "$pid" 10
check "dump_signal=0: no handler for the runtime's signal" not caught "$pid" "$RT"
expect_eq "dump_signal=0: no dump thread" "0 3" \
	"$(threads_named "$pid" lockhound) $(sed -n 's/^Threads:[[:space:]]*//p' "/proc/$pid/status")"
dump "$pid"
release off
expect_eq "dump_signal=0: lockhound dump says so" 2 "$drc"
expect_eq "dump_signal=0: in one line" "lockhound: dump: pid $pid: thread dumps are off in it (dump_signal=0, or a setuid program)" \
	"$(cat "$TMP/dump.err")"
expect_eq "dump_signal=0: the program is unharmed" "2 workers done" "$(tail -n 1 "$TMP/off.out")"

LH_EXTRA_OPTIONS=dump_signal=0
start offcall "$E2E/service" 2 - lh_dump
LH_EXTRA_OPTIONS=
wait "$pid"
check "dump_signal=0: lh_dump() still dumps" grep -q "^lockhound: thread-dump: 3 threads (pid $pid), from lh_dump()" "$TMP/offcall.err"
expect_eq "dump_signal=0: without asking the other threads for their stacks" 2 \
	"$(grep -c "stack unknown: dumps by signal are off (dump_signal=0)" "$TMP/offcall.err")"

# ---- a single-threaded process ------------------------------------------------------
bg LD_PRELOAD="$LH_LIB" sleep 30 2>"$TMP/single.err"
# Until sleep itself runs with the runtime's handler (before its exec, the
# forked shell has handlers of its own).
n=0
until grep -q liblockhound "/proc/$pid/maps" 2>/dev/null && caught "$pid" 10 2>/dev/null ||
	[ $n -ge 6000 ]; do
	sleep 0.01
	n=$((n + 1))
done
kill -USR1 "$pid"
waitfor "$TMP/single.err" "^lockhound: thread-dump: 1 thread (pid $pid), written by the signal handler\$"
check "single thread: the handler dumps it" grep -q "^lockhound: thread-dump: 1 thread (pid $pid), written by the signal handler\$" "$TMP/single.err"
check "single thread: its frames" grep -q "^      #0  0x[0-9a-f]* (libc.so.6+0x[0-9a-f]*)\$" "$TMP/single.err"
dump "$pid"
expect_eq "single thread: lockhound dump gets it too" "0 1" "$drc $(grep -c "^lockhound: thread-dump: 1 thread" "$TMP/dump.out")"
expect_eq "single thread: no extra thread was made" 1 "$(sed -n 's/^Threads:[[:space:]]*//p' "/proc/$pid/status")"
check "single thread: still running" kill -0 "$pid"
kill "$pid"
wait "$pid" 2>/dev/null

# ---- a deadlock --------------------------------------------------------------------
rm -f "$TMP"/abba.*.log
bg LD_PRELOAD="$LH_LIB" LOCKHOUND_OPTIONS="log_path=$TMP/abba.%p.log" "$E2E/hang" abba \
	>/dev/null 2>"$TMP/abba.err"
waitfor "$TMP/abba.$pid.log" '"kind":"deadlock"'
dump "$pid"
{
	kill -9 "$pid"
	wait "$pid"
} 2>/dev/null
expect_eq "deadlock: lockhound dump exits 1" 1 "$drc"
expect_eq "deadlock: the section comes first" "  deadlock found: 2 threads wait for each other" \
	"$(sed -n 2p "$TMP/dump.out")"
expect_eq "deadlock: each waits for a lock held by the other" 2 \
	"$(sed -n '3,4p' "$TMP/dump.out" | grep -c "^    thread [0-9]* \"hang\" waits for lock_[ab] (mutex 0x[0-9a-f]*), held by thread [0-9]* \"hang\"\$")"

# ---- errors ---------------------------------------------------------------------------
dump
expect_eq "no pid: usage error" 2 "$drc"
dump abc
expect_eq "not a pid" "2 lockhound: dump: abc: not a process id" "$drc $(cat "$TMP/dump.err")"
dump 1073741823
expect_eq "unknown pid: one line, exit 2" "2 lockhound: dump: pid 1073741823: no such process" \
	"$drc $(cat "$TMP/dump.err")"
bg sleep 30
n=0
while [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != sleep ] && [ $n -lt 6000 ]; do
	sleep 0.01
	n=$((n + 1))
done
dump "$pid"
expect_eq "no runtime: one line, exit 2" "2 lockhound: dump: pid $pid: the lockhound runtime is not loaded in it (start it with 'lockhound run' or LD_PRELOAD)" \
	"$drc $(cat "$TMP/dump.err")"
check "no runtime: the process is not signalled" kill -0 "$pid"
kill "$pid"
wait "$pid" 2>/dev/null
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	bg setpriv --reuid=65534 --regid=65534 --clear-groups sleep 30
	n=0
	while [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != sleep ] && [ $n -lt 6000 ]; do
		sleep 0.01
		n=$((n + 1))
	done
	dump "$pid"
	expect_eq "another user's process: one line, exit 2" "2 lockhound: dump: pid $pid: permission denied: it belongs to another user" \
		"$drc $(cat "$TMP/dump.err")"
	kill "$pid"
	wait "$pid" 2>/dev/null
fi

finish
