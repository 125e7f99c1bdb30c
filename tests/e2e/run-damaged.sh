#!/bin/sh
# Damaged input to every offline subcommand (explain, replay, graph, stats): each answer is exit 0, 1 or 2
# within seconds, never a crash or a hang; the named cases get their one
# line "lockhound: FILE:LINE: why" and exit 2; a log cut short yields the
# records before the cut. Also replays the fuzzers' corpus and regression
# inputs (fuzz/) through the normal CLI.
. "$top_srcdir/tests/e2e/lib.sh"

# run CMD...: the exit status, 124 on a timeout; output in $TMP/out, err.
run() {
	rc=0
	timeout 30 "$@" >"$TMP/out" 2>"$TMP/err" </dev/null || rc=$?
	echo "$rc"
}

# answers DESC STATUS: 0, 1 or 2 only.
answers() {
	case $2 in
	0 | 1 | 2) pass "$1: exit $2" ;;
	*) fail "$1: exit $2 (crash or hang); $(head -c 300 "$TMP/err")" ;;
	esac
}

# refused DESC FILE PATTERN: exit 2 with one line matching PATTERN.
refused() {
	expect_eq "$1: exit 2" 2 "$(run "$LOCKHOUND" explain "$2")"
	check "$1: one line, '$3'" sh -c "[ \$(wc -l <'$TMP/err') -eq 1 ] && grep -q -- '$3' '$TMP/err'"
	for cmd in replay graph stats; do
		expect_eq "$1: $cmd exits 2" 2 "$(run "$LOCKHOUND" $cmd "$2")"
	done
}

lh_run abba "$E2E/abba"
good="$TMP/abba.log"
D="$TMP/d"
mkdir -p "$D"

# ---- named cases ------------------------------------------------------------
: >"$D/empty.log"
refused "empty file" "$D/empty.log" "^lockhound: $D/empty.log: empty file, not a lockhound log$"
refused "directory" "$D" "^lockhound: $D: is a directory, not a log file$"
refused "missing file" "$D/missing.log" "^lockhound: $D/missing.log: No such file or directory$"
refused "foreign text file" "$top_srcdir/README" "README:1: not a lockhound log"
refused "foreign binary" "$E2E/abba" "abba:1: not a lockhound log"
sed '1s/"lockhound":1/"lockhound":2/' "$good" >"$D/future.log"
refused "future version" "$D/future.log" "future.log:1: format version 2 is newer than this lockhound reads"
sed '2s/"id":1/"id":1e400/' "$good" >"$D/huge.log"
refused "huge number" "$D/huge.log" "huge.log:2: not JSON: number out of range"
sed '2s/"id":1/"id":99999999999999999999/' "$good" >"$D/big.log"
refused "number past 64 bits" "$D/big.log" "big.log:2: \"id\" is not a non-negative integer"
{ head -n 1 "$good"; "$PYTHON3" -c 'print("[" * 100000 + "]" * 100000)'; } >"$D/deep.log"
refused "deep nesting" "$D/deep.log" "deep.log:2: not JSON: nested deeper than 64 levels"
{ head -n 1 "$good"; "$PYTHON3" -c 'import sys; sys.stdout.write("{\"kind\":\"x\",\"s\":\"" + "a" * (17 << 20) + "\"}\n")'; } >"$D/long.log"
refused "a line over 16 MiB" "$D/long.log" "long.log:2: a line longer than"
{ head -n 1 "$good"; printf '{"kind":"lock","id":1}\n{"kind":"stack","id":1,"frames":"no"}\n'; } >"$D/type.log"
refused "a field of the wrong type" "$D/type.log" "type.log:3: a stack is not an array of frames"
printf 'x\0y\n' >"$D/nul.log"
refused "NUL bytes" "$D/nul.log" "nul.log:1: not a lockhound log"
mkfifo "$D/fifo.log"
refused "a FIFO (never waits for a writer)" "$D/fifo.log" "fifo.log: not a regular file"
expect_eq "several logs, one bad: exit 2" 2 "$(run "$LOCKHOUND" explain "$good" "$D/empty.log")"
check "several logs, one bad: no findings printed" [ ! -s "$TMP/out" ]

# ---- a log cut short ----------------------------------------------------------
n=$(wc -l <"$good")
size=$(wc -c <"$good")
head -c $((size - 40)) "$good" >"$D/cut.log"
# The last records are the exit's contention statistics: the inversion
# before the cut is whole, and found.
expect_eq "cut in its last record: explain reads what is whole" 1 "$(run "$LOCKHOUND" explain "$D/cut.log")"
check "cut: says so, with the line" grep -q "^lockhound: $D/cut.log:$n: warning: the log is cut short in this record; the $((n - 1)) whole records before it are read$" "$TMP/err"
expect_eq "cut: replay still finds the cycle in the orders before the cut" 1 "$(run "$LOCKHOUND" replay "$D/cut.log")"
head -c 30 "$good" >"$D/cuthdr.log"
refused "cut in its header" "$D/cuthdr.log" "cuthdr.log:1: cut short in its header"

# Cut at many places: every answer is 0, 1 or 2.
step=$((size / 40 + 1))
off=1
bad=0
while [ "$off" -lt "$size" ]; do
	head -c "$off" "$good" >"$D/c.log"
	for cmd in explain replay graph stats; do
		rc=$(run "$LOCKHOUND" $cmd --no-symbolize "$D/c.log")
		case $rc in 0 | 1 | 2) ;; *) bad=$((bad + 1)); fail "cut at $off: $cmd exit $rc" ;; esac
	done
	off=$((off + step))
done
expect_eq "cut at 40 places: every answer 0, 1 or 2" 0 "$bad"

# ---- hundreds of damaged logs -------------------------------------------------
"$PYTHON3" "$top_srcdir/tests/e2e/damage.py" "$good" "$D/many" 240
bad=0
for f in "$D"/many/*.log; do
	for cmd in explain replay graph stats; do
		# Symbolize one in four: the reader and the handlers are what is tested.
		case $f in *[0-9][0-9]0.log | *[0-9][0-9]4.log) sym= ;; *) sym=--no-symbolize ;; esac
		rc=$(run "$LOCKHOUND" $cmd $sym "$f")
		case $rc in
		0 | 1) ;;
		2) [ "$(wc -l <"$TMP/err")" -ge 1 ] || { bad=$((bad + 1)); fail "$f: $cmd: exit 2 without a word"; } ;;
		*) bad=$((bad + 1)); fail "$f: $cmd: exit $rc: $(head -c 300 "$TMP/err")" ;;
		esac
	done
done
expect_eq "240 damaged logs x 4 commands: every answer 0, 1 or 2" 0 "$bad"
expect_eq "explain --format=sarif of a damaged log" "$(run "$LOCKHOUND" explain --no-symbolize "$D/many/damaged-001.log")" \
	"$(run "$LOCKHOUND" explain --no-symbolize --format=sarif "$D/many/damaged-001.log")"

# ---- the fuzzers' corpus and the inputs they found -------------------------------
nf=0
for f in "$top_srcdir"/fuzz/corpus/log/* "$top_srcdir"/fuzz/regressions/log/*; do
	[ -f "$f" ] || continue
	for cmd in explain replay graph stats; do
		answers "fuzz input $(basename "$f"): $cmd" "$(run "$LOCKHOUND" $cmd --no-symbolize "$f")"
	done
	nf=$((nf + 1))
done
check "the fuzz corpus is there" [ "$nf" -ge 5 ]
for f in "$top_srcdir"/fuzz/corpus/suppress/* "$top_srcdir"/fuzz/regressions/suppress/*; do
	[ -f "$f" ] || continue
	answers "suppressions $(basename "$f")" "$(run "$LOCKHOUND" explain --no-symbolize --suppressions="$f" "$good")"
done

finish
