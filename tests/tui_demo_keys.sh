#!/bin/sh
# The scripted demo of issue 13, end to end on stories260K: find the
# outlier layer, 2-bit GPTQ breaks it, SpQR keeps its outliers, the
# perplexity table of float / GPTQ-2 / SpQR-2, then the correlation with
# the papers' benchmarks.  Bounded waits; whole-model runs take minutes on
# a loaded machine.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux_lib.sh"
num() { grep -oE "$1" "$SCREEN" | head -1 | grep -oE '[0-9]+\.[0-9]+' | head -1; }
start 160 45
wait_for 'blk\.0\.attn_q' "1. the dashboard opens stories260K"
# The outlier layer: the calibration pass, then sort by activation kurtosis.
keys C
wait_for 'calibration done' "calibration pass" 90
keys s s s s s s s s s
wait_for 'A\.Kurtv' "sorted by activation kurtosis, largest first"
wait_for '^blk\.0\.ffn_down .* 78\.[0-9]+ ' "blk.0.ffn_down's input (kurtosis ~79) leads the list"
keys Home Enter
wait_for '^blk\.0\.ffn_down  64x172' "its Tensor view"
# 2-bit GPTQ on it, then SpQR on the same bits.
keys 3 :
type_text "method gptq, bits 2, group 128, asym"; keys Enter
wait_for 'GPTQ 2 bit g128 asym damp=[0-9.]+ = [0-9.]+ bits/weight' "2. GPTQ 2-bit on the outlier layer" 60
gerr=$(num 'output err [0-9.]+')
keys :
type_text "method spqr, bits 2, group 16"; keys Enter
wait_for 'SpQR 2 bit g16 asym outliers=1 = [0-9.]+ bits/weight' "3. SpQR 2-bit" 60
wait_for 'kept in float \([1-9][0-9]*\)' "SpQR keeps outliers, marked on the error map"
serr=$(num 'output err [0-9.]+')
awk -v g="$gerr" -v s="$serr" 'BEGIN { exit !(s < g) }' && pass "SpQR's layer-output error $serr < GPTQ's $gerr" ||
    fail "SpQR output error $serr not below GPTQ $gerr"
# Whole model: both configurations and the float baseline.
keys A 4
wait_for '^SpQR w2 g16 asym.* [0-9]+\.[0-9]+\+-' "4. SpQR 2-bit on every layer, perplexity" 600
keys 3 :
type_text "method gptq, group 128"; keys Enter
wait_for 'GPTQ 2 bit g128 asym damp=[0-9.]+ = ' "GPTQ again on the layer (one job at a time)" 60
keys A 4
wait_for '^GPTQ w2 g128 asym.* [0-9]+\.[0-9]+\+-' "GPTQ 2-bit on every layer, perplexity" 600
keys P
wait_for '^float \(F32 weights\) .* [0-9]+\.[0-9]+\+-' "float baseline" 300
wait_for '^3 runs of stories260K' "the perplexity table"
cap
pf=$(grep -E '^float \(F32 weights\)' "$SCREEN" | grep -oE '[0-9]+\.[0-9]+\+-' | head -1 | tr -d '+-')
pg=$(grep -E '^GPTQ w2 g128' "$SCREEN" | grep -oE '[0-9]+\.[0-9]+\+-' | head -1 | tr -d '+-')
ps=$(grep -E '^SpQR w2 g16' "$SCREEN" | grep -oE '[0-9]+\.[0-9]+\+-' | head -1 | tr -d '+-')
awk -v f="$pf" -v g="$pg" -v s="$ps" 'BEGIN { exit !(f > 0 && f < s && s < g) }' &&
    pass "PPL float $pf < SpQR-2 $ps < GPTQ-2 $pg" || fail "PPL order: float $pf, SpQR $ps, GPTQ $pg"
wait_for 'runs at 2 bits store [0-9.]+-[0-9.]+ bits/weight' "the table warns the two 2-bit runs differ in storage"
keys 5
wait_for 'Pearson r -?[0-9.]+ .* n [0-9]+' "5. correlation of perplexity with benchmarks"
keys t
wait_for 'mean \|r\| over [0-9]+ benchmarks' "the table of r for every benchmark"
keys q
t_done
