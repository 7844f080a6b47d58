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

. "$(dirname "$0")/tmux_lib.sh"
# tour PACE: the built-in tour in a fresh server (the session file is the
# default one under HOME, which the last check reads)
tour() {
    START_ARGS="demo --pace $1" start 120 40 TERM=tmux-256color QLENS_SESSION="$T_TMP/.qlens-session.json"
}

# steering, at the written pace (steps hold for seconds)
tour 1
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
wait_exit 0 "q ends the tour" 10

# the whole tour, fast: holds x 0.05, the quantization runs take their time
tour 0.05
wait_for '2-bit GPTQ on every layer' "step 5: 2-bit GPTQ" 60
wait_for 'GPTQ 2 bit' "the Quant view is set to GPTQ 2 bit" 60
wait_for 'SpQR at 2 bits keeps the outliers' "step 6: SpQR" 300
wait_for 'SpQR 2 bit' "the Quant view is set to SpQR 2 bit" 60
wait_exit 0 "the tour plays to its end by itself" 400
S=$T_TMP/.qlens-session.json
grep -q '"spec": *"GPTQ w2' "$S" 2>/dev/null && pass "session has the 2-bit GPTQ run" || fail "no GPTQ w2 run in $S"
grep -q '"spec": *"SpQR w2' "$S" 2>/dev/null && pass "session has the 2-bit SpQR run" || fail "no SpQR w2 run"
t_done
