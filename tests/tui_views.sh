#!/bin/sh
# Screen test of the Runs, Correlation and Quant job paths: a session file
# from an earlier run is shown, exported, a perplexity job starts on the
# worker (progress bar) and is cancelled, a slow method quantizes on the
# worker, the correlation view shows statistics.  Bounded waits only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux_lib.sh"

cat >"$T_TMP/session.json" <<'EOF'
{"schema": "qlens-results/1", "source": "qlens dashboard session", "results": [
 {"id": "stories260K.bin/float (F32 weights)", "model": "stories260K.bin", "method": "float",
  "bits": {"w": 16, "a": 16, "kv": 16}, "ppl": {"tinystories-eval": {"value": 7.8806, "stderr": 0.085}},
  "memory_gb": 0.000484, "settings": {"spec": "float (F32 weights)", "bpw": 16, "size_mib": 0.496,
  "kl": 0, "top1": 1, "base_ppl": 0, "seconds": 6.5, "n_ctx": 512, "n_chunks": 303, "sym": 1}},
 {"id": "stories260K.bin/RTN w4 g128 asym", "model": "stories260K.bin", "method": "RTN",
  "bits": {"w": 4, "a": 16, "kv": 16}, "group_size": 128,
  "ppl": {"tinystories-eval": {"value": 9.4706, "stderr": 0.104}}, "memory_gb": 0.000176,
  "settings": {"spec": "RTN w4 g128 asym", "bpw": 4.29, "size_mib": 0.18, "kl": 0.2653,
  "top1": 0.7313, "base_ppl": 7.8806, "seconds": 21, "n_ctx": 512, "n_chunks": 303, "sym": 0}}]}
EOF

start 120 40
wait_for 'blk\.0\.attn_q' "dashboard starts with a session file"
keys 4
wait_for 'RTN w4 g128 asym +4 +128 +4\.29 +0\.18 +9\.4706\+-0\.104 +\+20\.18' "runs from the session, with dPPL %"
wait_for 'float \(F32 weights\) +16' "baseline row"
keys v
wait_for 'PPL per configuration' "bar chart"
keys v
wait_for 'Pareto front' "size vs PPL plot"
keys v e
wait_for 'exported 2 runs' "export"
[ -s "$T_TMP/qlens-runs.csv" ] && [ "$(wc -l <"$T_TMP/qlens-runs.csv")" = 3 ] && pass "CSV export has 2 runs" || fail "CSV export"
grep -q '| RTN w4 g128 asym |' "$T_TMP/qlens-runs.md" && pass "Markdown export" || fail "Markdown export"
# Runs are labelled as qlens sweep / quant / imports label the model
# (results_label: no .bin), so they join in the Correlation view; the
# session above used the file name and is rewritten under the label.
keys Home d d
wait_for '^1 run of stories260K on tinystories-eval' "Runs view labels the model stories260K"
wait_for '[0-9] [A-Za-z]+ +stories260K\.bin' "tab bar still shows the file name"
grep -q '"model": *"stories260K"' "$T_TMP/session.json" && pass "session rewritten under the label" || fail "session rewritten under the label"
grep -q '"stories260K\.bin"' "$T_TMP/session.json" && fail "old file-name label left in the session" || pass "no file-name label left"

# Start the float baseline on the worker, see progress, cancel it.
keys P
wait_for 'float baseline PPL +[0-9]+%' "baseline runs on the worker with a progress bar"
keys 1 Down Down Enter   # token_embd, the blk.0 attention header, attn_norm
wait_for 'blk\.0\.attn_norm  64 F32  n=64' "keys still answered during the job (tensor opened)"
wait_for 'float baseline PPL +[0-9]+%' "job still running"
keys c
wait_for 'cancelled' "c cancels the job" 30

# A slow method on the worker: GPTQ calibrates the layer input first.
keys 1 Down Down 3 m
wait_for 'GPTQ 4 bit g128' "GPTQ selected"
wait_for 'SQNR' "GPTQ result arrives from the worker" 30
wait_for 'output err 0\.[0-9]' "layer-output error from calibration"

keys 5
wait_for 'Pearson r -?[0-9.]+ .*Spearman rho -?[0-9.]+ .* n [0-9]+' "correlation statistics"
keys t
wait_for 'mean \|r\| over [0-9]+ benchmarks' "correlation table"
keys t f m e t h o d = G P T Q Enter
wait_for 'where: method=GPTQ' "where filter on the correlation"
wait_for 'n [0-9]+' "statistics under the filter"
keys q
wait_exit 0 "quit"
grep -q '"RTN w4 g128 asym"' "$T_TMP/session.json" && pass "session file kept" || fail "session file kept"

# A missing model on a terminal: a message naming the file, exit 3 (I/O).
START_ARGS="'$T_TMP/missing.bin' 2>'$T_TMP/err'" start 80 24
wait_exit 3 "missing model"
expect_grep 'missing\.bin' "$T_TMP/err" "error names the file"

# Dashboard runs join lm-eval results imported into the session file (same
# model label and join key): the Correlation view pairs their PPL with the
# benchmark.
S2="$T_TMP/session2.json"
cat >"$S2" <<'EOF'
{"schema": "qlens-results/1", "source": "qlens dashboard session", "results": [
 {"id": "stories260K/float (F32 weights)", "model": "stories260K", "method": "float", "source": "qlens dashboard run",
  "bits": {"w": 16, "a": 16, "kv": 16}, "ppl": {"tinystories-eval": 7.8806}, "settings": {"spec": "float (F32 weights)", "bpw": 16}},
 {"id": "stories260K/RTN w8 g128 asym", "model": "stories260K", "method": "RTN", "source": "qlens dashboard run",
  "bits": {"w": 8, "a": 16, "kv": 16}, "group_size": 128, "ppl": {"tinystories-eval": 7.8702}, "settings": {"spec": "RTN w8 g128 asym", "bpw": 8.35}},
 {"id": "stories260K/RTN w4 g128 asym", "model": "stories260K", "method": "RTN", "source": "qlens dashboard run",
  "bits": {"w": 4, "a": 16, "kv": 16}, "group_size": 128, "ppl": {"tinystories-eval": 9.4706}, "settings": {"spec": "RTN w4 g128 asym", "bpw": 4.29}}]}
EOF
lm() { printf '{"results": {"hellaswag": {"acc,none": %s}}, "config": {"model_args": "pretrained=/m/stories260K"}}\n' "$1" >"$T_TMP/lm.json"; }
lm 0.30; "$QLENS_BIN" results import "$T_TMP/lm.json" --into "$S2" --method float --bits 16 >/dev/null 2>&1
lm 0.29; "$QLENS_BIN" results import "$T_TMP/lm.json" --into "$S2" --method RTN --bits 8 --group 128 >/dev/null 2>&1
lm 0.27; "$QLENS_BIN" results import "$T_TMP/lm.json" --into "$S2" --method RTN --bits 4 --group 128 >/dev/null 2>&1
[ "$(grep -c hellaswag "$S2")" = 3 ] && pass "lm-eval results joined into the dashboard runs" || fail "lm-eval import did not join ($(grep -c hellaswag "$S2"))"
START_ARGS= start 120 40 QLENS_SESSION="$S2"
wait_for 'blk\.0\.attn_q' "dashboard starts on the joined session"
keys 4
wait_for '^3 runs of stories260K' "the three runs"
keys 5 f m o d e l = s t o r i e s 2 6 0 K Enter
wait_for 'where: model=stories260K' "correlation filtered to this model"
# X/Y move by themselves to a pair with points: the only benchmark there
wait_for 'Y: hellaswag ' "the filter goes straight to the imported benchmark"
wait_for 'Pearson r -0\.9[0-9]+ .* n 3$' "dashboard PPL pairs with the lm-eval benchmark (n 3)"
keys q
t_done
