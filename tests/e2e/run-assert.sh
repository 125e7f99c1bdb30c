#!/bin/sh
# Ownership assertions: lh_assert_held() and its reader/writer variants on
# locks that are and are not held (silent; reported once per call site as a
# "misuse" with what "not-held", with the stack of the assertion); a lock
# held by another thread is not held; the programs run unchanged without
# the runtime. The clang thread-safety macros: the annotated program passes
# clang -Wthread-safety -Werror, its broken variant does not, and the same
# bug, built by gcc, is reported at run time.
. "$top_srcdir/tests/e2e/lib.sh"

lh_run held "$E2E/assert-held" held
expect_eq "held: the program's result" "balance=34" "$(cat "$TMP/held.out")"
expect_eq "held: nothing reported" 0 "$(grep -c '"kind":"misuse"' "$TMP/held.log" || true)"
expect_eq "held: stderr quiet" "" "$(cat "$TMP/held.err")"

lh_run unheld "$E2E/assert-held" unheld
expect_eq "unheld: exit status is the program's" 0 "$rc"
expect_eq "unheld: the program runs on" "balance=30" "$(cat "$TMP/unheld.out")"
expect_eq "unheld: once per call site (held, wrheld), in a loop of 3" \
	"['lh_assert_held: this thread does not hold the lock', 'lh_assert_wrheld: this thread does not hold the lock']" \
	"$(q "$TMP/unheld.log" 'sorted(r["message"] for r in kind("misuse") if r["what"] == "not-held")')"
expect_eq "unheld: the record names the lock" True \
	"$(q "$TMP/unheld.log" 'all(lock(r["lock"])["name"] == "balance_lock" and pcs_ok(r["stack"]) for r in kind("misuse"))')"
check "unheld: stderr headline" grep -q "^lockhound: misuse: not-held: lh_assert_held: " "$TMP/unheld.err"
check "unheld: the stack starts in the asserting function" \
	grep -q "#0 .* in update_balance[.a-z0-9]*+0x" "$TMP/unheld.err"

lh_run other "$E2E/assert-held" other
expect_eq "held by another thread: not held by this one" 2 \
	"$(q "$TMP/other.log" 'len([r for r in kind("misuse") if r["what"] == "not-held"])')"

lh_run rwlock "$E2E/assert-held" rwlock
expect_eq "rwlock: rdheld under the read lock is silent, wrheld is not" \
	"['lh_assert_wrheld: this thread holds the lock only for reading']" \
	"$(q "$TMP/rwlock.log" 'sorted(r["message"] for r in kind("misuse"))')"

rc=0
"$E2E/assert-held" unheld >"$TMP/bare.out" 2>"$TMP/bare.err" || rc=$?
expect_eq "without the runtime: runs unchanged" "0 balance=30" "$rc $(cat "$TMP/bare.out")"
expect_eq "without the runtime: silent" "" "$(cat "$TMP/bare.err")"

# The clang thread-safety macros.
inc="-I$top_builddir/include"
if command -v clang >/dev/null; then
	check "annotated: clang -Wthread-safety -Werror accepts it" \
		clang -Wthread-safety -Werror $inc -c "$top_srcdir/tests/e2e/annotated.c" -o "$TMP/a.o"
	check "annotated, broken: clang refuses it at compile time" \
		sh -c "! clang -Wthread-safety -Werror $inc -DBROKEN -c '$top_srcdir/tests/e2e/annotated.c' \
			-o '$TMP/b.o' 2>'$TMP/clang.err' &&
			grep -q \"calling function 'add_interest' requires holding mutex 'account_lock'\" '$TMP/clang.err'"
else
	fail "clang is not installed"
fi
lh_run annotated "$E2E/annotated"
expect_eq "annotated: silent at run time" 0 "$(grep -c '"kind":"misuse"' "$TMP/annotated.log" || true)"
lh_run broken "$E2E/annotated-broken"
expect_eq "annotated, broken: reported at run time" True \
	"$(q "$TMP/broken.log" 'len(kind("misuse")) == 1 and lock(kind("misuse")[0]["lock"])["name"] == "account_lock"')"
check "annotated, broken: in add_interest" grep -q " in add_interest[.a-z0-9]*+0x" "$TMP/broken.err"

finish
