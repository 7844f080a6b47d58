#!/bin/sh
# Divergence view (issue 13 item 11, issue 10 item 2): Enter on a run in
# the Runs view computes its layer-wise divergence and KL attribution on
# the worker thread and shows it, the tensors contributing most KL first;
# the numbers on the screen equal `qlens divergence --kl-attrib` for the
# same configuration and settings; s re-sorts (where the error enters,
# accumulated), Enter opens a tensor, the float run is refused with a
# reason, c cancels a long computation, 8 shows the view again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux_lib.sh"
cat >"$T_TMP/session.json" <<JSON
{"schema": "qlens-results/1", "source": "qlens dashboard session", "results": [
 {"id": "stories260K/RTN w4 g128 asym ctx128", "model": "stories260K", "source": "qlens dashboard run",
  "method": "RTN", "bits": {"w": 4, "a": 16, "kv": 16}, "group_size": 128,
  "ppl": {"tinystories-eval": {"value": 11.0, "stderr": 0.1}}, "memory_gb": 0.0002,
  "settings": {"spec": "RTN w4 g128 asym", "bpw": 4.29, "size_mib": 0.18, "kl": 0.16, "top1": 0.81,
  "base_ppl": 0, "seconds": 3, "n_ctx": 128, "n_chunks": 6, "sym": 0}},
 {"id": "stories260K/float (F32 weights) ctx128", "model": "stories260K", "source": "qlens dashboard run",
  "method": "float", "bits": {"w": 16, "a": 16, "kv": 16},
  "ppl": {"tinystories-eval": {"value": 9.61, "stderr": 0.1}}, "memory_gb": 0.000484,
  "settings": {"spec": "float (F32 weights)", "bpw": 16, "size_mib": 0.496, "kl": 0, "top1": 1,
  "base_ppl": 0, "seconds": 6.5, "n_ctx": 128, "n_chunks": 1212, "sym": 1}},
 {"id": "stories260K/RTN w3 g128 asym", "model": "stories260K", "source": "qlens dashboard run",
  "method": "RTN", "bits": {"w": 3, "a": 16, "kv": 16}, "group_size": 128,
  "ppl": {"tinystories-eval": {"value": 20.0, "stderr": 0.1}}, "memory_gb": 0.0002,
  "settings": {"spec": "RTN w3 g128 asym", "bpw": 3.29, "size_mib": 0.15, "kl": 0.5, "top1": 0.6,
  "base_ppl": 0, "seconds": 30, "n_ctx": 512, "n_chunks": 303, "sym": 0}}]}
JSON
# the reference: the CLI on the same configuration, context and chunks
"$QLENS_BIN" divergence --method rtn --bits 4 --group 128 --asym --ctx 128 --chunks 6 --kl-attrib --json \
    >"$T_TMP/ref.json" 2>"$T_TMP/ref.err" || { fail "qlens divergence"; cat "$T_TMP/ref.err"; t_done; }
ref() { python3 -c "import json,sys; d=json.load(open('$T_TMP/ref.json')); $1"; }
kl=$(ref "print('%.4f' % d['kl']['mean'])")
first=$(ref "print(d['kl_rank'][0])")
first_dkl=$(ref "r=[x for x in d['rows'] if x['name']==d['kl_rank'][0]][0]; print('%+.5f' % r['kl_delta'])")
entry=$(ref "print(d['entry_rank'][0])")
acc_first=$(ref "r=max((x for x in d['rows'] if x['kind']=='linear'), key=lambda x: x['acc']['rel_mean']); print(r['name'])")

start 100 34
wait_for 'blk\.0\.attn_q' "dashboard starts"
keys 8
wait_for 'No divergence yet\. In the Runs view' "the empty view says how to fill it"
keys 4
wait_for '^RTN w4 g128 asym ' "the runs are listed"
keys Home Enter
wait_for "^RTN w4 g128 asym vs float: KL mean $kl, .*n_ctx 128, 6 chunks, 378 tokens" "Enter computes the run's divergence: KL as qlens divergence" 60
wait_for "most KL comes from $first" "the status line names the largest KL contribution"
wait_for "^Tensor +dKLv +%KL +Local +Acc " "the table sorted by KL contribution, marked"
wait_for "^$(echo "$first" | sed 's/\./\\./g') +\\$first_dkl " "first row = the CLI's largest dKL, same value"
wait_for '^block +0 +1 +2 +3 +4' "the depth chart labels the five blocks"
keys s
wait_for 'tensors sorted by local rel' "s sorts by the local error"
wait_for "^$(echo "$entry" | sed 's/\./\\./g') " "first row = where the CLI says the error enters"
keys s
wait_for 'tensors sorted by accumulated rel' "s again: by the accumulated error"
wait_for "^$(echo "$acc_first" | sed 's/\./\\./g') " "first row = the largest accumulated error"
keys Enter
wait_for "^$(echo "$acc_first" | sed 's/\./\\./g') +[0-9]+x[0-9]+ " "Enter opens that tensor in the Tensor view"
keys 4
wait_for '^RTN w4 g128 asym ' "back in the Runs view"
keys Home j Enter
wait_for 'is the float model: there is nothing to compare' "the float run is refused with the reason"
keys 4 End Enter
wait_for 'started: divergence of RTN w3 g128 asym' "the long run starts as a job"
wait_for 'Computing the divergence of RTN w3|\[computing another run\]' "the view says it is computing"
keys c
wait_for 'divergence: cancelled' "c cancels it" 30
keys 8
wait_for "^RTN w4 g128 asym vs float: KL mean $kl" "8 shows the last result again"
keys q
t_done
