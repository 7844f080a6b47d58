#!/bin/sh
# Screen test: the model file is truncated by another process while the
# dashboard has it mapped.  The next read past the new end used to kill the
# dashboard with SIGBUS (exit 135); now the status bar says so, the job that
# read zeros reports an error instead of a perplexity, and q still quits.
. "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null 2>&1 || { fail "tmux not installed"; t_done; }
TM="tmux -L qlens-trunc-$$ -f /dev/null"
trap '$TM kill-server 2>/dev/null; rm -rf "$T_TMP"' EXIT
SCREEN="$T_TMP/screen"
cap() { $TM capture-pane -p >"$SCREEN" 2>/dev/null; }
wait_for() {
    n=$(( ${3:-10} * 10 ))
    while [ "$n" -gt 0 ]; do
        cap
        if grep -qE -- "$1" "$SCREEN"; then pass "$2"; return 0; fi
        sleep 0.1; n=$((n - 1))
    done
    fail "$2 (no /$1/ on screen)"; sed 's/^/  | /' "$SCREEN" | head -45
    return 1
}

cp "$QLENS_SHARED/models/stories260K.bin" "$T_TMP/m.bin"
cp "$QLENS_SHARED/models/tok512.bin" "$T_TMP/tok512.bin"
$TM new-session -d -x 160 -y 40 \
    "cd '$T_TMP' && env QLENS_SHARED='$QLENS_SHARED' HOME='$T_TMP' QLENS_SESSION='$T_TMP/s.json' '$QLENS_BIN' '$T_TMP/m.bin'; echo \$? >'$T_TMP/rc'; sleep 30"
$TM set-option -g status off >/dev/null 2>&1
wait_for 'blk\.0\.attn_q' "dashboard opens the copy"
: >"$T_TMP/m.bin"
$TM send-keys P # the float baseline perplexity reads every weight
wait_for 'm\.bin: the file was truncated while open \(now 0 bytes' "status bar: truncated while open" 60
# the job stops by itself (no 'c' pressed) and leaves no row
n=300
while [ "$n" -gt 0 ] && { cap; grep -q 'c cancels' "$SCREEN"; }; do sleep 0.1; n=$((n - 1)); done
grep -q 'c cancels' "$SCREEN" && fail "the baseline job stops" || pass "the baseline job stops"
$TM send-keys 4
wait_for '^0 runs of m on' "Runs view: no perplexity computed on zeros"
wait_for 'truncated while open' "the message stays"
$TM send-keys q
n=100
while [ "$n" -gt 0 ] && [ ! -f "$T_TMP/rc" ]; do sleep 0.1; n=$((n - 1)); done
rc=$(cat "$T_TMP/rc" 2>/dev/null)
[ "$rc" = 0 ] && pass "q quits normally (exit 0)" || fail "dashboard exit ${rc:-none} (wanted 0)"
t_done
