#!/bin/sh
# Every primitive with its real semantics: rwlock modes (read-read cycles
# silent, a writer in the cycle reported, lockdep's read-into-reader rule,
# writer-preferring reads reported, timed/clock/try variants), spinlocks,
# C11 mtx_t, semaphores and barriers.
. "$top_srcdir/tests/e2e/lib.sh"

inversions() {
	q "$TMP/$1.log" 'len(kind("lock-order-inversion"))'
}

for case in "rwlock readread 0" "rwlock writer 1" "rwlock readinto 0" \
	"rwlock prefwriter 1" "rwlock timed 0" "spin spin 1" "spin spintry 0" \
	"spin mtx 1" "spin mtxok 0"; do
	set -- $case
	lh_run "$1-$2" "$E2E/$1" "$2"
	expect_eq "$1 $2: the program completes" "$2 done" "$(tail -n 1 "$TMP/$1-$2.out")"
	expect_eq "$1 $2: inversions" "$3" "$(inversions "$1-$2")"
	if [ "$3" = 0 ]; then
		expect_eq "$1 $2: nothing on stderr" "" "$(stderr_of "$1-$2")"
	fi
done

expect_eq "rwlock writer: the cycle's modes are recorded" True \
	"$(q "$TMP/rwlock-writer.log" 'all(e["from_mode"] == "read" and e["to_mode"] == "write" for e in kind("lock-order-inversion")[0]["edges"])')"
expect_eq "rwlock readread: orders recorded as read-read" True \
	"$(q "$TMP/rwlock-readread.log" 'len(kind("lock-order")) == 2 and all(o["modes"] == [["read", "read"]] for o in kind("lock-order"))')"
expect_eq "spin: the locks are spinlocks" "['spinlock', 'spinlock']" \
	"$(q "$TMP/spin-spin.log" 'sorted(lock(i)["type"] for i in kind("lock-order-inversion")[0]["cycle"])')"
expect_eq "mtx: the locks are C11 mutexes" "['mtx_t', 'mtx_t']" \
	"$(q "$TMP/spin-mtx.log" 'sorted(lock(i)["type"] for i in kind("lock-order-inversion")[0]["cycle"])')"
expect_eq "mtx: named by their variables" "['mtx_a', 'mtx_b']" \
	"$(q "$TMP/spin-mtx.log" 'names(kind("lock-order-inversion")[0])')"

lh_run sem "$E2E/semaphore"
expect_eq "semaphores and barriers: semantics kept" "failures=0" "$(cat "$TMP/sem.out")"
expect_eq "semaphores and barriers: silent" "" "$(stderr_of sem)"

finish
