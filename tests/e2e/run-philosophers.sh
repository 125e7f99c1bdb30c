#!/bin/sh
# Dining philosophers: one cycle of five forks, reported once. A gate that
# stops gating: two gated threads invert A and B (silent), then a third
# takes B then A without the gate: reported, once.
. "$top_srcdir/tests/e2e/lib.sh"

lh_run phil "$E2E/philosophers"
expect_eq "philosophers: all meals eaten" "meals=5" "$(cat "$TMP/phil.out")"
expect_eq "philosophers: one inversion" 1 "$(q "$TMP/phil.log" 'len(kind("lock-order-inversion"))')"
expect_eq "philosophers: a cycle of five forks" 5 \
	"$(q "$TMP/phil.log" 'len(set(kind("lock-order-inversion")[0]["cycle"]))')"
expect_eq "philosophers: the forks by name" True \
	"$(q "$TMP/phil.log" 'all(n.startswith("forks") for n in names(kind("lock-order-inversion")[0]))')"
expect_eq "philosophers: one headline" 1 "$(headlines "$TMP/phil.err" lock-order-inversion)"

lh_run leak "$E2E/gate" leak
expect_eq "gate leak: reported once" 1 "$(q "$TMP/leak.log" 'len(kind("lock-order-inversion"))')"
expect_eq "gate leak: the ungated edge is in the cycle" True \
	"$(q "$TMP/leak.log" 'any(e["gates"] == [] for e in kind("lock-order-inversion")[0]["edges"])')"

finish
