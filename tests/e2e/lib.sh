# Shared helpers for the end-to-end tests (sourced by run-*.sh).
#
# Environment from the Makefile: LH_LIB (the runtime), LOCKHOUND (the CLI),
# top_builddir, top_srcdir, PYTHON3. Each test gets a scratch directory.

set -u
: "${top_builddir:?run through make check}"
E2E="$top_builddir/tests/e2e"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lh-e2e.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
failures=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

pass() {
	echo "ok: $*"
}

# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
	desc=$1
	shift
	if "$@"; then pass "$desc"; else fail "$desc"; fi
}

# expect_eq DESCRIPTION EXPECTED ACTUAL
expect_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected '$2', got '$3'"; fi
}

# lh_run NAME PROG [ARGS]: runs PROG under the preloaded runtime with a log;
# leaves $TMP/NAME.out, .err, .log and the exit status in $rc. The log path
# uses %p, so the actual file is found afterwards.
lh_run() {
	name=$1
	shift
	rm -f "$TMP/$name".*.log
	rc=0
	# Only the program gets the runtime, not timeout(1).
	LH_OPTS="log_path=$TMP/$name.%p.log${LH_EXTRA_OPTIONS:+:$LH_EXTRA_OPTIONS}" \
		timeout 120 sh -c 'LD_PRELOAD="$LH_LIB" LOCKHOUND_OPTIONS="$LH_OPTS" exec "$@"' \
		sh "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" || rc=$?
	log=$(ls "$TMP/$name".*.log 2>/dev/null | head -n 1)
	if [ -z "$log" ]; then
		log="$TMP/$name.missing.log"
	fi
	cp "$log" "$TMP/$name.log" 2>/dev/null || : >"$TMP/$name.log"
}

# q LOG EXPR: evaluates a Python expression over the records of LOG.
q() {
	"$PYTHON3" "$top_srcdir/tests/e2e/records.py" "$@"
}

# stderr_of NAME: $TMP/NAME.err without the contention table printed at
# exit (a profile, not a finding).
stderr_of() {
	sed '/^lockhound: contention: /,/^  (lockhound stats LOG/d' "$TMP/$1.err"
}

# headlines FILE KIND: how many stderr findings of that kind.
headlines() {
	grep -c "^lockhound: $2: " "$1" || true
}

finish() {
	if [ "$failures" -ne 0 ]; then
		echo "$failures check(s) failed; scratch files in $TMP" >&2
		trap - EXIT
		exit 1
	fi
	exit 0
}
