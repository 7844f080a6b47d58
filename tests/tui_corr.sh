#!/bin/sh
# Correlation view, issue 13 item 6 (part): s and r are no longer listed
# there (they said nothing and did nothing); F steps through model
# families (case and separator variants joined, only families with a
# perplexity); the view says how to bring benchmark scores to your runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux_lib.sh"
cat >"$T_TMP/session.json" <<'JSON'
{"schema": "qlens-results/1", "source": "qlens dashboard session", "results": [
 {"id": "stories260K/float (F32 weights)", "model": "stories260K", "source": "qlens dashboard run",
  "method": "float", "bits": {"w": 16, "a": 16, "kv": 16},
  "ppl": {"tinystories-eval": {"value": 7.8806, "stderr": 0.085}}, "memory_gb": 0.000484,
  "settings": {"spec": "float (F32 weights)", "bpw": 16, "size_mib": 0.496, "kl": 0, "top1": 1,
  "base_ppl": 0, "seconds": 6.5, "n_ctx": 512, "n_chunks": 303, "sym": 1}}]}
JSON
start 160 40
wait_for 'blk\.0\.attn_q' "dashboard starts"
keys 5
wait_for 'Pearson r' "correlation view"
wait_for 'Your 1 runs have no benchmark scores yet: qlens results import LM-EVAL\.json --into .*session\.json' "says how to add benchmark scores to your runs"
keys s
wait_for 's does nothing in the Correlation view' "s is not a Correlation key"
keys '?'
wait_for 'Keys in the Correlation view' "help"
absent 'sort by the next column' "help does not list sorting there"
keys Escape
: >"$T_TMP/fams"
i=0
while [ $i -lt 40 ]; do
    keys F; sleep 0.15; cap
    sed -n 's/.*models: \([^ ]*\) .*/\1/p' "$SCREEN" | head -1 >>"$T_TMP/fams"
    i=$((i + 1))
done
n=$(sort -u "$T_TMP/fams" | wc -l)
[ "$n" -ge 3 ] && [ "$n" -le 20 ] && pass "F steps through $n families" || fail "F shows $n names"
grep -qi 'chatglm3\|ChatGLM3_6B\|llama2' "$T_TMP/fams" && fail "model names, not families: $(sort -u "$T_TMP/fams" | tr '\n' ' ')" ||
    pass "families, not model names ($(sort -u "$T_TMP/fams" | tr '\n' ' '))"
keys q
t_done
