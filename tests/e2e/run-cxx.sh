#!/bin/sh
# A C++ program: std::mutex and std::lock_guard reach the interposed
# pthread calls through libstdc++, and `lockhound explain` names functions
# and locks as C++ writes them (demangled and qualified: namespaces, class,
# parameter types), with stacks through std::lock_guard.
. "$top_srcdir/tests/e2e/lib.sh"

lh_run cxx "$E2E/cxx-bank"
expect_eq "c++: the program is unharmed" 0 "$rc"
expect_eq "c++: one inversion on stderr" 1 "$(headlines "$TMP/cxx.err" lock-order-inversion)"
expect_eq "c++: one inversion in the log" 1 "$(q "$TMP/cxx.log" 'len(kind("lock-order-inversion"))')"

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
