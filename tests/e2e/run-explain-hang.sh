#!/bin/sh
# lockhound explain on the hangs of tests/e2e/hang, caught while they
# happened: a real ABBA deadlock (on_deadlock=abort), a wait for a lock
# whose holder exited, and an acquire-timeout (timeout_ms=300) whose holder
# sleeps with the lock. Each is told in plain words with the symbolized
# sites (function and file:line), what to change and the stacks, in text,
# JSON and SARIF; the contention profile in the same log is not a finding.
. "$top_srcdir/tests/e2e/lib.sh"
ulimit -c 0

st() {
	rc=0
	"$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
	echo "$rc"
}

# line_of FUNCTION TEXT: the first line of hang.c after the line that starts
# FUNCTION's definition that contains TEXT.
line_of() {
	awk -v fn="$1(" -v text="$2" 'index($0, fn) == 1 { f = 1 } f && index($0, text) { print NR; exit }' \
		"$top_srcdir/tests/e2e/hang.c"
}

# says DESC WORDS: the text (line breaks as spaces) of $TMP/out has WORDS.
says() {
	words=$(tr '\n' ' ' <"$TMP/out" | tr -s ' ')
	case "$words" in
	*"$2"*) pass "$1" ;;
	*) fail "$1: does not say '$2'" ;;
	esac
}

js() {
	"$PYTHON3" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

first=$(line_of take_pair "pthread_mutex_lock(p->first)")
second=$(line_of take_pair "pthread_mutex_lock(p->second)")
waiter=$(line_of wait_for_main "pthread_mutex_lock(&lock_a)")
holder=$(line_of hold_for_two_seconds "pthread_mutex_lock(&lock_a)")
exiter=$(line_of leave_holding "pthread_mutex_lock(&lock_a)")
check "the source lines are found" [ -n "$first" ] && [ -n "$second" ] && [ -n "$waiter" ] &&
	[ -n "$holder" ] && [ -n "$exiter" ]

# ---- a deadlock of two threads -------------------------------------------------------
LH_EXTRA_OPTIONS=on_deadlock=abort lh_run abba "$E2E/hang" abba
expect_eq "abba: aborted (on_deadlock=abort)" 134 "$rc"
log="$TMP/abba.log"
t1=$(q "$log" 'kind("deadlock")[0]["cycle"][0]["tid"]')
t2=$(q "$log" 'kind("deadlock")[0]["cycle"][1]["tid"]')
h1=$(q "$log" 'lock(kind("deadlock")[0]["cycle"][0]["held"][0]["lock"])["name"]')
h2=$(q "$log" 'lock(kind("deadlock")[0]["cycle"][1]["held"][0]["lock"])["name"]')
expect_eq "abba: explain exits 1" 1 "$(st "$LOCKHOUND" explain "$log")"
cp "$TMP/out" "$TMP/abba.txt"
check "abba: the headline" grep -q "^lockhound: deadlock: threads $t1 and $t2 are deadlocked on $h1 and $h2$" "$TMP/abba.txt"
says "abba: who holds what, where, and waits for what, where" \
	"Threads $t1 \"hang\" and $t2 \"hang\" are deadlocked now: thread $t1 holds $h1 (taken at hang.c:$first) and waits for $h2 at hang.c:$second in take_pair; thread $t2 holds $h2 (taken at hang.c:$first) and waits for $h1 at hang.c:$second in take_pair."
says "abba: it cannot end" "Each waits for the other forever. This process will not recover."
says "abba: what to change" "What to change: take these locks in one order everywhere, for example $h1, then $h2: that means changing hang.c:$second in take_pair, where thread $t2 \"hang\" takes $h1 while holding $h2."
check "abba: thread $t1's wait stack" grep -q "^  thread $t1 \"hang\" waits for $h2 (for [0-9]* ms), at:$" "$TMP/abba.txt"
check "abba: where thread $t1 took $h1" grep -q "^  thread $t1 \"hang\" holds $h1 for about [0-9]* ms, taken at:$" "$TMP/abba.txt"
# Each twice: the inversion's two edges and the deadlock's two threads.
expect_eq "abba: the waits, symbolized" 4 "$(grep -c "^    #0  take_pair at .*/hang.c:$second (hang+0x[0-9a-f]*)$" "$TMP/abba.txt")"
expect_eq "abba: the acquisitions, symbolized" 4 "$(grep -c "^    #0  take_pair at .*/hang.c:$first (hang+0x[0-9a-f]*)$" "$TMP/abba.txt")"
check "abba: down to start_thread" grep -q "^    #1  start_thread at " "$TMP/abba.txt"
check "abba: the inversion too, and two findings" grep -q "^2 findings.$" "$TMP/abba.txt"

expect_eq "abba: explain --format=json" 1 "$(st "$LOCKHOUND" explain --format=json "$log")"
expect_eq "abba json: the deadlock, its locks, its four stacks" "error ['lock_a', 'lock_b'] 4" \
	"$(js "$TMP/out" '(lambda f: "%s %s %d" % (f["level"], sorted(f["locks"]), len(f["stacks"])))([f for f in d["findings"] if f["kind"] == "deadlock"][0])')"
expect_eq "abba json: frames with function and line" "take_pair $second" \
	"$(js "$TMP/out" '(lambda fr: "%s %d" % (fr["function"], fr["line"]))([f for f in d["findings"] if f["kind"] == "deadlock"][0]["stacks"][0]["frames"][0])')"
expect_eq "abba: explain --format=sarif" 1 "$(st "$LOCKHOUND" explain --format=sarif --source-root="$top_srcdir" "$log")"
check "abba sarif: the schema's required fields" "$PYTHON3" "$top_srcdir/tests/e2e/sarif-check.py" "$TMP/out" 2
expect_eq "abba sarif: the deadlock is on hang.c:$second" "tests/e2e/hang.c $second error" \
	"$(js "$TMP/out" '(lambda r: "%s %d %s" % (r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], r["locations"][0]["physicalLocation"]["region"]["startLine"], r["level"]))([r for r in d["runs"][0]["results"] if r["ruleId"] == "deadlock"][0])')"

# ---- a holder that exited ----------------------------------------------------------------
LH_EXTRA_OPTIONS=on_deadlock=abort lh_run exited "$E2E/hang" exited
expect_eq "exited: aborted" 134 "$rc"
pid=$(q "$TMP/exited.log" 'recs[0]["pid"]')
gone=$(q "$TMP/exited.log" 'kind("deadlock")[0]["exited_holder"]["tid"]')
expect_eq "exited: explain exits 1" 1 "$(st "$LOCKHOUND" explain "$TMP/exited.log")"
check "exited: the headline" grep -q "^lockhound: deadlock: thread $pid \"hang\" waits forever for lock_a: its holder, thread $gone, exited$" "$TMP/out"
says "exited: who took it where, and what it means" "but thread $gone took it at hang.c:$exiter in leave_holding and exited without releasing it. Nobody can ever release it: this thread will never go on."
says "exited: what to change" "release every lock before a thread returns or calls pthread_exit"
check "exited: where the exited thread took it" grep -q "^    #0  leave_holding at .*/hang.c:$exiter " "$TMP/out"

# ---- an acquisition that waited too long ---------------------------------------------------
LH_EXTRA_OPTIONS=timeout_ms=300 lh_run timeout "$E2E/hang" timeout
expect_eq "timeout: the program completes" "worker got the lock
timeout done" "$(cat "$TMP/timeout.out")"
log="$TMP/timeout.log"
w=$(q "$log" 'kind("acquire-timeout")[0]["thread"]["tid"]')
h=$(q "$log" 'kind("acquire-timeout")[0]["holder"]["tid"]')
check "timeout: the log has the profile too" [ "$(q "$log" 'len(kind("contention"))')" -ge 1 ]
expect_eq "timeout: explain exits 1" 1 "$(st "$LOCKHOUND" explain "$log")"
cp "$TMP/out" "$TMP/timeout.txt"
check "timeout: the headline" grep -q "^lockhound: acquire-timeout: thread $w \"hang\" waited [0-9]* ms (timeout_ms=300) for lock_a, held by thread $h \"hang\"$" "$TMP/timeout.txt"
says "timeout: the waiter, the lock, where" "for lock_a at hang.c:$waiter in wait_for_main."
says "timeout: the holder, since when, where" "Thread $h \"hang\" holds it (for about"
says "timeout: where the holder took it" "ms then), taken at hang.c:$holder in hold_for_two_seconds;"
says "timeout: what the holder does" "it was not waiting for a lock then but in clock_nanosleep,"
says "timeout: what to change" "What to change: shorten the critical section that begins at hang.c:$holder in hold_for_two_seconds"
check "timeout: the waiter's stack" grep -q "^    #0  wait_for_main at .*/hang.c:$waiter (hang+0x[0-9a-f]*)$" "$TMP/timeout.txt"
check "timeout: the holder's lock call, said to be only that" \
	grep -q "^  thread $h \"hang\" took lock_a at (only the lock call is known, not its callers):$" "$TMP/timeout.txt"
check "timeout: the holder's frame" grep -q "^    #0  hold_for_two_seconds at .*/hang.c:$holder (hang+0x[0-9a-f]*)$" "$TMP/timeout.txt"
check "timeout: one finding: the profile is not one" grep -q "^1 finding.$" "$TMP/timeout.txt"
check "timeout: no contention headline" sh -c "! grep -q '^lockhound: contention' '$TMP/timeout.txt'"

expect_eq "timeout: explain --format=json" 1 "$(st "$LOCKHOUND" explain --format=json "$log")"
expect_eq "timeout json: a warning on lock_a, three frames named" "warning ['lock_a'] wait_for_main hold_for_two_seconds" \
	"$(js "$TMP/out" '(lambda f: "%s %s %s %s" % (f["level"], f["locks"], f["stacks"][0]["frames"][0]["function"], f["stacks"][1]["frames"][0]["function"]))(d["findings"][0])')"
expect_eq "timeout: explain --format=sarif" 1 "$(st "$LOCKHOUND" explain --format=sarif "$log")"
check "timeout sarif: the schema's required fields" "$PYTHON3" "$top_srcdir/tests/e2e/sarif-check.py" "$TMP/out" 1
expect_eq "timeout sarif: a warning on hang.c:$waiter" "warning $waiter" \
	"$(js "$TMP/out" '(lambda r: "%s %d" % (r["level"], r["locations"][0]["physicalLocation"]["region"]["startLine"]))(d["runs"][0]["results"][0])')"
# A holder in a read: where it is, with its caller, and where it took the
# lock, whole (recovered from where it is).
LH_EXTRA_OPTIONS=timeout_ms=300 lh_run tread "$E2E/hang" timeout-read
expect_eq "timeout-read: explain exits 1" 1 "$(st "$LOCKHOUND" explain "$TMP/tread.log")"
says "timeout-read: where the holder is" "(called from hold_in_a_read at hang.c:"
check "timeout-read: where it took the lock, with its callers" \
	grep -q "^  thread [0-9]* \"hang\" took lock_a at:$" "$TMP/out"
printf 'kind:acquire-timeout lock:lock_a\n' >"$TMP/supp"
expect_eq "timeout: a suppression hides it" 0 "$(st "$LOCKHOUND" explain --suppressions="$TMP/supp" "$log")"

finish
