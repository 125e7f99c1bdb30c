#!/bin/sh
# Data races on the compiler's -fsanitize=thread instrumentation, with
# lockhound behind the hooks instead of libtsan. Every program is built with
# gcc and with clang through lockhound-cc: the unlocked two-thread counter
# (200,000 increments each) is reported in one run, both stacks at the
# increment, in the log and on stderr; the same counter under a mutex, and an
# atomic one, are silent; a write under a read lock while another thread
# reads is reported; a race between threads holding different mutexes names
# each side's lock. Every hook both compilers emit links and computes what
# the uninstrumented program computes; a hook nobody defines fails the link.
# The documented two-step command lines work. Lock reports in instrumented
# code take their stacks from the shadow call stack. libtsan in the process
# is said once, and both tools keep working.
. "$top_srcdir/tests/e2e/lib.sh"

LOCKHOUND_LIBDIR="$top_builddir/lib/.libs"
LOCKHOUND_INCLUDEDIR="$top_builddir/include"
export LOCKHOUND_LIBDIR LOCKHOUND_INCLUDEDIR
LHCC="$top_builddir/tools/lockhound-cc"
SRC="$top_srcdir/tests/e2e"

compilers="gcc clang"
for c in $compilers; do
	command -v "$c" >/dev/null || { fail "$c is not installed"; }
done

# races_logged LOG: how many data-race records (the log may not exist).
# lh_run NAME PROG MODE, again (at most three runs) until a data race is
# on stderr. The detector samples: on a loaded machine the two threads may
# not overlap at the sampled accesses in one run. Never for a mode that must
# stay silent.
lh_run_racing() {
	for try in 1 2 3; do
		lh_run "$@"
		[ "$(headlines "$TMP/$1.err" data-race)" -ge 1 ] && return 0
	done
	return 0
}

# The racy mode with LOCKHOUND_OPTIONS=$1, its stderr to $2: like
# lh_run_racing, at most three runs until a race is said.
racy_with() {
	for try in 1 2 3; do
		LOCKHOUND_OPTIONS="$1" "$prog" racy >/dev/null 2>"$2"
		[ "$(headlines "$2" data-race)" -ge 1 ] && return 0
	done
	return 0
}

races_logged() {
	grep -c '"kind":"data-race"' "$1" || true
}

# in_function PROG FUNC OFFSET: OFFSET (a return address in PROG's file
# addresses) is inside FUNC.
in_function() {
	set -- $(nm -S "$1" | awk -v f="$2" '$4 == f { print $1, $2 }') "$3"
	[ $# -eq 3 ] && [ $(($3 - 1 >= 0x$1 && $3 - 1 < 0x$1 + 0x$2)) -eq 1 ]
}

for c in $compilers; do
	prog="$TMP/race-counter-$c"
	if ! LOCKHOUND_CC=$c "$LHCC" -g -O0 -o "$prog" "$SRC/race-counter.c" 2>"$TMP/cc.err"; then
		fail "$c: race-counter does not build: $(cat "$TMP/cc.err")"
		continue
	fi
	check "$c: linked with lockhound, not libtsan" \
		sh -c "ldd '$prog' | grep -q liblockhound && ! ldd '$prog' | grep -q libtsan"

	lh_run_racing racy-$c "$prog" racy
	expect_eq "$c racy: exit status is the program's" 0 "$rc"
	check "$c racy: a data-race headline" [ "$(headlines "$TMP/racy-$c.err" data-race)" -ge 1 ]
	expect_eq "$c racy: seen in the act, on counter" True \
		"$(q "$TMP/racy-$c.log" 'len([r for r in kind("data-race") if r["how"] == "concurrent"]) >= 1 and all(r["symbol"]["name"] == "counter" for r in kind("data-race")) and all(len(r["accesses"]) == 2 and any(a["write"] for a in r["accesses"]) for r in [r for r in kind("data-race") if r["how"] == "concurrent"])')"
	expect_eq "$c racy: two different threads" True \
		"$(q "$TMP/racy-$c.log" 'all(r["accesses"][0]["thread"]["tid"] != r["accesses"][1]["thread"]["tid"] for r in [r for r in kind("data-race") if r["how"] == "concurrent"])')"
	expect_eq "$c racy: both stacks are whole, in the program" True \
		"$(q "$TMP/racy-$c.log" 'all(pcs_ok(a["stack"]) and len(a["stack"]) >= 2 and {m["index"]: m["path"] for m in recs[0]["modules"]}[a["stack"][0]["module"]].endswith("race-counter-'"$c"'") for r in [r for r in kind("data-race") if r["how"] == "concurrent"] for a in r["accesses"])')"
	offsets=$(q "$TMP/racy-$c.log" '" ".join(a["stack"][0]["offset"] + " " + a["stack"][1]["offset"] for r in [r for r in kind("data-race") if r["how"] == "concurrent"] for a in r["accesses"])')
	set -- $offsets
	while [ $# -ge 2 ]; do
		check "$c racy: access at $1 is in increment()" in_function "$prog" increment "$1"
		check "$c racy: called from worker() at $2" in_function "$prog" worker "$2"
		shift 2
	done
	check "$c racy: stderr shows both stacks at the increment" \
		[ "$(grep -c '#0 .* in increment+0x' "$TMP/racy-$c.err")" -ge 2 ]
	check "$c racy: stderr names the variable" grep -q "at counter (0x" "$TMP/racy-$c.err"
	"$LOCKHOUND" explain "$TMP/racy-$c.log" >"$TMP/explain-$c.out" 2>&1
	words=$(tr '\n' ' ' <"$TMP/explain-$c.out" | tr -s ' ')
	case "$words" in
	*"of counter at the same moment"*"race-counter.c:35 in increment (called from worker at race-counter.c:"*"holding no locks, while thread"*"What to change: protect every access to counter with one lock"*) pass "$c racy: explain tells both sides and what to change" ;;
	*) fail "$c racy: explain does not tell the race: $words" ;;
	esac

	lh_run locked-$c "$prog" locked
	expect_eq "$c locked: the count is exact" "counter=400000" "$(cat "$TMP/locked-$c.out")"
	expect_eq "$c locked: no data race" 0 "$(headlines "$TMP/locked-$c.err" data-race)"
	expect_eq "$c locked: no record of a race" 0 "$(races_logged "$TMP/locked-$c.log")"

	lh_run atomic-$c "$prog" atomic
	expect_eq "$c atomic: the count is exact" "counter=400000" "$(cat "$TMP/atomic-$c.out")"
	expect_eq "$c atomic: no data race" 0 "$(headlines "$TMP/atomic-$c.err" data-race)"
	expect_eq "$c atomic: no record of a race" 0 "$(races_logged "$TMP/atomic-$c.log")"

	lh_run_racing rwlock-$c "$prog" rwlock
	expect_eq "$c rwlock: write under the read lock, against a read: reported" True \
		"$(q "$TMP/rwlock-$c.log" 'len([r for r in kind("data-race") if r["how"] == "concurrent"]) >= 1 and all(sorted(a["write"] for a in r["accesses"]) == [False, True] for r in [r for r in kind("data-race") if r["how"] == "concurrent"])')"
	expect_eq "$c rwlock: both sides held table_lock for reading" True \
		"$(q "$TMP/rwlock-$c.log" 'all([(lock(h["lock"])["name"], h["mode"]) for h in a["held"]] == [("table_lock", "read")] for r in [r for r in kind("data-race") if r["how"] == "concurrent"] for a in r["accesses"])')"

	lh_run_racing twolocks-$c "$prog" twolocks
	expect_eq "$c twolocks: each side holds its own lock" True \
		"$(q "$TMP/twolocks-$c.log" 'len([r for r in kind("data-race") if r["how"] == "concurrent"]) >= 1 and all(sorted(lock(a["held"][0]["lock"])["name"] for a in r["accesses"]) == ["left_lock", "right_lock"] for r in [r for r in kind("data-race") if r["how"] == "concurrent"])')"
	check "$c twolocks: stderr names the held locks" grep -q "holding left_lock (mutex 0x" "$TMP/twolocks-$c.err"
	"$LOCKHOUND" explain "$TMP/rwlock-$c.log" >"$TMP/explain-$c.out" 2>&1
	check "$c rwlock: explain says the read lock does not exclude" \
		grep -q "take table_lock for writing" "$TMP/explain-$c.out"
	"$LOCKHOUND" explain "$TMP/twolocks-$c.log" >"$TMP/explain-$c.out" 2>&1
	check "$c twolocks: explain says no lock is common" \
		grep -q "hold no lock in common" "$TMP/explain-$c.out"

	LOCKHOUND_OPTIONS=race_sample=0 "$prog" racy >/dev/null 2>"$TMP/off-$c.err"
	expect_eq "$c racy, race_sample=0: detection off" 0 "$(headlines "$TMP/off-$c.err" data-race)"

	printf 'kind:data-race function:increment\n' >"$TMP/supp"
	LOCKHOUND_OPTIONS=suppressions="$TMP/supp" "$prog" racy >/dev/null 2>"$TMP/supp-$c.err"
	expect_eq "$c racy, suppressed by function: not reported" 0 "$(headlines "$TMP/supp-$c.err" data-race)"
	printf 'kind:data-race function:no_such_function\n' >"$TMP/supp"
	racy_with suppressions="$TMP/supp" "$TMP/supp-$c.err"
	check "$c racy, a rule for another function: still reported" [ "$(headlines "$TMP/supp-$c.err" data-race)" -ge 1 ]
done

# In instrumented code, the other reports take their stacks from the shadow
# call stack (it ends at the thread's start routine: no clone3 frame), and
# the held lock's stack is still recovered whole.
for c in $compilers; do
	prog="$TMP/abba-$c"
	LOCKHOUND_CC=$c "$LHCC" -g -O0 -o "$prog" "$SRC/abba.c" || { fail "$c: abba"; continue; }
	lh_run abba-$c "$prog"
	expect_eq "$c abba: the inversion, both stacks whole, from the shadow stack" True \
		"$(q "$TMP/abba-$c.log" 'len(kind("lock-order-inversion")) == 1 and all(len(e["stack"]) == 3 and len(e["held_stack"]) == 3 and "held_stack_partial" not in e for e in kind("lock-order-inversion")[0]["edges"])')"
	check "$c abba: the held lock's stack is in take_b_then_a" \
		grep -q "#0 .* in take_b_then_a+0x" "$TMP/abba-$c.err"
done

# Every hook, at -O0 and -O2, with the optional volatile and compound hooks.
for c in $compilers; do
	case $c in
	gcc) extra="--param tsan-distinguish-volatile=1" ;;
	*) extra="-mllvm -tsan-distinguish-volatile=1 -mllvm -tsan-compound-read-before-write=1" ;;
	esac
	for o in -O0 -O2; do
		prog="$TMP/race-hooks-$c$o"
		if LOCKHOUND_CC=$c "$LHCC" $o $extra -w -o "$prog" "$SRC/race-hooks.c" \
			-latomic 2>"$TMP/cc.err"; then
			expect_eq "$c $o: every hook links and computes right" ok "$("$prog" 2>&1)"
		else
			fail "$c $o: race-hooks does not link: $(cat "$TMP/cc.err")"
		fi
	done
done
cat >"$TMP/unknown.c" <<'EOF'
void __tsan_not_a_hook(void *);
int main(void) { int x; __tsan_not_a_hook(&x); return 0; }
EOF
check "a hook nobody defines fails the link" \
	sh -c "! LOCKHOUND_CC=gcc '$LHCC' -o '$TMP/unknown' '$TMP/unknown.c' 2>'$TMP/unknown.err' &&
		grep -q 'undefined reference to .__tsan_not_a_hook' '$TMP/unknown.err'"

# The documented lines: compile with the pkg-config variable, link plainly.
pc() { PKG_CONFIG_PATH="$top_builddir/lib" pkg-config "$@" lockhound; }
expect_eq "pkg-config race_cflags" "-fsanitize=thread" "$(pc --variable=race_cflags)"
expect_eq "pkg-config race_cc" lockhound-cc "$(basename "$(pc --variable=race_cc)")"
gcc -g -O0 $(pc --cflags) $(pc --variable=race_cflags) -c "$SRC/race-counter.c" \
	-o "$TMP/two-step.o" &&
	gcc -o "$TMP/two-step" "$TMP/two-step.o" -L"$LOCKHOUND_LIBDIR" $(pc --libs) -pthread
check "two steps: built without libtsan" \
	sh -c "ldd '$TMP/two-step' | grep -q liblockhound && ! ldd '$TMP/two-step' | grep -q libtsan"
LD_LIBRARY_PATH="$LOCKHOUND_LIBDIR" "$TMP/two-step" racy >/dev/null 2>"$TMP/two-step.err"
check "two steps: the race is reported" [ "$(headlines "$TMP/two-step.err" data-race)" -ge 1 ]
# A program whose only use of lockhound is an assertion (a weak reference):
# Debian's gcc links --as-needed, and --libs must keep the runtime anyway.
printf '%s\n' '#include <pthread.h>' '#include "lockhound.h"' \
	'static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;' \
	'int main(void) { lh_assert_held(&m); return 0; }' >"$TMP/weak.c"
gcc $(pc --cflags) -I"$LOCKHOUND_INCLUDEDIR" -o "$TMP/weak" "$TMP/weak.c" -L"$LOCKHOUND_LIBDIR" $(pc --libs)
LD_LIBRARY_PATH="$LOCKHOUND_LIBDIR" "$TMP/weak" 2>"$TMP/weak.err"
expect_eq "pkg-config --libs keeps the runtime for an assertion alone" 1 "$(headlines "$TMP/weak.err" misuse)"
clang -g -O0 -fsanitize=thread -fno-sanitize-link-runtime -o "$TMP/one-step" \
	"$SRC/race-counter.c" -L"$LOCKHOUND_LIBDIR" -llockhound -pthread
LD_LIBRARY_PATH="$LOCKHOUND_LIBDIR" "$TMP/one-step" racy >/dev/null 2>"$TMP/one-step.err"
check "clang in one step: the race is reported" [ "$(headlines "$TMP/one-step.err" data-race)" -ge 1 ]

# libtsan in the same process: said once; TSan and lockhound both work.
if gcc -g -O0 -fsanitize=thread -o "$TMP/tsan" "$SRC/race-counter.c" 2>/dev/null; then
	lh_run tsan-racy "$TMP/tsan" racy
	expect_eq "libtsan: said in one line" 1 \
		"$(grep -c 'ThreadSanitizer (libtsan) is in this process' "$TMP/tsan-racy.err")"
	check "libtsan: TSan still finds the race" grep -q "WARNING: ThreadSanitizer: data race" \
		"$TMP/tsan-racy.err"
	expect_eq "libtsan: lockhound stays out of it" 0 "$(headlines "$TMP/tsan-racy.err" data-race)"
	lh_run tsan-locked "$TMP/tsan" locked
	expect_eq "libtsan: locks still work through TSan" "counter=400000" \
		"$(cat "$TMP/tsan-locked.out")"
	check "libtsan: TSan sees the mutex (no race)" \
		sh -c "! grep -q 'WARNING: ThreadSanitizer' '$TMP/tsan-locked.err'"
else
	echo "skip: gcc cannot link libtsan here"
fi

finish
