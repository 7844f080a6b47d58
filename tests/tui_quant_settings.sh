#!/bin/sh
# Quant view settings, issue 13 items 3 and 4: bits, group and symmetry
# stay across methods, bits/weight next to the bits, direct entry with
# ':', M steps back; numbers of other settings are marked STALE while a
# job runs, and a job's finish message is not overwritten; the Runs view
# warns when runs of the same Bits differ in storage.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux_lib.sh"
cat >"$T_TMP/session.json" <<'JSON'
{"schema": "qlens-results/1", "source": "qlens dashboard session", "results": [
 {"id": "stories260K/GPTQ w2 g128 asym", "model": "stories260K", "source": "qlens dashboard run", "method": "GPTQ",
  "bits": {"w": 2, "a": 16, "kv": 16}, "group_size": 128,
  "ppl": {"tinystories-eval": {"value": 60.1, "stderr": 1}}, "memory_gb": 0.0001,
  "settings": {"spec": "GPTQ w2 g128 asym", "bpw": 2.26, "size_mib": 0.1, "kl": 1, "top1": 0.4,
  "base_ppl": 7.88, "seconds": 9, "n_ctx": 512, "n_chunks": 303, "sym": 0}},
 {"id": "stories260K/SpQR w2 g16 asym", "model": "stories260K", "source": "qlens dashboard run", "method": "SpQR",
  "bits": {"w": 2, "a": 16, "kv": 16}, "group_size": 16,
  "ppl": {"tinystories-eval": {"value": 11.2, "stderr": 1}}, "memory_gb": 0.0002,
  "settings": {"spec": "SpQR w2 g16 asym", "bpw": 5.5, "size_mib": 0.2, "kl": 0.2, "top1": 0.8,
  "base_ppl": 7.88, "seconds": 12, "n_ctx": 512, "n_chunks": 303, "sym": 0}}]}
JSON
start 120 40
wait_for 'blk\.0\.attn_q' "dashboard starts"
keys 4
wait_for 'runs at 2 bits store 2\.26-5\.50 bits/weight: compare PPL at equal b/w' "Runs: storage warning for equal Bits"
keys /; sleep 0.2
keys 1; keys /; type_text blk.1.ffn_down; keys Enter 3
wait_for 'RTN 4 bit g128 asym = 4\.2[0-9] bits/weight' "bits/weight next to the bits"
keys B B g a
wait_for 'RTN 2 bit g256 sym = ' "RTN 2 bit g256 sym"
keys m
wait_for 'GPTQ 2 bit g256 sym' "m keeps bits, group and symmetry"
wait_for 'GPTQ 2 bit g256 sym damp=[0-9.]+ = 2\.[0-9]+ bits/weight' "GPTQ result with its bits/weight" 30
keys M
wait_for 'RTN 2 bit g256 sym = ' "M steps back to RTN, settings kept"
keys :
wait_for 'set \(method spqr, bits 2, group 16\): _' "the : prompt opens"
type_text "method spqr, bits 3, group 16, asym"; keys Enter
wait_for 'SpQR 3 bit g16 asym outliers=1 = [0-9.]+ bits/weight' "direct entry sets every setting" 30
keys :; type_text "bits 11"; keys Enter
wait_for 'bits wants 2\.\.8, got .11.' "a bad entry is named"
wait_for 'SpQR 3 bit g16 asym' "and changes nothing"
# While the float baseline runs, a method change cannot run yet: the old
# numbers are marked, and the job's end message survives the refresh.
keys M M M
wait_for 'RTN 3 bit g16 asym' "back to RTN"
wait_gone '[|] c cancels' 120   # the methods stepped past (AWQ, GPTQ) may still run
keys 4 P 3
wait_for 'float baseline PPL +[0-9]+%' "baseline job running"
keys m
wait_for 'STALE: these numbers are for RTN w3 g16 asym' "old numbers marked STALE under the new title"
keys c
wait_for 'baseline: cancelled' "the job's end message" 30
wait_for 'GPTQ 3 bit g16 asym damp=[0-9.]+ = ' "the waiting settings run after the job" 30
wait_for 'baseline: cancelled' "the end message is still there"
keys q
t_done
