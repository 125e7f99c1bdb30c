#!/bin/sh
# The manual pages are valid mdoc (mandoc -Tlint), when mandoc is installed.
. "$top_srcdir/tests/e2e/lib.sh"

if [ -z "${MANDOC:-}" ]; then
	echo "mandoc not installed: skipped"
	exit 77
fi
for page in lockhound.1 lockhound.3 lockhound.7 lockhound-report.5 lockhound-cc.1; do
	out=$("$MANDOC" -Tlint -W warning "$top_srcdir/man/$page" 2>&1)
	expect_eq "$page: mandoc -Tlint is clean" "" "$out"
done
finish
