#!/bin/sh
# LOCKHOUND_OPTIONS: bad keys and values warn once each and the program runs
# on; exitcode; log files made 0600, %p expanded, a planted symlink refused.
. "$top_srcdir/tests/e2e/lib.sh"

rc=0
LD_PRELOAD="$LH_LIB" LOCKHOUND_OPTIONS="bogus=1:exitcode=abc:exitcode=999:log_path=:noequals" \
	"$E2E/consistent" >"$TMP/bad.out" 2>"$TMP/bad.err" || rc=$?
expect_eq "bad options: the program runs and exits 0" 0 "$rc"
expect_eq "bad options: its output is intact" "sum=0" "$(cat "$TMP/bad.out")"
for key in bogus exitcode log_path noequals; do
	check "bad options: a warning names '$key'" grep -q "^lockhound: warning: LOCKHOUND_OPTIONS: $key: " "$TMP/bad.err"
done
expect_eq "bad options: one line per bad pair" 5 "$(stderr_of bad | wc -l)"

LH_EXTRA_OPTIONS=exitcode=23 lh_run exit23 "$E2E/abba"
expect_eq "exitcode: set after a finding" 23 "$rc"
expect_eq "exitcode: stdout still flushed" "shared=6" "$(cat "$TMP/exit23.out")"
LH_EXTRA_OPTIONS=exitcode=23 lh_run exit0 "$E2E/consistent"
expect_eq "exitcode: untouched without findings" 0 "$rc"

lh_run mode "$E2E/abba"
expect_eq "log: created with mode 0600" 600 "$(stat -c %a "$TMP"/mode.*.log)"
pidfile=$(basename "$(ls "$TMP"/mode.*.log)")
pid=$(q "$TMP/mode.log" 'recs[0]["pid"]')
expect_eq "log: %p is the pid" "mode.$pid.log" "$pidfile"

ln -s "$TMP/target" "$TMP/link.log"
rc=0
LD_PRELOAD="$LH_LIB" LOCKHOUND_OPTIONS="log_path=$TMP/link.log" "$E2E/abba" >/dev/null 2>"$TMP/link.err" || rc=$?
check "symlink: not followed" [ ! -e "$TMP/target" ]
check "symlink: said so" grep -q "symbolic link" "$TMP/link.err"
expect_eq "symlink: the program runs" 0 "$rc"
expect_eq "symlink: findings still on stderr" 1 "$(headlines "$TMP/link.err" lock-order-inversion)"

rc=0
LD_PRELOAD="$LH_LIB" LOCKHOUND_OPTIONS="log_path=/nonexistent/dir/x.log" "$E2E/abba" >/dev/null 2>"$TMP/nodir.err" || rc=$?
expect_eq "unwritable log: the program runs" 0 "$rc"
check "unwritable log: one warning names the path" grep -q "log_path: cannot open /nonexistent/dir/x.log" "$TMP/nodir.err"

finish
