#!/bin/sh
# The lockhound command: --help, --version, run (options, errors, exit status).
. "$top_srcdir/tests/e2e/lib.sh"

status() {
	rc=0
	"$@" >"$TMP/cli.out" 2>"$TMP/cli.err" || rc=$?
	echo "$rc"
}

expect_eq "--version" 0 "$(status "$LOCKHOUND" --version)"
check "--version prints the version" grep -q "^lockhound [0-9]" "$TMP/cli.out"
expect_eq "--help" 0 "$(status "$LOCKHOUND" --help)"
check "--help lists run" grep -q "run" "$TMP/cli.out"
expect_eq "no command: usage error" 2 "$(status "$LOCKHOUND")"
expect_eq "unknown command: usage error" 2 "$(status "$LOCKHOUND" frobnicate)"
check "unknown command: one line naming it" [ "$(stderr_of cli)" = "lockhound: frobnicate: unknown command (see 'lockhound --help')" ]
expect_eq "run --help" 0 "$(status "$LOCKHOUND" run --help)"
check "run --help names the options" grep -q -- "--log_path" "$TMP/cli.out"
expect_eq "run: unknown option" 2 "$(status "$LOCKHOUND" run --nope=1 -- "$E2E/abba")"
check "run: unknown option named" grep -q "^lockhound: run: --nope: unknown option" "$TMP/cli.err"
expect_eq "run: bad value" 2 "$(status "$LOCKHOUND" run --exitcode=x -- "$E2E/abba")"
expect_eq "run: missing program" 2 "$(status "$LOCKHOUND" run --)"
expect_eq "run: program not found" 2 "$(status "$LOCKHOUND" run -- "$TMP/does-not-exist")"
check "run: program not found, one line" [ "$(wc -l <"$TMP/cli.err")" -eq 1 ]

expect_eq "run: exit status of the program" 0 "$(status "$LOCKHOUND" run -- "$E2E/abba")"
expect_eq "run: the finding on stderr" 1 "$(headlines "$TMP/cli.err" lock-order-inversion)"
expect_eq "run --exitcode" 7 "$(status "$LOCKHOUND" run --exitcode=7 -- "$E2E/abba")"
expect_eq "run --log_path" 0 "$(status "$LOCKHOUND" run --log_path="$TMP/run.%p.log" "$E2E/abba")"
log=$(ls "$TMP"/run.*.log)
expect_eq "run --log_path: the log has the finding" 1 "$(q "$log" 'len(kind("lock-order-inversion"))')"
expect_eq "run: a failing program's status passes through" 1 "$(status "$LOCKHOUND" run -- sh -c 'exit 1')"

finish
