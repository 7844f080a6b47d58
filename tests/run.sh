#!/bin/sh
# Run every test: Check unit tests (build/tests/check_*), end-to-end CLI
# tests (tests/e2e_*.sh) and TUI screen tests (tests/tui_*.sh).
# Prints one closing line "N passed, N failed" and exits non-zero on failure.
BUILD=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
export QLENS_BIN="$root/$BUILD/qlens"
export QLENS_BUILD="$root/$BUILD"
[ -n "$QLENS_SHARED" ] || { [ -d ../shared ] && QLENS_SHARED=$(cd ../shared && pwd) && export QLENS_SHARED; }
pass=0; fail=0; failed=""
log=$(mktemp -d "${TMPDIR:-/tmp}/qlens-test.XXXXXX")
trap 'rm -rf "$log"' EXIT

for t in "$BUILD"/tests/check_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    out="$log/$name.out"
    if "$t" >"$out" 2>&1; then rc=0; else rc=$?; fi
    line=$(grep -E '^[0-9]+%: Checks: ' "$out" | tail -1)
    n=$(echo "$line" | sed -n 's/.*Checks: \([0-9]*\).*/\1/p'); n=${n:-0}
    f=$(echo "$line" | sed -n 's/.*Failures: \([0-9]*\).*/\1/p'); f=${f:-0}
    e=$(echo "$line" | sed -n 's/.*Errors: \([0-9]*\).*/\1/p'); e=${e:-0}
    bad=$((f + e))
    if [ "$rc" != 0 ] && [ "$bad" = 0 ]; then bad=1; fi
    pass=$((pass + n - f - e)); fail=$((fail + bad))
    if [ "$bad" != 0 ]; then
        failed="$failed $name"; echo "FAIL $name"; cat "$out"
    else
        echo "ok   $name ($line)"
    fi
done

for t in tests/e2e_*.sh tests/tui_*.sh; do
    [ -f "$t" ] || continue
    name=$(basename "$t" .sh)
    out="$log/$name.out"
    if sh "$t" >"$out" 2>&1; then rc=0; else rc=$?; fi
    p=$(grep -c '^PASS' "$out"); f=$(grep -c '^FAIL' "$out")
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
    pass=$((pass + p)); fail=$((fail + f))
    if [ "$f" != 0 ]; then
        failed="$failed $name"; echo "FAIL $name"; cat "$out"
    else
        echo "ok   $name ($p checks)"
    fi
done

[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
