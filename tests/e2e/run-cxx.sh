#!/bin/sh
# A C++ program: std::mutex and std::lock_guard reach the interposed
# pthread calls through libstdc++, and the runtime's text and `lockhound
# explain` name functions and locks as C++ writes them (demangled and
# qualified: namespaces, class, parameter types), with stacks through
# std::lock_guard; suppressions match those names in both.
. "$top_srcdir/tests/e2e/lib.sh"

lh_run cxx "$E2E/cxx-bank"
expect_eq "c++: the program is unharmed" 0 "$rc"
expect_eq "c++: one inversion on stderr" 1 "$(headlines "$TMP/cxx.err" lock-order-inversion)"
expect_eq "c++: one inversion in the log" 1 "$(q "$TMP/cxx.log" 'len(kind("lock-order-inversion"))')"
# The runtime's own text: demangled too (libiberty's callback demangler).
check "c++ runtime: the cycle names the locks" \
	grep -q "^  cycle: bank::\(savings\|checking\) => bank::\(savings\|checking\) => " "$TMP/cxx.err"
check "c++ runtime: the thread's function, demangled" \
	grep -q "#0  0x[0-9a-f]* in std::thread::_State_impl<.*>::_M_run()+0x" "$TMP/cxx.err"
check "c++ runtime: no mangled name left" sh -c "! grep -q '_Z[A-Z0-9]' '$TMP/cxx.err'"
# Suppressions match the names people read, in the runtime as in explain.
printf 'kind:lock-order-inversion lock:bank::checking\n' >"$TMP/supp-lock"
printf 'function:std::thread::_State_impl<*>::_M_run()\n' >"$TMP/supp-function"
for r in lock function; do
	LH_EXTRA_OPTIONS="suppressions=$TMP/supp-$r" lh_run cxx-supp-$r "$E2E/cxx-bank"
	expect_eq "c++ runtime: a $r rule with a C++ name hides the inversion" 0 \
		"$(headlines "$TMP/cxx-supp-$r.err" lock-order-inversion)"
	rc=0
	"$LOCKHOUND" explain --suppressions="$TMP/supp-$r" "$TMP/cxx.log" >/dev/null 2>&1 || rc=$?
	expect_eq "c++ explain: the same $r rule hides it" 0 "$rc"
done

rc=0
"$LOCKHOUND" explain "$TMP/cxx.log" >"$TMP/explain.txt" 2>"$TMP/explain.err" || rc=$?
expect_eq "c++: explain exits 1 on the finding" 1 "$rc"
check "c++: explain names the locks by their qualified variables" \
	grep -q "^lockhound: lock-order-inversion: potential deadlock between bank::\(checking\|savings\)\.mu and bank::\(checking\|savings\)\.mu$" \
	"$TMP/explain.txt"
# Inlined or not (CXXFLAGS decide), a frame of each: "#N name at" or, for
# calls inlined there, "name at".
frame() {
	grep -q "^ *\(#[0-9]*  *\)\?$1 at $2" "$TMP/explain.txt"
}
check "c++: a frame in the demangled member function" \
	frame "bank::Teller::transfer(bank::Account&, bank::Account&, long)" ".*/cxx-bank.cpp:2[23]"
check "c++: a frame in std::lock_guard's constructor" \
	frame "std::lock_guard<std::mutex>::lock_guard(std::mutex&)" ".*/std_mutex.h:"
check "c++: the lambdas that called it" \
	frame "\(operator()\|main::{lambda()#[12]}::operator()() const\)" ".*/cxx-bank.cpp:3[46]"
check "c++: the thread's function, fully qualified from its ELF symbol" \
	frame "std::thread::_State_impl<.*>::_M_run()" ".*/std_thread.h:"
check "c++: no mangled name left" sh -c "! grep -q '_Z[A-Z0-9]' '$TMP/explain.txt'"

finish
