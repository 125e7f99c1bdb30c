#!/bin/sh
# examples/README shows each example's command and its real output: rerun
# them all and fail when the recorded output no longer matches (after
# masking pids, thread ids, addresses, offsets, durations and counts).
# examples/regen.py --write records the current output.
. "$top_srcdir/tests/e2e/lib.sh"

rc=0
"$PYTHON3" "$top_srcdir/examples/regen.py" --check >"$TMP/regen.out" 2>&1 || rc=$?
cat "$TMP/regen.out"
expect_eq "examples/README matches the examples' output" 0 "$rc"
finish
