#!/bin/sh
# The runtime under load: each stress mode finishes with exact results and
# reports nothing (see stress.c); memory stays bounded over a million locks;
# fork+exec children get their own logs; dlopen'd constructors that lock do
# not hang; records written at once by many threads and processes into one
# file never interleave.
. "$top_srcdir/tests/e2e/lib.sh"
S="$top_builddir/tests/stress"

quiet_run() {
	name=$1
	shift
	lh_run "$name" "$S/stress" "$@"
	expect_eq "$name: exit 0" 0 "$rc"
	expect_eq "$name: nothing reported" "" "$(stderr_of "$name")"
}

quiet_run nested nested
expect_eq "nested: counters exact" "counters exact: yes" "$(cat "$TMP/nested.out")"

quiet_run churn churn
expect_eq "churn: every thread ran" "threads: 2000" "$(cat "$TMP/churn.out")"

quiet_run reuse reuse
expect_eq "reuse: done" "reuse ok" "$(cat "$TMP/reuse.out")"

quiet_run million million
growth=$(sed -n 's/^rss growth after warm-up: \(-*[0-9]*\) kB$/\1/p' "$TMP/million.out")
check "million: the resident set grew by less than 32 MiB (${growth:-?} kB)" [ "${growth:-999999}" -lt 32768 ]

quiet_run dlopen dlopen "$S/.libs/liblocker.so"
expect_eq "dlopen: done" "dlopen ok" "$(cat "$TMP/dlopen.out")"

# Threads that block every signal, dumped again and again.
lh_run masked "$S/stress" masked
expect_eq "masked: exit 0" 0 "$rc"
expect_eq "masked: counters exact" "counters exact: yes" "$(grep counters "$TMP/masked.out")"
# Each lock's last contention record (at exit) has every acquisition, once:
# the dumps showed the threads' counts without taking them.
expect_eq "masked: contention records count every acquisition once" \
	"$(sed -n 's/^acquisitions: //p' "$TMP/masked.out")" \
	"$(q "$TMP/masked.log" 'sum({r["lock"]: r["acquisitions"] for r in kind("contention") if r["scope"] == "lock"}.values())')"
check "masked: dumps were made" [ "$(q "$TMP/masked.log" 'len(kind("thread-dump"))')" -ge 1 ]
expect_eq "masked: no finding" "[]" \
	"$(q "$TMP/masked.log" '[r["kind"] for r in recs if r["kind"] in ("deadlock", "lock-order-inversion", "misuse", "acquire-timeout")]')"
check "masked: a dump says a thread blocks the signal" \
	grep -q "stack unknown: the thread blocks SIGRTMIN+28" "$TMP/masked.err"

rm -f "$TMP"/forkexec.*.log
rc=0
LD_PRELOAD="$LH_LIB" LOCKHOUND_OPTIONS="log_path=$TMP/forkexec.%p.log" \
	timeout 120 "$S/stress" forkexec "$E2E/samethread" >"$TMP/forkexec.out" 2>"$TMP/forkexec.err" || rc=$?
expect_eq "forkexec: every child ran" "children failed: 0" "$(grep children "$TMP/forkexec.out")"
children=0
for f in "$TMP"/forkexec.*.log; do
	pid=$(basename "$f" .log)
	pid=${pid#forkexec.}
	[ "$(q "$f" 'recs[0]["pid"]')" = "$pid" ] || fail "forkexec: $f holds another process"
	if [ "$(q "$f" 'len(kind("lock-order-inversion"))')" = 1 ]; then
		children=$((children + 1))
	fi
done
expect_eq "forkexec: each exec'd child wrote its own log, with its finding" 20 "$children"

rc=0
LD_PRELOAD="$LH_LIB" LOCKHOUND_OPTIONS="log_path=$TMP/writers.log" \
	timeout 120 "$S/stress" writers >"$TMP/writers.out" 2>"$TMP/writers.err" || rc=$?
expect_eq "writers: done" "writers done" "$(cat "$TMP/writers.out")"
expect_eq "writers: four processes in one file" 4 "$(q "$TMP/writers.log" 'len(kind("header"))')"
expect_eq "writers: every record whole (12,800 orders)" 12800 \
	"$(q "$TMP/writers.log" 'len(kind("lock-order"))')"

finish
