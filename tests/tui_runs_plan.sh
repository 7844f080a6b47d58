#!/bin/sh
# Runs view, issue 10: a bit plan measured by the CLI (`qlens plan
# --measure --out SESSION`) is a run of the Runs view like any other: its
# row (configuration "plan B bpw (...)", bits/weight, PPL, KL, size), its
# point in the size-vs-PPL plot; the same store's float and uniform
# entries are not rows (check_ui_runs: another model's plan neither).
# Then the Plan view's own measured plan (A) joins it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux_lib.sh"
M="$QLENS_SHARED/models/stories260K.bin"
"$QLENS_BIN" sensitivity "$M" --candidates rtn:2:32,rtn:4:32 --chunks 2 --calib-chunks 2 \
    --no-cache --out "$T_TMP/sens.json" >"$T_TMP/out" 2>&1 || { fail "sensitivity"; cat "$T_TMP/out"; t_done; }
"$QLENS_BIN" plan --sens "$T_TMP/sens.json" --target-bpw 3.5 --measure --chunks 2 \
    --out "$T_TMP/session.json" >"$T_TMP/out" 2>&1 || { fail "plan --measure --out"; cat "$T_TMP/out"; t_done; }
pass "plan --measure --out SESSION"
start 160 40
wait_for 'blk\.0\.attn_q' "dashboard starts"
keys 4
wait_for '^1 run of stories260K' "one run: the plan (not the store's float and uniform entries)"
wait_for '^plan 3\.[0-9]{3} bpw \(rtn:[24]:32 x[0-9]+, rtn:[24]:32 x[0-9]+\) +3 +- +3\.[0-9]+ ' "the plan's row: configuration, bits, no group, bits/weight"
wait_for '^plan 3\.[0-9]{3} bpw .* [0-9]+\.[0-9]{4}\+-[0-9.]+ +\+[0-9]+\.[0-9]{2} +[0-9]\.[0-9]{4} +[0-9.]+ +- +512 *$' "PPL, dPPL from its own KL pass, KL, top-1, ctx"
keys v v
wait_for 'line = Pareto front' "size-vs-PPL plot"
wait_for ' a\* PPL [0-9.]+ +0\.[0-9]+ MiB  plan 3\.[0-9]{3} bpw' "the plan is a point of the plot and its legend"
keys v
# the Plan view's own measurement joins the table
keys 7 :
type_text "rtn:2:32,rtn:4:32"
keys Enter S
wait_for 'sensitivity: 70 cells measured' "Plan view: sensitivity" 300
keys A
wait_for 'plan measured: [0-9.]+ b/w, .*; in Runs \(4\)' "A measures the plan and adds it to Runs" 300
keys 4
wait_for '^2 runs of stories260K' "two plans now"
keys q
wait_gone 'q again quits' 5
grep -q '"source":"qlens dashboard run"' "$T_TMP/session.json" && grep -q '"plan":true' "$T_TMP/session.json" &&
    grep -q '"tensor_types"' "$T_TMP/session.json" && pass "the session keeps the CLI's plan and adds the dashboard's" ||
    fail "session file: $(head -c 300 "$T_TMP/session.json")"
t_done
