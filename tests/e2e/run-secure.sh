#!/bin/sh
# setuid programs (AT_SECURE): LOCKHOUND_OPTIONS is ignored (no log file, no
# exitcode), findings still go to stderr. Needs root to make a setuid binary
# and a filesystem without nosuid; skipped otherwise.
. "$top_srcdir/tests/e2e/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
	echo "needs root and setpriv: skipped"
	exit 77
fi
chmod 755 "$TMP"
${CC:-cc} -pthread -o "$TMP/secure" "$top_srcdir/tests/e2e/secure.c" \
	-L"$top_builddir/lib/.libs" -llockhound -Wl,-rpath,"$top_builddir/lib/.libs"
chown root "$TMP/secure"
chmod 4755 "$TMP/secure"
rc=0
LOCKHOUND_OPTIONS="log_path=$TMP/secure.log:exitcode=9" \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$TMP/secure" \
	>"$TMP/secure.out" 2>"$TMP/secure.err" || rc=$?
if [ "$(cat "$TMP/secure.out")" != "AT_SECURE=1" ]; then
	echo "the kernel did not run it setuid (nosuid mount?): skipped"
	exit 77
fi
expect_eq "setuid: exitcode ignored" 0 "$rc"
check "setuid: no log file written" [ ! -e "$TMP/secure.log" ]
expect_eq "setuid: the finding still on stderr" 1 "$(headlines "$TMP/secure.err" lock-order-inversion)"
check "setuid: no warning about the ignored options" sh -c "! grep -q warning '$TMP/secure.err'"
finish
