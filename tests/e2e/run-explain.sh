#!/bin/sh
# The offline CLI on logs of real runs: explain (symbolized: function and
# file:line for both sides of an inversion, JSON, SARIF with the schema's
# required fields), replay across two runs whose orders only conflict
# together (static locks, and heap locks of one class), graph (DOT, --svg),
# and suppressions in the CLI and in the runtime.
. "$top_srcdir/tests/e2e/lib.sh"

st() {
	rc=0
	"$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
	echo "$rc"
}

lh_run abba "$E2E/abba"
alog="$TMP/abba.log"

# ---- explain ----------------------------------------------------------------
expect_eq "explain: exit 1 on a finding" 1 "$(st "$LOCKHOUND" explain "$alog")"
cp "$TMP/out" "$TMP/explain.txt"
check "explain: the headline names both locks" \
	grep -q "^lockhound: lock-order-inversion: potential deadlock between lock_[ab] and lock_[ab]$" "$TMP/explain.txt"
# take_a_then_b takes lock_a at abba.c:17 and lock_b at :18; take_b_then_a
# takes lock_b at :27 and lock_a at :28 (see abba.c).
words=$(tr '\n' ' ' <"$TMP/explain.txt" | tr -s ' ')
for w in "took lock_a at abba.c:28 in take_b_then_a" "while holding lock_b (taken at abba.c:27)" \
	"took lock_b at abba.c:18 in take_a_then_b" "while holding lock_a (taken at abba.c:17)" \
	"each waits for the other forever" "What to change: take these locks in one order"; do
	case "$words" in
	*"$w"*) pass "explain says: $w" ;;
	*) fail "explain does not say: $w" ;;
	esac
done
for s in "take_a_then_b at .*/abba.c:17 " "take_a_then_b at .*/abba.c:18 " \
	"take_b_then_a at .*/abba.c:27 " "take_b_then_a at .*/abba.c:28 " "first at .*/abba.c:" \
	"second at .*/abba.c:" "start_thread"; do
	check "explain: a stack frame '$s'" grep -q "#[0-9] *$s" "$TMP/explain.txt"
done
check "explain: both stacks of both edges" [ "$(grep -c "taken at:$" "$TMP/explain.txt")" -eq 2 ]
check "explain: a summary line" grep -q "^1 finding.$" "$TMP/explain.txt"

expect_eq "explain --format=json" 1 "$(st "$LOCKHOUND" explain --format=json "$alog")"
expect_eq "explain json: one finding, its locks, four stacks" "1 ['lock_a', 'lock_b'] 4 True" \
	"$("$PYTHON3" -c 'import json,sys; d=json.load(open(sys.argv[1])); f=d["findings"][0]; print(len(d["findings"]), sorted(f["locks"]), len(f["stacks"]), any(fr.get("function")=="take_a_then_b" and fr.get("line")==18 for s in f["stacks"] for fr in s["frames"]))' "$TMP/out")"

expect_eq "explain --format=sarif" 1 "$(st "$LOCKHOUND" explain --format=sarif --source-root="$top_srcdir" "$alog")"
check "sarif: the schema's required fields" "$PYTHON3" "$top_srcdir/tests/e2e/sarif-check.py" "$TMP/out" 1
expect_eq "sarif: the result is on abba.c:28, relative to SRCROOT" "tests/e2e/abba.c 28 SRCROOT" \
	"$("$PYTHON3" -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"][0]["results"][0]["locations"][0]["physicalLocation"]; print(r["artifactLocation"]["uri"], r["region"]["startLine"], r["artifactLocation"].get("uriBaseId"))' "$TMP/out")"

expect_eq "explain --no-symbolize still explains" 1 "$(st "$LOCKHOUND" explain --no-symbolize "$alog")"
check "explain --no-symbolize: names from the log" grep -q "between lock_[ab] and lock_[ab]" "$TMP/out"

# Other kinds, in records made from the real ones of this log: a misuse
# (its own words), a data-race (a write under a read lock), a kind this
# lockhound does not know (a note), and a thread dump (no handler of its
# own: the generic one tells its message and every stack in it).
"$PYTHON3" - "$alog" >"$TMP/kinds.log" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
stacks = {r["id"]: r["frames"] for r in recs if r["kind"] == "stack"}
lock_a = [r for r in recs if r["kind"] == "lock" and r["name"] == "lock_a"][0]
order = [r for r in recs if r["kind"] == "lock-order" and r["from"] == lock_a["id"]][0]
pid, tid = recs[0]["pid"], order["tid"]
for line in open(sys.argv[1]):
    sys.stdout.write(line)
print(json.dumps({"kind": "misuse", "pid": pid, "tid": tid, "time": 1.5, "what": "relock",
                  "message": "a non-recursive mutex taken again by its holder",
                  "thread": {"tid": tid, "name": "abba"}, "addr": lock_a["addr"],
                  "lock": lock_a["id"], "stack": stacks[order["stack_id"]],
                  "held_stack": stacks[order["held_stack_id"]]}))
held = [{"lock": lock_a["id"], "addr": lock_a["addr"], "mode": "read"}]
side = {"addr": "0x5000", "size": 4, "atomic": False, "held": held}
print(json.dumps({"kind": "data-race", "pid": pid, "tid": tid, "time": 1.6, "how": "concurrent",
                  "addr": "0x5000", "size": 4,
                  "accesses": [dict(side, thread={"tid": tid, "name": "abba"}, write=True,
                                    watched=True, stack=stacks[order["stack_id"]]),
                               dict(side, thread={"tid": tid + 1, "name": "reader"}, write=False,
                                    watched=False, stack=stacks[order["held_stack_id"]])]}))
print(json.dumps({"kind": "from-the-future", "pid": pid, "time": 1.7}))
print(json.dumps({"kind": "thread-dump", "pid": pid, "time": 1.8, "message": "2 threads seen",
                  "threads": [{"tid": tid, "stack": stacks[order["stack_id"]]}]}))
PY
expect_eq "explain: three kinds" 1 "$(st "$LOCKHOUND" explain "$TMP/kinds.log")"
check "misuse: its headline" grep -q "^lockhound: misuse: relock: a non-recursive mutex taken again by its holder$" "$TMP/out"
words=$(tr '\n' ' ' <"$TMP/out" | tr -s ' ')
case "$words" in
*"took lock_a again at abba.c:18 in take_a_then_b"*"while already holding it (taken at abba.c:17)"*) pass "misuse: told with both sites" ;;
*) fail "misuse: not told with both sites" ;;
esac
check "data-race: its headline" grep -q "^lockhound: data-race: a write and a read of the memory at 0x5000 at the same moment$" "$TMP/out"
words=$(tr '\n' ' ' <"$TMP/out" | tr -s ' ')
case "$words" in
*'Thread '*' "abba" wrote the memory at 0x5000 at abba.c:18 in take_a_then_b '*', holding lock_a for reading, while thread '*' "reader" read it at abba.c:17 in take_a_then_b '*', holding lock_a for reading.'*) pass "data-race: both sides, where and holding what" ;;
*) fail "data-race: both sides not told" ;;
esac
case "$words" in
*"Both held lock_a, but only for reading"*"What to change: take lock_a for writing (pthread_rwlock_wrlock)"*) pass "data-race: why the read lock did not help" ;;
*) fail "data-race: the shared read lock not told" ;;
esac
check "data-race: the writer's stack, symbolized" grep -q "^  thread [0-9]* \"abba\" wrote the memory at 0x5000 (4 bytes), holding lock_a for reading, at:$" "$TMP/out"
check "three findings" grep -q "^3 findings.$" "$TMP/out"
expect_eq "explain --all: the dump too" 1 "$(st "$LOCKHOUND" explain --all "$TMP/kinds.log")"
check "generic kind: its message" grep -q "^lockhound: thread-dump: 2 threads seen$" "$TMP/out"
check "generic kind: its stack, symbolized" grep -q "^  threads\[0\].stack:$" "$TMP/out"
check "an unknown kind is a note" grep -q "note: records of kind \"from-the-future\" are unknown to this lockhound and skipped" "$TMP/err"
expect_eq "sarif of three kinds" 1 "$(st "$LOCKHOUND" explain --format=sarif "$TMP/kinds.log")"
check "sarif of three kinds: required fields" "$PYTHON3" "$top_srcdir/tests/e2e/sarif-check.py" "$TMP/out" 3
expect_eq "sarif: one rule per kind, misuse by what" "data-race lock-order-inversion misuse/relock" \
	"$("$PYTHON3" -c 'import json,sys; print(" ".join(sorted(r["id"] for r in json.load(open(sys.argv[1]))["runs"][0]["tool"]["driver"]["rules"])))' "$TMP/out")"

# A clean run: nothing found, exit 0.
lh_run consistent "$E2E/consistent"
expect_eq "explain: a clean log exits 0" 0 "$(st "$LOCKHOUND" explain "$TMP/consistent.log")"
check "explain: says there is nothing" grep -q "^No findings.$" "$TMP/out"

# A static lock inside a struct is named by its member, from DWARF.
"$E2E/../../examples/bank" >/dev/null 2>&1 || :
lh_run bank "$top_builddir/examples/bank"
expect_eq "explain bank" 1 "$(st "$LOCKHOUND" explain "$TMP/bank.log")"
check "explain: a member lock is named bob.lock" grep -q "between [a-z]*\.lock and [a-z]*\.lock" "$TMP/out"

# A build-id mismatch is said, not mis-symbolized.
sed "s/\"build_id\":\"[0-9a-f]*\"/\"build_id\":\"00112233445566778899aabbccddeeff00112233\"/" "$alog" >"$TMP/mismatch.log"
expect_eq "explain: build-id mismatch still explains" 1 "$(st "$LOCKHOUND" explain "$TMP/mismatch.log")"
check "explain: the mismatch is said" grep -q "note: .*abba: the file is another build" "$TMP/err"
check "explain: no function is named from the wrong build" sh -c "! grep -q take_a_then_b '$TMP/out'"

# ---- replay across runs --------------------------------------------------------
lh_run ab "$E2E/order2" ab
cp "$TMP/ab.log" "$TMP/run1.log"
lh_run ba "$E2E/order2" ba
cp "$TMP/ba.log" "$TMP/run2.log"
expect_eq "order2 ab alone: explain finds nothing" 0 "$(st "$LOCKHOUND" explain "$TMP/run1.log")"
expect_eq "order2 ba alone: replay finds nothing" 0 "$(st "$LOCKHOUND" replay "$TMP/run2.log")"
expect_eq "replay of both runs: a cycle" 1 "$(st "$LOCKHOUND" replay "$TMP/run1.log" "$TMP/run2.log")"
check "replay: one cycle, across runs" grep -q "^lockhound: lock-order-inversion: potential deadlock between lock_[ab] and lock_[ab], across runs$" "$TMP/out"
check "replay: names both runs" grep -q "No single run took all these orders" "$TMP/out"
words=$(tr '\n' ' ' <"$TMP/out" | tr -s ' ')
for w in "take (called from a_then_b at order2.c:" "take (called from b_then_a at order2.c:" "run1.log" "run2.log"; do
	case "$words" in
	*"$w"*) pass "replay says: $w" ;;
	*) fail "replay does not say: $w" ;;
	esac
done
expect_eq "replay: one finding" "1 finding." "$(tail -n 1 "$TMP/out")"
cat "$TMP/run1.log" "$TMP/run2.log" >"$TMP/both.log"
expect_eq "replay: two processes in one file" 1 "$(st "$LOCKHOUND" replay "$TMP/both.log")"
expect_eq "replay --format=sarif" 1 "$(st "$LOCKHOUND" replay --format=sarif "$TMP/run1.log" "$TMP/run2.log")"
check "replay sarif: required fields" "$PYTHON3" "$top_srcdir/tests/e2e/sarif-check.py" "$TMP/out" 1
expect_eq "replay of the same run twice: no cycle" 0 "$(st "$LOCKHOUND" replay "$TMP/run1.log" "$TMP/run1.log")"

lh_run c12 "$E2E/classes" 12
lh_run c21 "$E2E/classes" 21
expect_eq "classes 12 alone: no cycle" 0 "$(st "$LOCKHOUND" replay "$TMP/c12.log")"
expect_eq "heap locks of one class across runs: a cycle" 1 "$(st "$LOCKHOUND" replay "$TMP/c12.log" "$TMP/c21.log")"
check "replay: class locks named by rank and init site" grep -q "mutex #1 made at classes.c:[0-9]* in account_new" "$TMP/out"

# Gate locks excuse a cycle in replay as at run time.
lh_run gate "$E2E/gate"
expect_eq "replay: a gated cycle is silent" 0 "$(st "$LOCKHOUND" replay "$TMP/gate.log")"
# Replay agrees with the runtime on its own cases: a lock destroyed and
# made again at the same address is a new lock; a thousand locks of one
# class in one order are no cycle; the philosophers' ring is.
lh_run reinit "$E2E/reinit"
expect_eq "replay: a re-made lock is another lock" 0 "$(st "$LOCKHOUND" replay "$TMP/reinit.log")"
lh_run reinit-same "$E2E/reinit" same
expect_eq "replay: the same lock kept: a cycle" 1 "$(st "$LOCKHOUND" replay "$TMP/reinit-same.log")"
lh_run consistent2 "$E2E/consistent"
expect_eq "replay: one class, one order, two runs: no cycle" 0 \
	"$(st "$LOCKHOUND" replay "$TMP/consistent.log" "$TMP/consistent2.log")"
lh_run philosophers "$E2E/philosophers"
expect_eq "replay: the philosophers' ring" 1 "$(st "$LOCKHOUND" replay "$TMP/philosophers.log")"
lh_run cycle3 "$E2E/cycle3"
expect_eq "replay: a cycle of three" 1 "$(st "$LOCKHOUND" replay "$TMP/cycle3.log")"
check "replay: three locks in the cycle" grep -q "3 locks in a cycle" "$TMP/out"

# ---- graph ---------------------------------------------------------------------
expect_eq "graph: exit 1 with a cycle" 1 "$(st "$LOCKHOUND" graph "$TMP/run1.log" "$TMP/run2.log")"
cp "$TMP/out" "$TMP/graph.dot"
check "graph: DOT" grep -q "^digraph lockorder {$" "$TMP/graph.dot"
check "graph: both locks named" sh -c "grep -q 'label=\"lock_a\"' '$TMP/graph.dot' && grep -q 'label=\"lock_b\"' '$TMP/graph.dot'"
expect_eq "graph: two orders, both red" 2 "$(grep -c -- '-> L.*color=red' "$TMP/graph.dot")"
expect_eq "graph of a clean run: exit 0, nothing red" "0 0" \
	"$(st "$LOCKHOUND" graph "$TMP/run1.log") $(grep -c 'color=red' "$TMP/out")"
# Locks in no order (contention's hot_lock and busy_lock) get no box; the
# label counts them.
lh_run lone "$E2E/contention"
expect_eq "graph with locks in no order: exit 0" 0 "$(st "$LOCKHOUND" graph "$TMP/run1.log" "$TMP/lone.log")"
expect_eq "graph: only the ordered locks are nodes" 2 "$(grep -c '^	L[0-9]* \[label=' "$TMP/out")"
check "graph: the others are counted in the label" grep -q '(2 locks in no order left out)' "$TMP/out"
# build.sh installs Graphviz; without it this fails rather than skips.
check "graph --svg: Graphviz's dot is installed" command -v dot
expect_eq "graph --svg" 1 "$(st "$LOCKHOUND" graph --svg "$TMP/run1.log" "$TMP/run2.log")"
check "graph --svg: an SVG with both locks" sh -c "grep -q '<svg' '$TMP/out' && grep -q '>lock_a</text>' '$TMP/out' && grep -q '>lock_b</text>' '$TMP/out'"
expect_eq "graph --svg without dot: error" 2 "$(PATH=/nonexistent st "$LOCKHOUND" graph --svg "$alog")"
check "graph --svg without dot: says so" grep -q "^lockhound: graph: --svg needs Graphviz's dot" "$TMP/err"

# ---- suppressions ----------------------------------------------------------------
expect_eq "explain --suppressions-out" 1 "$(st "$LOCKHOUND" explain --suppressions-out="$TMP/supp" "$alog")"
check "--suppressions-out: a rule naming both locks" grep -q "^kind:lock-order-inversion lock:lock_[ab] lock:lock_[ab]$" "$TMP/supp"
expect_eq "explain --suppressions: all hidden, exit 0" 0 "$(st "$LOCKHOUND" explain --suppressions="$TMP/supp" "$alog")"
check "explain --suppressions: counted" grep -q "^No findings (1 suppressed).$" "$TMP/out"
printf 'function:take_?_then_*\n' >"$TMP/supp-fn"
expect_eq "a function rule hides it" 0 "$(st "$LOCKHOUND" explain --suppressions="$TMP/supp-fn" "$alog")"
printf 'file:abba.c kind:misuse\n' >"$TMP/supp-other"
expect_eq "a rule of another kind does not" 1 "$(st "$LOCKHOUND" explain --suppressions="$TMP/supp-other" "$alog")"
printf 'file:abba.c\n' >"$TMP/supp-file"
expect_eq "a file rule hides it" 0 "$(st "$LOCKHOUND" explain --suppressions="$TMP/supp-file" "$alog")"
expect_eq "replay honours suppressions" 0 "$(st "$LOCKHOUND" replay --suppressions="$TMP/supp" "$TMP/run1.log" "$TMP/run2.log")"
printf 'lock:a b:c\n' >"$TMP/supp-bad"
expect_eq "a bad rules file: input error" 2 "$(st "$LOCKHOUND" explain --suppressions="$TMP/supp-bad" "$alog")"
check "a bad rules file: FILE:LINE: why" grep -q "^lockhound: .*supp-bad:1: unknown condition type" "$TMP/err"

# In the runtime: the same file hides the finding before it is written.
LH_EXTRA_OPTIONS="suppressions=$TMP/supp" lh_run abba-supp "$E2E/abba"
expect_eq "runtime suppressions: no headline" 0 "$(headlines "$TMP/abba-supp.err" lock-order-inversion)"
expect_eq "runtime suppressions: no record" 0 "$(q "$TMP/abba-supp.log" 'len(kind("lock-order-inversion"))')"
expect_eq "runtime suppressions: the orders are still logged" 2 "$(q "$TMP/abba-supp.log" 'len(kind("lock-order"))')"
LH_EXTRA_OPTIONS="suppressions=$TMP/supp-fn" lh_run abba-suppfn "$E2E/abba"
expect_eq "runtime suppressions by function" 0 "$(headlines "$TMP/abba-suppfn.err" lock-order-inversion)"
LH_EXTRA_OPTIONS="suppressions=$TMP/supp-file" lh_run abba-suppfile "$E2E/abba"
expect_eq "runtime: a file rule cannot match in-process" 1 "$(headlines "$TMP/abba-suppfile.err" lock-order-inversion)"
LH_EXTRA_OPTIONS="suppressions=$TMP/supp-bad" lh_run abba-suppbad "$E2E/abba"
check "runtime: a bad rules file is said, with its line" grep -q "^lockhound: warning: suppressions: .*supp-bad:1: " "$TMP/abba-suppbad.err"
expect_eq "runtime: a bad rules file hides nothing" 1 "$(headlines "$TMP/abba-suppbad.err" lock-order-inversion)"

finish
