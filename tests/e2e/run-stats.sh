#!/bin/sh
# lockhound stats on logs of real runs: tests/e2e/contention (hot_lock
# fought over by four threads ranks first by wait, busy_lock taken 200,000
# times by one thread first by acquisitions), call sites symbolized to
# fight() and churn() with file:line, --top, --sort (hold needs stats=hold),
# text, JSON and CSV; several logs and several processes in one file add
# up; heap locks of one init call roll up into a class, destroyed ones
# included (tests/e2e/churn), per-object rwlocks too, read by several
# threads at once and churned, with every acquisition counted
# (tests/e2e/rwchurn); explain leaves the profile out of findings;
# bad input and options exit 2 with one line.
. "$top_srcdir/tests/e2e/lib.sh"

st() {
	rc=0
	"$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
	echo "$rc"
}

# line_of FILE FUNCTION TEXT: the first line of FILE after the line that
# starts FUNCTION's definition that contains TEXT.
line_of() {
	awk -v fn="$2(" -v text="$3" 'index($0, fn) == 1 { f = 1 } f && index($0, text) { print NR; exit }' \
		"$top_srcdir/tests/e2e/$1"
}

# js FILE EXPR: a Python expression over the JSON document d in FILE.
js() {
	"$PYTHON3" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# csvq FILE EXPR: a Python expression over the CSV rows (dicts) of FILE.
csvq() {
	"$PYTHON3" -c 'import csv, sys; rows = list(csv.DictReader(open(sys.argv[1], newline=""))); print(eval(sys.argv[2]))' "$1" "$2"
}

wait_line=$(line_of contention.c fight "pthread_mutex_lock(&hot_lock)")
release_line=$(line_of contention.c fight "pthread_mutex_unlock(&hot_lock)")
churn_line=$(line_of contention.c churn "pthread_mutex_lock(&busy_lock)")
check "the source lines are found" [ -n "$wait_line" ] && [ -n "$release_line" ] && [ -n "$churn_line" ]

lh_run on "$E2E/contention"
LH_EXTRA_OPTIONS=stats=hold lh_run hold "$E2E/contention"
on="$TMP/on.log"
hold="$TMP/hold.log"

# ---- the table ------------------------------------------------------------------
expect_eq "stats: exit 0 (a profile, not a finding)" 0 "$(st "$LOCKHOUND" stats "$on")"
cp "$TMP/out" "$TMP/table.txt"
check "stats: the headline" grep -q "^Lock contention of pid [0-9]* (.*contention), worst first by total wait.$" "$TMP/table.txt"
# Rows: "  RANK ACQUIRED CONTENDED ... NAME".
expect_eq "stats: hot_lock first by wait, busy_lock second" "1 hot_lock
2 busy_lock" "$(awk '/^Locks:/ { t = 1; next } t && /^ *[0-9]+ +[0-9]+ +[0-9]+ / { print $1, $NF } /^$/ { t = 0 }' "$TMP/table.txt")"
check "stats: hot_lock's 400 acquisitions" grep -q "^ *1 *400 " "$TMP/table.txt"
check "stats: the waiters' site, symbolized" grep -q "^ *[0-9]* waits* ([0-9.]* [mu]*s) at contention.c:$wait_line in fight$" "$TMP/table.txt"
check "stats: the holders' site, symbolized" grep -q "^ *[0-9]* waits* ([0-9.]* [mu]*s) ended by releases at contention.c:$release_line in fight$" "$TMP/table.txt"
check "stats: busy_lock's acquire site, symbolized" grep -q "^ *200000 acquisitions at contention.c:$churn_line in churn$" "$TMP/table.txt"
check "stats: says it has no hold times" grep -q "no hold times (measured with stats=hold)" "$TMP/table.txt"
check "stats: no class rows for static locks" grep -q "^2 locks, 0 classes" "$TMP/table.txt"

expect_eq "stats --sort=acquisitions" 0 "$(st "$LOCKHOUND" stats --sort=acquisitions "$on")"
expect_eq "stats --sort=acquisitions: busy_lock first" "1 busy_lock" \
	"$(awk '/^ *1 +[0-9]+ +[0-9]+ / { print $1, $NF }' "$TMP/out")"
check "stats --sort=acquisitions: the headline says so" grep -q "worst first by acquisitions.$" "$TMP/out"
expect_eq "stats --sort contended (two words)" 0 "$(st "$LOCKHOUND" stats --sort contended "$on")"
expect_eq "stats --sort=contended: hot_lock first" "1 hot_lock" \
	"$(awk '/^ *1 +[0-9]+ +[0-9]+ / { print $1, $NF }' "$TMP/out")"

expect_eq "stats --top 1" 0 "$(st "$LOCKHOUND" stats --top 1 "$on")"
expect_eq "stats --top 1: one row, hot_lock" "1 hot_lock" \
	"$(awk '/^ *[0-9]+ +[0-9]+ +[0-9]+ / { print $1, $NF }' "$TMP/out")"
check "stats --top 1: says one more is not shown" grep -q "^  (1 more, not shown: --top 1)$" "$TMP/out"

# ---- JSON and CSV -----------------------------------------------------------------
expect_eq "stats --format=json" 0 "$(st "$LOCKHOUND" stats --format=json "$on")"
cp "$TMP/out" "$TMP/stats.json"
expect_eq "json: locks worst first" "['hot_lock', 'busy_lock']" "$(js "$TMP/stats.json" '[r["name"] for r in d["locks"]]')"
expect_eq "json: the counts" "400 200000 0" \
	"$(js "$TMP/stats.json" '" ".join(str(x) for x in (d["locks"][0]["acquisitions"], d["locks"][1]["acquisitions"], d["locks"][1]["contended"]))')"
expect_eq "json: hot_lock waited, mean and max consistent" True \
	"$(js "$TMP/stats.json" '(lambda r: r["contended"] > 0 and 0 < r["wait_mean_ns"] <= r["wait_max_ns"] <= r["wait_ns"])(d["locks"][0])')"
expect_eq "json: the top waiter is fight() at contention.c:$wait_line" "fight contention.c $wait_line" \
	"$(js "$TMP/stats.json" '(lambda s: "%s %s %d" % (s["function"], s["file"].split("/")[-1], s["line"]))(d["locks"][0]["wait_sites"][0])')"
expect_eq "json: the top holder is fight() at contention.c:$release_line" "fight contention.c $release_line" \
	"$(js "$TMP/stats.json" '(lambda s: "%s %s %d" % (s["function"], s["file"].split("/")[-1], s["line"]))(d["locks"][0]["holder_sites"][0])')"
expect_eq "json: busy_lock is taken in churn() at contention.c:$churn_line" "churn contention.c $churn_line 200000" \
	"$(js "$TMP/stats.json" '(lambda s: "%s %s %d %d" % (s["function"], s["file"].split("/")[-1], s["line"], s["acquisitions"]))(d["locks"][1]["acquire_sites"][0])')"
expect_eq "json: one process, no hold times, no classes" "1 False 0" \
	"$(js "$TMP/stats.json" '"%d %s %d" % (len(d["processes"]), d["hold_times"], len(d["classes"]))')"
expect_eq "stats --format=json --top=1 --sort=acquisitions" 0 \
	"$(st "$LOCKHOUND" stats --format=json --top=1 --sort=acquisitions "$on")"
expect_eq "json --top=1: busy_lock only" "['busy_lock']" "$(js "$TMP/out" '[r["name"] for r in d["locks"]]')"

expect_eq "stats --format=csv" 0 "$(st "$LOCKHOUND" stats --format=csv "$on")"
cp "$TMP/out" "$TMP/stats.csv"
expect_eq "csv: one row per lock, worst first" "lock 1 hot_lock 400|lock 2 busy_lock 200000" \
	"$(csvq "$TMP/stats.csv" '"|".join("%s %s %s %s" % (r["scope"], r["rank"], r["name"], r["acquisitions"]) for r in rows)')"
expect_eq "csv: the top sites" "contention.c:$wait_line in fight|contention.c:$release_line in fight|contention.c:$churn_line in churn" \
	"$(csvq "$TMP/stats.csv" '"|".join((rows[0]["top_wait_site"], rows[0]["top_holder_site"], rows[1]["top_acquire_site"]))')"
expect_eq "csv: no hold times, empty fields" "''" "$(csvq "$TMP/stats.csv" 'repr(rows[0]["hold_ns"])')"

# ---- hold times ----------------------------------------------------------------------
expect_eq "stats --sort=hold without hold times: exit 2" 2 "$(st "$LOCKHOUND" stats --sort=hold "$on")"
expect_eq "stats --sort=hold without hold times: says so" \
	"lockhound: stats: --sort=hold: the logs have no hold times (the runtime measures them with stats=hold)" \
	"$(cat "$TMP/err")"
expect_eq "stats --sort=hold of a stats=hold log" 0 "$(st "$LOCKHOUND" stats --sort=hold --format=json "$hold")"
expect_eq "stats=hold: sorted by total hold time, worst first" True \
	"$(js "$TMP/out" 'd["sort"] == "hold" and d["hold_times"] and [r["hold_ns"] for r in d["locks"]] == sorted((r["hold_ns"] for r in d["locks"]), reverse=True)')"
expect_eq "stats=hold: every hold of hot_lock counted, about 200 us each" True \
	"$(js "$TMP/out" '[(r["holds"], r["hold_mean_ns"] >= 150000) for r in d["locks"] if r["name"] == "hot_lock"] == [(400, True)]')"
expect_eq "stats --sort=hold (text)" 0 "$(st "$LOCKHOUND" stats --sort=hold "$hold")"
check "stats=hold: the hold columns" grep -q "total hold   mean hold    max hold" "$TMP/out"
check "stats=hold: the headline" grep -q "worst first by total hold time.$" "$TMP/out"

# ---- several logs, several processes in one file ------------------------------------
expect_eq "stats of two logs" 0 "$(st "$LOCKHOUND" stats --format=json "$on" "$hold")"
expect_eq "two logs: the same locks add up" "2 [('hot_lock', 800, 2), ('busy_lock', 400000, 2)]" \
	"$(js "$TMP/out" '"%d %s" % (len(d["processes"]), [(r["name"], r["acquisitions"], r["processes"]) for r in d["locks"]])')"
expect_eq "two logs: hold times of one of them only, said" True \
	"$(js "$TMP/out" 'all(r["hold_partial"] for r in d["locks"])')"
cat "$on" "$hold" >"$TMP/both.log"
expect_eq "two processes in one file" 0 "$(st "$LOCKHOUND" stats --format=json "$TMP/both.log")"
expect_eq "two processes in one file: the same" "2 [('hot_lock', 800, 2), ('busy_lock', 400000, 2)]" \
	"$(js "$TMP/out" '"%d %s" % (len(d["processes"]), [(r["name"], r["acquisitions"], r["processes"]) for r in d["locks"]])')"
expect_eq "two processes (text)" 0 "$(st "$LOCKHOUND" stats "$TMP/both.log")"
check "two processes: the headline" grep -q "^Lock contention of 2 processes in 1 log, " "$TMP/out"
check "two processes: a procs column" grep -q " sites  procs  lock$" "$TMP/out"
check "two processes: partial hold times marked" grep -q "^\* hold times of only the processes that ran with stats=hold.$" "$TMP/out"

# ---- classes: heap locks of one init call, destroyed ones included -----------------
lh_run churn "$E2E/churn"
expect_eq "churn: the program's result" "live total=8000" "$(cat "$TMP/churn.out")"
init_line=$(line_of churn.c obj_new "pthread_mutex_init")
expect_eq "stats of heap locks" 0 "$(st "$LOCKHOUND" stats --format=json "$TMP/churn.log")"
expect_eq "churn: four live locks, each its own row" "[2000, 2000, 2000, 2000]" \
	"$(js "$TMP/out" '[r["acquisitions"] for r in d["locks"]]')"
expect_eq "churn: one class of ten locks (six destroyed), every acquisition" \
	"mutexes made at churn.c:$init_line in obj_new 10 6 8600" \
	"$(js "$TMP/out" '" ".join(str(d["classes"][0][k]) for k in ("name", "locks", "destroyed", "acquisitions"))')"
expect_eq "stats of heap locks (text)" 0 "$(st "$LOCKHOUND" stats "$TMP/churn.log")"
check "churn: the classes table says what it is" grep -q "^Classes (every lock made by one init call, destroyed ones included):$" "$TMP/out"
check "churn: a class row" grep -q "^ *1 *10 *8600 .*  mutexes made at churn.c:$init_line in obj_new$" "$TMP/out"
check "churn: a lock row names its init call" grep -q "  mutex 0x[0-9a-f]* (made at churn.c:$init_line in obj_new)$" "$TMP/out"

# ---- per-object rwlocks: more than the slots, readers at once, churn -------------
# 512 live rwlocks read (and now and then written) by four threads in turn,
# so that most acquisitions count at the call site's place in the lock's
# node, several readers at a time; each thread also makes, takes and
# destroys 200 more. The class row has every acquisition.
lh_run rwchurn "$E2E/rwchurn"
expect_eq "rwchurn: the program's result" "writes=10240" "$(cat "$TMP/rwchurn.out")"
expect_eq "rwchurn: no finding" "" "$(grep "^lockhound: [a-z-]*:" "$TMP/rwchurn.err" | grep -v "^lockhound: contention:")"
rw_init_line=$(line_of rwchurn.c obj_new "pthread_rwlock_init")
expect_eq "stats of per-object rwlocks" 0 "$(st "$LOCKHOUND" stats --format=json "$TMP/rwchurn.log")"
expect_eq "rwchurn: one class of 1,312 rwlocks (800 destroyed), every acquisition" \
	"rwlocks made at rwchurn.c:$rw_init_line in obj_new 1312 800 48960" \
	"$(js "$TMP/out" '" ".join(str(d["classes"][0][k]) for k in ("name", "locks", "destroyed", "acquisitions"))')"
expect_eq "rwchurn: each live lock taken 80 times" "[80]" \
	"$(js "$TMP/out" 'sorted(set(r["acquisitions"] for r in d["locks"]))')"
expect_eq "churn csv: lock and class rows" "lock lock lock lock class" \
	"$(st "$LOCKHOUND" stats --format=csv "$TMP/churn.log" >/dev/null; csvq "$TMP/out" '" ".join(r["scope"] for r in rows)')"

# ---- two calls on one line: one line of the profile ---------------------------------------
lh_run sameline "$E2E/sameline"
expect_eq "sameline: the program's result" "count=20" "$(cat "$TMP/sameline.out")"
same_line=$(line_of sameline.c main "pthread_mutex_lock(&lock); count++;")
expect_eq "stats of two call sites on one line" 0 "$(st "$LOCKHOUND" stats "$TMP/sameline.log")"
check "sameline: one site in the table, as the line under it" grep -q "^ *1 *20 .* 1  lock$" "$TMP/out"
expect_eq "sameline: one line of every acquisition for both" \
	"          20 acquisitions at sameline.c:$same_line in main" \
	"$(grep "acquisitions* at " "$TMP/out")"

# ---- explain leaves the profile out ------------------------------------------------------
expect_eq "explain of a profile only: exit 0" 0 "$(st "$LOCKHOUND" explain "$on")"
check "explain: no findings" grep -q "^No findings.$" "$TMP/out"
expect_eq "explain --all: still exit 0" 0 "$(st "$LOCKHOUND" explain --all "$on")"
check "explain --all: the profile in words" grep -q "^lockhound: contention: hot_lock: taken 400 times, [0-9]* waited$" "$TMP/out"
words=$(tr '\n' ' ' <"$TMP/out" | tr -s ' ')
case "$words" in
*"Most of the waiting was at contention.c:$wait_line in fight"*) pass "explain --all: where they waited" ;;
*) fail "explain --all: where they waited" ;;
esac

# ---- no profile, bad input, bad options --------------------------------------------------
grep -v '"kind":"contention"' "$on" >"$TMP/off.log"
expect_eq "stats of a log without a profile: exit 0" 0 "$(st "$LOCKHOUND" stats "$TMP/off.log")"
check "stats of a log without a profile: says so" grep -q "^No contention records in the logs" "$TMP/out"
expect_eq "stats --no-symbolize" 0 "$(st "$LOCKHOUND" stats --no-symbolize "$on")"
check "stats --no-symbolize: raw sites" grep -q "^ *[0-9]* waits* ([0-9.]* [mu]*s) at 0x[0-9a-f]* (contention+0x[0-9a-f]*)$" "$TMP/out"
"$PYTHON3" - "$on" >"$TMP/bad.log" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["kind"] == "contention" and r.get("name") == "busy_lock":
        del r["acquisitions"]
        line = json.dumps(r) + "\n"
    sys.stdout.write(line)
PY
badline=$(grep -n '"busy_lock"' "$TMP/bad.log" | grep contention | cut -d: -f1)
expect_eq "a malformed contention record: exit 2" 2 "$(st "$LOCKHOUND" stats "$TMP/bad.log")"
expect_eq "a malformed contention record: FILE:LINE: why" \
	"lockhound: $TMP/bad.log:$badline: contention record without \"acquisitions\"" "$(cat "$TMP/err")"
check "a malformed contention record: nothing on stdout" [ ! -s "$TMP/out" ]
expect_eq "a missing log: exit 2" 2 "$(st "$LOCKHOUND" stats "$TMP/nope.log")"
check "a missing log: one line" [ "$(cat "$TMP/err")" = "lockhound: $TMP/nope.log: No such file or directory" ]
expect_eq "no log: exit 2" 2 "$(st "$LOCKHOUND" stats)"
expect_eq "an unknown option: exit 2" 2 "$(st "$LOCKHOUND" stats --frobnicate "$on")"
check "an unknown option: named" grep -q "^lockhound: stats: --frobnicate: unknown option" "$TMP/err"
expect_eq "--sort=time: exit 2" 2 "$(st "$LOCKHOUND" stats --sort=time "$on")"
expect_eq "--top=0: exit 2" 2 "$(st "$LOCKHOUND" stats --top=0 "$on")"
expect_eq "--top without a number: exit 2" 2 "$(st "$LOCKHOUND" stats --top)"
check "--top without a number: one line" [ "$(wc -l <"$TMP/err")" -eq 1 ]
expect_eq "--format=xml: exit 2" 2 "$(st "$LOCKHOUND" stats --format=xml "$on")"
expect_eq "stats --help" 0 "$(st "$LOCKHOUND" stats --help)"
check "stats --help names the sort keys" grep -q "wait|hold|contended|acquisitions" "$TMP/out"
expect_eq "lockhound --help lists stats" 0 "$(st "$LOCKHOUND" --help)"
check "lockhound --help lists stats" grep -q "^  stats " "$TMP/out"

finish
