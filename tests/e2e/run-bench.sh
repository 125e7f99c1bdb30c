#!/bin/sh
# The benchmark runs (no timing is checked: bench/run is a separate command,
# `make bench`): bench/run --quick builds the programs of bench/, runs every
# case plain, under lockhound and under TSan, the thread dump and the race
# workload, and prints well-formed tables with a number in every cell.
. "$top_srcdir/tests/e2e/lib.sh"

rc=0
"$PYTHON3" "$top_srcdir/bench/run" --quick --quiet --tools plain,lockhound,tsan \
	--skip callgrind --lib "$LH_LIB" --lockhound "$LOCKHOUND" --cc "$CC" \
	--out "$TMP/build" --json "$TMP/bench.json" >"$TMP/bench.out" 2>"$TMP/bench.err" || rc=$?
expect_eq "bench: exit 0" 0 "$rc"
expect_eq "bench: nothing on stderr" "" "$(cat "$TMP/bench.err")"
check "bench: names the machine" grep -q "^machine: .*cores.*glibc" "$TMP/bench.out"

# Every case has a number for plain and lockhound, and a ratio for lockhound.
for c in uncontended nested locks10k locks10k-hot locks-random contended rwlock-read threads64; do
	check "bench: $c row" grep -Eq "^  $c +[0-9.]+ +[0-9.]+ \([0-9.]+x\)" "$TMP/bench.out"
done
expect_eq "bench: a sample for every case and tool" "ok" "$("$PYTHON3" -c '
import json, sys
r = json.load(open(sys.argv[1]))
cases = {"uncontended", "nested", "locks10k", "locks10k-hot", "locks-random", "contended",
         "rwlock-read", "threads64"}
seen = {tuple(k.split("|")[:2]) for k, v in r["locks"].items() if v}
want = {(t, c) for c in cases for t in ("plain", "lockhound")}
if "tsan" not in r["why_not"]:
    want |= {("tsan", c) for c in cases}
bad = [kv for v in r["locks"].values() for kv in v or []
       if not (float(kv["cpu_ns"]) > 0 and float(kv["wall_ns"]) > 0 and int(kv["ops"]) > 0)]
print("ok" if want <= seen and not bad and not r["failures"] else (sorted(want - seen), bad, r["failures"]))
' "$TMP/bench.json")"
check "bench: memory per lock and per order" grep -Eq "^  lockhound +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+" "$TMP/bench.out"
check "bench: race workload" grep -Eq "^  plain +[0-9.]+ +- " "$TMP/bench.out"
if command -v eu-stack >/dev/null 2>&1; then
	check "bench: eu-stack saw every thread" grep -Eq "^  eu-stack -p +[0-9]+ +10[12] +yes" "$TMP/bench.out"
fi
check "bench: lockhound dump listed all 101 threads" \
	grep -Eq "^  lockhound dump +[0-9]+ +101 +yes" "$TMP/bench.out"
check "bench: lockhound dump --no-symbolize listed all 101 threads" \
	grep -Eq "^  lockhound dump --no-symbolize +[0-9]+ +101 +yes" "$TMP/bench.out"
check "bench: kill -USR1's record listed all 101 threads" \
	grep -Eq "^  lockhound: kill -USR1 \(log record\) +[0-9]+ +101 +yes" "$TMP/bench.out"

# The programs check their arguments.
rc=0
"$TMP/build/lhbench" nosuchcase >/dev/null 2>"$TMP/usage.err" || rc=$?
expect_eq "lhbench: unknown case exits 2" 2 "$rc"
check "lhbench: names the case" grep -q "nosuchcase: no such case" "$TMP/usage.err"
rc=0
"$TMP/build/lhbench" -n x uncontended >/dev/null 2>&1 || rc=$?
expect_eq "lhbench: bad -n exits 2" 2 "$rc"
rc=0
"$TMP/build/lhbench" -w 0 locks10k-hot >/dev/null 2>&1 || rc=$?
expect_eq "lhbench: bad -w exits 2" 2 "$rc"
check "lhbench: locks10k-hot names its working set" \
	sh -c '"$1" -n 2000 -l 100 -o 500 -w 16 locks10k-hot | grep -q " hot=16"' sh "$TMP/build/lhbench"
rc=0
"$TMP/build/lhbench" -k bogus locks-random >/dev/null 2>"$TMP/kind.err" || rc=$?
expect_eq "lhbench: bad -k exits 2" 2 "$rc"
check "lhbench: names the kind" grep -q -- "-k bogus: not mutex" "$TMP/kind.err"
# The other kinds of locks-random, under the runtime: each takes its locks.
for kind in recursive read write spin; do
	LD_PRELOAD="$LH_LIB" "$TMP/build/lhbench" -n 20000 -l 1000 -k "$kind" locks-random \
		>"$TMP/kind.out" 2>"$TMP/kind.err"
	check "lhbench: locks-random -k $kind" grep -q "ops=20000 .* locks=1000 kind=$kind" "$TMP/kind.out"
	expect_eq "lhbench: -k $kind: no finding" "" "$(cat "$TMP/kind.err")"
done

finish
