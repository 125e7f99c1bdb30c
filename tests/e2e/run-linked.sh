#!/bin/sh
# Linked with -llockhound instead of preloaded: the same interposition. Once
# through libtool (abba-linked) and once with the flags pkg-config gives.
. "$top_srcdir/tests/e2e/lib.sh"

rc=0
LOCKHOUND_OPTIONS="log_path=$TMP/linked.%p.log" "$E2E/abba-linked" >"$TMP/linked.out" 2>"$TMP/linked.err" || rc=$?
expect_eq "linked: exit 0" 0 "$rc"
expect_eq "linked: one headline" 1 "$(headlines "$TMP/linked.err" lock-order-inversion)"
log=$(ls "$TMP"/linked.*.log)
expect_eq "linked: one inversion record" 1 "$(q "$log" 'len(kind("lock-order-inversion"))')"

flags=$(PKG_CONFIG_PATH="$top_builddir/lib" pkg-config --cflags --libs lockhound)
check "pkg-config names the library" sh -c "echo '$flags' | grep -q -- -llockhound"
${CC:-cc} -pthread -o "$TMP/abba-pc" "$top_srcdir/tests/e2e/abba.c" -L"$top_builddir/lib/.libs" $flags
check "pkg-config: the program links" [ -x "$TMP/abba-pc" ]
check "pkg-config: the program needs liblockhound" sh -c "readelf -d '$TMP/abba-pc' | grep -q 'NEEDED.*liblockhound'"
rc=0
LD_LIBRARY_PATH="$top_builddir/lib/.libs" "$TMP/abba-pc" >/dev/null 2>"$TMP/pc.err" || rc=$?
expect_eq "pkg-config: exit 0" 0 "$rc"
expect_eq "pkg-config: inversion found" 1 "$(headlines "$TMP/pc.err" lock-order-inversion)"

finish
