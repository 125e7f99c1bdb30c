#!/bin/sh
# lockhound's one-step build. On a fresh Debian 12 machine:
#
#   ./build.sh          install missing build dependencies (when root), build,
#                       and run the demo
#   ./build.sh check    the same, then run the whole test suite
#
# Builds in the source tree. Set CONFIGURE_FLAGS to pass options to configure.
set -eu
cd "$(dirname "$0")"

# Debian packages the build and the tests need.
DEPS="build-essential autoconf automake libtool pkg-config uthash-dev check \
libdw-dev libelf-dev libiberty-dev python3 mandoc elfutils clang graphviz"

missing=""
for p in $DEPS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "build.sh: installing$missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y --no-install-recommends $missing ||
			{ apt-get update && apt-get install -y --no-install-recommends $missing; }
	else
		echo "build.sh: missing packages:$missing (run as root to install them)" >&2
		exit 2
	fi
fi

if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then
	autoreconf -fi
fi
if [ ! -f Makefile ] || [ configure -nt Makefile ]; then
	./configure ${CONFIGURE_FLAGS:-}
fi
jobs=$(nproc 2>/dev/null || echo 2)
make -j"$jobs"

case "${1:-demo}" in
demo)
	make demo
	;;
check)
	make -j"$jobs" check || { tail -200 test-suite.log 2>/dev/null; exit 1; }
	# Again with AddressSanitizer and UndefinedBehaviorSanitizer: the
	# runtime's unit tests and the CLI, from a fresh copy of the sources
	# (make distdir, which also proves the tarball complete).
	san=_build/sanitize
	rm -rf "$san"
	mkdir -p _build
	make -s distdir distdir="$san" >/dev/null
	(
		cd "$san" &&
			./configure --enable-asan --enable-ubsan --enable-werror >/dev/null &&
			make -j"$jobs" >/dev/null &&
			make -j"$jobs" check TESTS="$(make -s print-sanitize-tests)"
	) || { tail -200 "$san/test-suite.log" 2>/dev/null; exit 1; }
	;;
*)
	echo "usage: ./build.sh [demo|check]" >&2
	exit 2
	;;
esac
