#!/bin/sh
# Run every benchmark binary BUILD/bench/bench_* (built by `make bench`), each
# with QLENS_SHARED and QLENS_BUILD set, and print its output under a title.
# Benchmarks report ratios against a baseline measured in the same run, so
# the numbers mean something on a busy machine too.  Exit status: non-zero
# when a benchmark crashed or failed.
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
[ -n "$QLENS_SHARED" ] || { [ -d ../shared ] && QLENS_SHARED=$(cd ../shared && pwd); }
export QLENS_SHARED
QLENS_BUILD="$root/$BUILD"
export QLENS_BUILD
status=0
found=0
for b in "$BUILD"/bench/bench_*; do
    [ -x "$b" ] || continue
    case "$b" in *.o|*.d) continue ;; esac
    found=1
    echo "== $(basename "$b")"
    if ! "$b"; then
        echo "!! $(basename "$b") failed"
        status=1
    fi
done
[ "$found" = 1 ] || { echo "bench/run.sh: no benchmarks in $BUILD/bench (run 'make bench')"; exit 1; }
exit $status
