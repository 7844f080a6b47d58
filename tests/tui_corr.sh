#!/bin/sh
# Correlation view, issue 13 item 6: s and r are not listed there (they
# did nothing); F steps through model families (case and separator
# variants joined, only families with a perplexity); points are letters
# keyed to a legend by method; the line is fitted in the axes it is drawn
# in (log x: in log10 x); p is the Jin et al. Table 3 preset; i imports
# lm-eval results into the session and your runs then show as points.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux_lib.sh"
run() { # id method bits group ppl
    printf ' {"id": "stories260K/%s", "model": "stories260K", "source": "qlens dashboard run",
  "method": "%s", "bits": {"w": %s, "a": 16, "kv": 16}, "group_size": %s,
  "ppl": {"tinystories-eval": {"value": %s, "stderr": 0.085}}, "memory_gb": 0.000484,
  "settings": {"spec": "%s", "bpw": %s, "size_mib": 0.496, "kl": 0, "top1": 1,
  "base_ppl": 0, "seconds": 6.5, "n_ctx": 512, "n_chunks": 303, "sym": 0}}' "$1" "$2" "$3" "$4" "$5" "$1" "$3"
}
{
    echo '{"schema": "qlens-results/1", "source": "qlens dashboard session", "results": ['
    run "float (F32 weights)" float 16 null 7.8806; echo ,
    run "RTN w4 g128 asym" RTN 4 128 9.31; echo ,
    run "RTN w2 g128 asym" RTN 2 128 40.1
    echo ']}'
} >"$T_TMP/session.json"
lm() { # file acc
    printf '{"results": {"arc_easy": {"alias": "arc_easy", "acc,none": %s, "acc_stderr,none": 0.01}},
 "config": {"model": "hf", "model_args": "pretrained=./x"}}\n' "$2" >"$T_TMP/$1"
}
lm lm16.json 0.6; lm lm4.json 0.5; lm lm2.json 0.25
start 160 40
wait_for 'blk\.0\.attn_q' "dashboard starts"
keys 5
wait_for 'Pearson r' "correlation view"
wait_for 'Your 3 runs have no benchmark scores yet: i imports an lm-eval results file' "says how to add benchmark scores to your runs"
wait_for '^legend: B BF16 3  L LLM\.int8\(\) 3  G GPTQ 12  S SpQR 12' "points keyed to a legend by method"
cap
n=$(grep -cE '^[ 0-9.e+-]{8}.*[BLGS]' "$SCREEN")
[ "$n" -ge 5 ] && pass "the points are drawn as their letters ($n rows)" || fail "letters on $n rows"
wait_for '^line: mmlu_stem = [0-9.]+ - [0-9.]+ log10\(ppl_mean\) \(least squares in the log axes drawn\)' \
    "on a log x axis the line is fitted in log10 x"
keys s
wait_for 's does nothing in the Correlation view' "s is not a Correlation key"
keys '?'
wait_for 'Keys in the Correlation view' "help"
absent 'sort by the next column' "help does not list sorting there"
wait_for 'Jin et al\. Table 3 preset' "help lists the preset"
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
# the Jin et al. Table 3 preset: the paper's selection, every benchmark
keys p
wait_for 'where: model=Qwen\*,method=GPTQ\|SpQR,bits=3\.\.4' "p sets the paper's selection"
wait_for 'mean \|r\| over 27 benchmarks with >= 3 pairs: 0\.8648 +\(Jin et al\. Table 3 reports 0\.7895\)' \
    "p shows the table with the paper's number beside ours"
# import lm-eval results from the view: the first joins the run selected
# in the Runs view (the float baseline), the others name their run
keys 4 Home 5 i
wait_for 'import lm-eval JSON for stories260K/float \(F32 weights\)' "i asks for a file, naming the run it joins"
type_text lm16.json; keys Enter
wait_for 'lm16\.json: lm-eval, 0 added, 1 joined into .*session\.json' "the import joins the selected run"
keys i; type_text 'lm4.json method RTN bits 4 group 128'; keys Enter
wait_for 'lm4\.json: lm-eval, 0 added, 1 joined' "method/bits/group name another run"
keys i; type_text 'lm2.json method RTN bits 2 group 128'; keys Enter
wait_for 'lm2\.json: lm-eval, 0 added, 1 joined' "third import"
keys i; type_text 'missing.json'; keys Enter
wait_for 'import: .*missing\.json' "a missing file is named"
keys f; type_text 'model=stories260K'; keys Enter
wait_for 'X: ppl_mean +Y: arc_easy ' "a filter to your model moves to the benchmark you imported"
keys t
wait_for 'n 3$' "your three runs are the points (t: back to the scatter)"
wait_for '^legend: f float \(your runs\) 1  r RTN \(your runs\) 2' "your runs in the legend"
absent 'Your 3 runs' "no hint once they are plotted"
grep -c arc_easy "$T_TMP/session.json" | grep -qx 3 && pass "the session file holds the scores" ||
    fail "session file: $(grep -c arc_easy "$T_TMP/session.json") runs with arc_easy"
keys q
# 80 columns: the equation of the line and what to do stay whole
start 80 24
wait_for 'blk\.0\.attn_q' "dashboard starts at 80 columns"
keys 5
wait_for '^line: mmlu_stem = [0-9.]+ - [0-9.]+ log10\(ppl_mean\) *$' "the line's equation whole at 80 columns"
wait_for '^Your 3 runs lack X or Y here: x/y pick others, i imports *$' "the hint about your runs whole"
keys q
t_done
