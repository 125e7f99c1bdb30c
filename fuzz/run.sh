#!/bin/sh
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a
# while over its corpus. Not part of `make check`; run by hand or in a
# nightly job:
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60; all targets;
#                                                    0: run the seeds once)
#   make fuzz FUZZ_SECONDS=300
#
# Targets: log (lockhound logs through explain, replay, graph and stats), json (the
# JSON parser), suppress (suppression files). Seeds: fuzz/corpus/TARGET
# (real logs of the e2e programs) and fuzz/regressions/TARGET (inputs that
# once crashed or hung: the test suite replays them through the real CLI,
# tests/e2e/run-damaged.sh). New corpus entries go to fuzz/work/TARGET;
# crashes to fuzz/work/crash-*: minimize one with
# `fuzz/work/fuzz-TARGET -minimize_crash=1 FILE`, fix the bug, and add the
# input to fuzz/regressions/TARGET.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
build=${top_builddir:-$top}
seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-log json suppress}
CLANG=${CLANG:-clang}
work="$here/work"
mkdir -p "$work"

if [ ! -f "$build/config.h" ]; then
	echo "fuzz/run.sh: configure the tree first (./build.sh)" >&2
	exit 2
fi
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
-I$build -I$top/lib -I$top/tools -I$build/include -std=gnu11"
runtime="$top/lib/suppress.c $top/lib/arena.c $top/lib/sync.c $top/lib/buf.c"
cli="$top/tools/json.c $top/tools/logread.c $top/tools/symbolize.c $top/tools/finding.c \
$top/tools/explain.c $top/tools/kind-inversion.c $top/tools/kind-misuse.c $top/tools/sarif.c \
$top/tools/ordergraph.c $top/tools/replay.c $top/tools/shim.c \
$top/tools/contention.c $top/tools/kind-deadlock.c $top/tools/kind-acquire-timeout.c \
$top/tools/kind-contention.c $top/tools/stats.c \
$top/tools/kind-attach.c $top/tools/kind-race.c"

for t in $targets; do
	case $t in
	log)
		# tools/graph.c and lib/graph.c share a name: build one apart.
		$CLANG $flags -c "$top/lib/graph.c" -o "$work/libgraph.o"
		$CLANG $flags -c "$top/tools/graph.c" -o "$work/cmdgraph.o"
		$CLANG $flags "$here/fuzz-log.c" $cli $runtime "$work/libgraph.o" "$work/cmdgraph.o" \
			$(pkg-config --libs libdw libelf) -o "$work/fuzz-log"
		;;
	json)
		$CLANG $flags "$here/fuzz-json.c" "$top/tools/json.c" -o "$work/fuzz-json"
		;;
	suppress)
		$CLANG $flags "$here/fuzz-suppress.c" $runtime -o "$work/fuzz-suppress"
		;;
	*)
		echo "fuzz/run.sh: unknown target $t (log, json, suppress)" >&2
		exit 2
		;;
	esac
	mkdir -p "$work/$t"
	seeds="$work/$t"
	for d in "$here/corpus/$t" "$here/regressions/$t"; do
		[ -d "$d" ] && seeds="$seeds $d"
	done
	echo "== fuzz-$t for ${seconds}s"
	if [ "$seconds" = 0 ]; then limit=-runs=0; else limit=-max_total_time=$seconds; fi
	(cd "$work" && ASAN_OPTIONS=detect_leaks=1 ./fuzz-"$t" $limit \
		-timeout=10 -rss_limit_mb=2048 -max_len=65536 -close_fd_mask=2 \
		-artifact_prefix="$work/crash-$t-" $seeds)
done
