#!/bin/sh
# qlens demo: the built-in tour of stories260K plays to the end in tmux at a
# fast pace (--pace 0.05; the quantization runs still take their time),
# showing each caption; Space pauses, Right skips, Left goes back; the runs
# it made land in the session file; bad scripts are refused with the line.
. "$(dirname "$0")/lib.sh"
Q=$QLENS_BIN
command -v tmux >/dev/null 2>&1 || { fail "tmux not installed"; t_done; }

expect_rc 0 "demo --help" -- "$Q" demo --help
expect_rc 0 "demo --print-script" -- "$Q" demo --print-script
expect_grep "^caption .*SpQR" "$T_TMP/out" "built-in script tells the SpQR step"
printf 'caption a\nkey Nope\n' >"$T_TMP/bad.demo"
expect_rc 1 "bad script" -- "$Q" demo "$T_TMP/bad.demo"
expect_grep "bad.demo:2: unknown key 'Nope'" "$T_TMP/err" "error names file, line and key"
expect_rc 3 "missing script" -- "$Q" demo "$T_TMP/none.demo"
expect_rc 2 "bad --pace" -- "$Q" demo --pace fast
expect_rc 2 "demo off a terminal" -- "$Q" demo </dev/null

TM="tmux -L qlens-demo-$$ -f /dev/null"
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
keys() { $TM send-keys "$@"; }
# start PACE: the built-in tour in a fresh server, exit code to $T_TMP/rc
# Each start gets a fresh server socket: a new session on the socket of a
# server still shutting down fails ("server exited unexpectedly").
demo_n=0
start() {
    $TM kill-server 2>/dev/null
    demo_n=$((demo_n + 1))
    TM="tmux -L qlens-demo-$$-$demo_n -f /dev/null"
    rm -f "$T_TMP/rc"
    $TM new-session -d -x 120 -y 40 \
        "env TERM=tmux-256color QLENS_SHARED='$QLENS_SHARED' HOME='$T_TMP' '$Q' demo --pace $1; echo \$? >'$T_TMP/rc'; sleep 30"
    $TM set-option -g status off >/dev/null 2>&1
}
wait_rc() { # SECONDS NAME
    n=$(( $1 * 10 )); while [ "$n" -gt 0 ] && [ ! -f "$T_TMP/rc" ]; do sleep 0.1; n=$((n - 1)); done
    [ "$(cat "$T_TMP/rc" 2>/dev/null)" = 0 ] && pass "$2 (exit 0)" || fail "$2"
}

# steering, at the written pace (steps hold for seconds)
start 1
wait_for 'demo 1/[0-9]+ ' "tour starts with step 1 and its caption bar"
keys Space
wait_for 'demo 1/[0-9]+ \(paused\)' "Space pauses"
sleep 7
cap; grep -qE 'demo 1/[0-9]+ \(paused\)' "$SCREEN" && pass "paused past the hold: stays on step 1" || fail "paused tour moved on"
keys Space Right
wait_for 'demo 2/[0-9]+ ' "Right skips to step 2"
keys Left
wait_for 'demo 1/[0-9]+ ' "Left goes back to step 1"
keys Right
wait_for 'jump to: blk\.4\.attn_k|^blk\.4\.attn_k ' "step 2 jumps to the outlier-heavy layer"
keys q
# a job the step started (statistics, slower under the sanitizers) makes q
# ask first: "q again quits and cancels it"
sleep 1; cap; grep -q 'q again quits' "$SCREEN" && keys q
wait_rc 10 "q ends the tour"

# the whole tour, fast: holds x 0.05, the quantization runs take their time
start 0.05
wait_for '2-bit GPTQ on every layer' "step 5: 2-bit GPTQ" 60
wait_for 'GPTQ 2 bit' "the Quant view is set to GPTQ 2 bit" 60
wait_for 'SpQR at 2 bits keeps the outliers' "step 6: SpQR" 300
wait_for 'SpQR 2 bit' "the Quant view is set to SpQR 2 bit" 60
wait_rc 400 "the tour plays to its end by itself"
S=$T_TMP/.qlens-session.json
grep -q '"spec": *"GPTQ w2' "$S" 2>/dev/null && pass "session has the 2-bit GPTQ run" || fail "no GPTQ w2 run in $S"
grep -q '"spec": *"SpQR w2' "$S" 2>/dev/null && pass "session has the 2-bit SpQR run" || fail "no SpQR w2 run"
t_done
