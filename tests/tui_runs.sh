#!/bin/sh
# Runs view, issue 13 items 2 and 5: runs keyed by context (a baseline at
# n_ctx 128 does not replace the 512 one; ctx column), the configuration
# column uses a wide screen, narrow screens scroll sideways, the sort
# column is marked, d asks before deleting and u undoes, bars are log,
# the plot's points are letters keyed to a legend.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux_lib.sh"
long="SpQR w2 g16 asym outliers=1 outlier_thr=0.2 qq_bits=3 qq_group=16 damp=0.01"
cat >"$T_TMP/session.json" <<JSON
{"schema": "qlens-results/1", "source": "qlens dashboard session", "results": [
 {"id": "stories260K/float (F32 weights)", "model": "stories260K", "source": "qlens dashboard run",
  "method": "float", "bits": {"w": 16, "a": 16, "kv": 16},
  "ppl": {"tinystories-eval": {"value": 7.8806, "stderr": 0.085}}, "memory_gb": 0.000484,
  "settings": {"spec": "float (F32 weights)", "bpw": 16, "size_mib": 0.496, "kl": 0, "top1": 1,
  "base_ppl": 0, "seconds": 6.5, "n_ctx": 512, "n_chunks": 303, "sym": 1}},
 {"id": "stories260K/float (F32 weights) ctx128", "model": "stories260K", "source": "qlens dashboard run",
  "method": "float", "bits": {"w": 16, "a": 16, "kv": 16},
  "ppl": {"tinystories-eval": {"value": 9.61, "stderr": 0.1}}, "memory_gb": 0.000484,
  "settings": {"spec": "float (F32 weights)", "bpw": 16, "size_mib": 0.496, "kl": 0, "top1": 1,
  "base_ppl": 0, "seconds": 6.5, "n_ctx": 128, "n_chunks": 1212, "sym": 1}},
 {"id": "stories260K/$long", "model": "stories260K", "source": "qlens dashboard run",
  "method": "SpQR", "bits": {"w": 2, "a": 16, "kv": 16}, "group_size": 16,
  "ppl": {"tinystories-eval": {"value": 22.7, "stderr": 0.3}}, "memory_gb": 0.0002,
  "settings": {"spec": "$long", "bpw": 5.5, "size_mib": 0.2, "kl": 0.9, "top1": 0.6,
  "base_ppl": 0, "seconds": 12, "n_ctx": 512, "n_chunks": 303, "sym": 0}}]}
JSON
start 200 30
wait_for 'blk\.0\.attn_q' "dashboard starts at 200 columns"
keys 4
wait_for "^float \(F32 weights\) .* 512 *$" "the n_ctx 512 baseline, with its ctx"
wait_for "^float \(F32 weights\) .* 128 *$" "the n_ctx 128 baseline is its own row"
wait_for "$long" "a long configuration is shown whole at 200 columns"
wait_for "^$long .* \+188\.0[0-9] " "dPPL against the baseline of the same context"
keys s
wait_for 'Bits\^' "the sort column is marked"
keys v
wait_for 'PPL per configuration \(log scale from 3\.94' "bar chart on a log scale"
keys v
wait_for 'line = Pareto front' "size-vs-PPL plot"
wait_for ' b\* PPL 7\.881 +0\.496 MiB  float \(F32 weights\)' "plot legend: letter, PPL, size, configuration"
wait_for ' a\* PPL 22\.7 .* SpQR w2 g16' "the Pareto front is starred in the legend"
wait_for ' c  PPL 9\.61 ' "a run off the front is not"
cap # the plot is left of the legend
n=$(sed -E 's/ [abc][* ] PPL .*//' "$SCREEN" | grep -cE '^[ 0-9.]{8}.*[abc]')
[ "$n" -ge 3 ] && pass "the points are drawn as their letters" || fail "letters on $n plot rows, not 3"
keys v Home d
wait_for 'd again deletes "' "d asks first"
keys j
wait_for '^3 runs of stories260K' "another key keeps the run"
keys Home d d
wait_for '^2 runs of stories260K' "d d deletes"
wait_for 'u brings it back' "and says how to undo"
keys u
wait_for '^3 runs of stories260K' "u brings it back"
keys q
start 80 24
wait_for 'blk\.0\.attn_q' "dashboard starts at 80 columns"
keys 4
wait_for 'Configuration.* >$' "narrow: the header says more columns are to the right"
keys Right Right Right Right
wait_for 'Time s' "Right scrolls to the last columns"
wait_for '^Configuration.*< ' "and marks the hidden ones on the left"
keys q
t_done
