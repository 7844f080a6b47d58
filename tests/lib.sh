# Helpers for shell tests (sourced).  Each check prints PASS/FAIL lines that
# tests/run.sh counts.
: "${QLENS_BIN:=$(pwd)/build/qlens}"
: "${QLENS_SHARED:=$(cd ../shared 2>/dev/null && pwd)}"
export QLENS_SHARED
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/qlens-t.XXXXXX")
trap 'rm -rf "$T_TMP"' EXIT
# results caches (stats, sensitivity) go to the test's folder, never ~/.cache
: "${QLENS_CACHE_DIR:=$T_TMP/cache}"
export QLENS_CACHE_DIR
t_failed=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; t_failed=1; }
# expect_rc WANT NAME -- CMD...: run CMD, compare exit code; output in $T_TMP/out, $T_TMP/err
expect_rc() {
    want=$1; name=$2; shift 3
    "$@" >"$T_TMP/out" 2>"$T_TMP/err"; rc=$?
    if [ "$rc" = "$want" ]; then pass "$name"; else
        fail "$name (exit $rc, wanted $want)"; sed 's/^/  out: /' "$T_TMP/out" | head -20; sed 's/^/  err: /' "$T_TMP/err" | head -20; fi
}
# expect_grep PATTERN FILE NAME
expect_grep() {
    if grep -qE -- "$1" "$2"; then pass "$3"; else fail "$3 (no /$1/ in $(basename "$2"))"; head -20 "$2" | sed 's/^/  | /'; fi
}
t_done() { exit $t_failed; }
