#!/bin/sh
# qlens quant / qlens sweep end to end on stories260K: usage errors, JSON
# output parsed, the saved GGUF reproduces the quantized perplexity, a
# sweep writes a valid results file and CSV, SIGINT cancels with 130.
. tests/lib.sh
Q=$QLENS_BIN
D=$QLENS_SHARED/data
SMALL="--ctx 128 --chunks 3 --calib-ctx 128 --calib-chunks 4"

# jcheck FILE 'python expression on d' NAME
jcheck() {
    if python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1" 2>"$T_TMP/pyerr"; then
        pass "$3"; else fail "$3"; head -c 600 "$1" | sed 's/^/  | /'; sed 's/^/  py: /' "$T_TMP/pyerr"; fi
}

expect_rc 0 "quant --help" -- "$Q" quant --help
for m in rtn gptq awq spqr llm.int8 smoothquant; do
    expect_grep "^  $m " "$T_TMP/out" "help lists method $m"
done
expect_grep "tinystories-calib.txt" "$T_TMP/out" "help names the default calibration text"
expect_rc 0 "sweep --help" -- "$Q" sweep --help
expect_grep "--append" "$T_TMP/out" "sweep help lists --append"

# usage errors
expect_rc 2 "quant without --method" -- "$Q" quant --bits 4
expect_rc 2 "quant unknown method" -- "$Q" quant --method nope
expect_grep "nope" "$T_TMP/err" "unknown method named in the message"
expect_rc 2 "quant --bits 9" -- "$Q" quant --method rtn --bits 9
expect_rc 2 "quant --kv-axis bad" -- "$Q" quant --method rtn --kv-axis diagonal
expect_rc 2 "quant unknown option" -- "$Q" quant --method rtn --frobnicate
expect_rc 2 "sweep list longer than it holds is refused, not cut" -- "$Q" sweep --methods rtn --bits "$(printf '4,%.0s' $(seq 32))4" --out "$T_TMP/long.json"
expect_grep "bits: more than 32 values" "$T_TMP/err" "long list says the limit"
expect_rc 2 "quant bad --opt" -- "$Q" quant --method gptq --opt damp=-3
expect_rc 2 "sweep without --out" -- "$Q" sweep --methods rtn --bits 4
expect_rc 2 "sweep bad bits list" -- "$Q" sweep --methods rtn --bits 4,x --out "$T_TMP/s.json"
expect_rc 2 "sweep with a misspelt method stops before running" -- "$Q" sweep --methods rtn,gtpq --bits 4 --out "$T_TMP/s.json"
expect_grep "unknown method 'gtpq'" "$T_TMP/err" "the misspelt method is named"

# data errors
expect_rc 3 "quant missing eval text" -- "$Q" quant --method rtn --eval "$T_TMP/none.txt"
head -c 3000 "$D/tinystories-eval.txt" >"$T_TMP/short.txt"
expect_rc 2 "quant with overlapping calib/eval" -- "$Q" quant --method gptq --calib "$T_TMP/short.txt" --eval "$T_TMP/short.txt"
expect_grep "also appear" "$T_TMP/err" "overlap is explained"
expect_rc 0 "RTN reads no calibration text (no overlap check)" -- "$Q" quant --method rtn --calib "$T_TMP/short.txt" --eval "$T_TMP/short.txt" --ctx 64 --calib-ctx 64
head -c 200 "$D/tinystories-calib.txt" >"$T_TMP/tiny.txt"
expect_rc 1 "quant with too short calibration text" -- "$Q" quant --method gptq --calib "$T_TMP/tiny.txt" $SMALL
expect_grep "too short" "$T_TMP/err" "short calibration text is explained"

# RTN 8-bit: JSON parses and is near lossless
expect_rc 0 "quant rtn 8 --json" -- "$Q" quant --method rtn --bits 8 $SMALL --json
cp "$T_TMP/out" "$T_TMP/rtn8.json"
jcheck "$T_TMP/rtn8.json" 'd["method"]=="RTN" and d["bits"]==8 and len(d["layers"])==35 and abs(d["delta_ppl_pct"])<1 and d["kl"]["mean"]<0.01 and 8<d["bits_per_weight"]<8.6 and d["size_mib"]<d["size_mib_float"] and d["eval"]["chunks"]==3' "rtn 8: 35 layers, |dPPL|<1%, KL small, 8.x bits/weight"

# GPTQ 3-bit, saved as GGUF; qlens ppl on the file gives the same PPL
expect_rc 0 "quant gptq 3 --save-gguf" -- "$Q" quant --method gptq --bits 3 $SMALL --json --save-gguf "$T_TMP/q3.gguf"
cp "$T_TMP/out" "$T_TMP/gptq3.json"
jcheck "$T_TMP/gptq3.json" 'd["method"]=="GPTQ" and d["calib"]["chunks"]==4 and d["kl"]["mean"]>0 and d["ppl"]>d["ppl_float"] and all(l["out_err"]>=0 for l in d["layers"])' "gptq 3: calibrated, KL and PPL worse than float"
expect_rc 0 "ppl on the saved GGUF" -- "$Q" ppl "$T_TMP/q3.gguf" "$D/tinystories-eval.txt" --ctx 128 --chunks 3 --json
python3 - "$T_TMP/out" "$T_TMP/gptq3.json" <<'PY' && pass "saved GGUF reproduces the quantized PPL" || fail "saved GGUF PPL differs"
import json, sys
a = json.load(open(sys.argv[1]))["ppl"]; b = json.load(open(sys.argv[2]))["ppl"]
sys.exit(0 if abs(a - b) <= 1e-4 * b else 1)
PY

# per-block capture, classifier and embedding included (tied: one token_embd)
expect_rc 0 "quant --per-block --quant-output --quant-embed" -- "$Q" quant --method gptq --bits 4 --per-block --quant-output --quant-embed $SMALL --json
jcheck "$T_TMP/out" 'd["sequential"]==False and len(d["layers"])==36 and d["layers"][-1]["name"]=="token_embd" and d["quantized_weights"]==d["params"]-(5*2*64+64)' "per-block run quantizes the 35 linears and the tied token_embd"

# an untied classifier on a generated Qwen2-style model (GQA, q/k/v biases)
G=${QLENS_BUILD:-build}/tests/tool_genmodel
expect_rc 0 "generate a small qwen2 GGUF" -- "$G" --format gguf --dim 64 --hidden 128 --layers 2 --heads 4 --kv-heads 2 --vocab 32000 --ctx 256 --arch qwen2 --vocab-from "$QLENS_SHARED/reference/tokenizer/ggml-vocab-llama-spm.gguf" "$T_TMP/qwen.gguf"
expect_rc 0 "quant qwen2 awq + output + W8A8 + KV8" -- "$Q" quant "$T_TMP/qwen.gguf" --method awq --bits 4 --quant-output --act-bits 8 --kv-bits 8 --ctx 64 --chunks 2 --calib-ctx 64 --calib-chunks 2 --json
jcheck "$T_TMP/out" 'len(d["layers"])==15 and d["layers"][-1]["name"]=="output" and d["layers"][-1]["rows"]==32000 and d["act_bits"]==8 and d["kl"]["mean"]>0' "untied output quantized last, with calibration"

# BOS rule shared with qlens ppl: a gpt2-style vocabulary adds no BOS by
# default, so chunks keep their first token; quant and sweep must score the
# same tokens as ppl (same float perplexity)
expect_rc 0 "generate a gpt2-vocab GGUF" -- "$G" --format gguf --dim 32 --hidden 64 --layers 1 --heads 2 --kv-heads 2 --vocab 50257 --ctx 128 --vocab-from "$QLENS_SHARED/reference/tokenizer/ggml-vocab-gpt-2.gguf" "$T_TMP/gpt2.gguf"
expect_rc 0 "ppl on the gpt2-vocab model" -- "$Q" ppl "$T_TMP/gpt2.gguf" "$D/tinystories-eval.txt" --ctx 64 --chunks 3 --json
cp "$T_TMP/out" "$T_TMP/gpt2-ppl.json"
expect_rc 0 "quant --bits 16 on the gpt2-vocab model" -- "$Q" quant "$T_TMP/gpt2.gguf" --method rtn --bits 16 --ctx 64 --chunks 3 --json
cp "$T_TMP/out" "$T_TMP/gpt2-quant.json"
expect_rc 0 "sweep float baseline on the gpt2-vocab model" -- "$Q" sweep "$T_TMP/gpt2.gguf" --methods rtn --bits 16 --ctx 64 --chunks 3 --out "$T_TMP/gpt2-sweep.json"
python3 - "$T_TMP/gpt2-ppl.json" "$T_TMP/gpt2-quant.json" "$T_TMP/gpt2-sweep.json" <<'PY' && pass "quant/sweep float PPL = ppl PPL without BOS (gpt2 vocab)" || fail "quant/sweep float PPL differs from ppl"
import json, sys
p = json.load(open(sys.argv[1]))["ppl"]; q = json.load(open(sys.argv[2]))
s = [e for e in json.load(open(sys.argv[3]))["results"] if e["method"] == "float"][0]
sp = list(s["ppl"].values())[0]; sp = sp["value"] if isinstance(sp, dict) else sp
ok = all(abs(x - p) <= 1e-6 * p for x in (q["ppl_float"], q["ppl"], sp))
print(p, q["ppl_float"], q["ppl"], sp); sys.exit(0 if ok else 1)
PY

# W8A8 and KV4 rows run and say what they did
expect_rc 0 "quant smoothquant (W8A8 by default)" -- "$Q" quant --method smoothquant $SMALL --json
jcheck "$T_TMP/out" 'd["act_bits"]==8 and d["bits"]==8 and abs(d["delta_ppl_pct"])<5 and d["spec"].endswith(" a8")' "smoothquant defaults to W8A8, small change"
expect_rc 0 "quant float weights + KV4 (channel)" -- "$Q" quant --method rtn --bits 16 --kv-bits 4 --kv-axis channel $SMALL --json
jcheck "$T_TMP/out" 'd["kv_bits"]==4 and d["kv_axis"]=="channel" and d["bits_per_weight"]==16 and d["quantized_weights"]==0 and d["kl"]["mean"]>0 and d["spec"]=="float kv4-channel"' "KV4 with float weights (spec names the configuration as sweep ids do)"
expect_rc 0 "quant text output" -- "$Q" quant --method awq --bits 4 $SMALL --layers
expect_grep "^perplexity " "$T_TMP/out" "text output has the perplexity line"
expect_grep "^blk.4.ffn_down " "$T_TMP/out" "--layers prints every tensor"

# sweep: one results file, a CSV, the skipped combination is noted
expect_rc 0 "sweep" -- "$Q" sweep --methods rtn,llm.int8 --bits 8,4 --groups 0 $SMALL --out "$T_TMP/s.json" --csv "$T_TMP/s.csv"
expect_grep "LLM.int8 is an 8-bit method" "$T_TMP/err" "sweep notes the skipped LLM.int8 4-bit"
jcheck "$T_TMP/s.json" 'd["schema"]=="qlens-results/1" and len(d["results"])==4 and d["results"][0]["method"]=="float" and all("tinystories-eval" in e["ppl"] for e in d["results"]) and all("kl_mean" in e["settings"] for e in d["results"]) and any(n.startswith("skipped") for n in d["notes"])' "sweep file: float + 3 runs, perplexity, KL, notes"
if [ "$(wc -l <"$T_TMP/s.csv")" = 5 ]; then pass "CSV has a header and 4 rows"; else fail "CSV rows"; cat "$T_TMP/s.csv"; fi
expect_rc 0 "results show reads the sweep file" -- "$Q" results list --store "$T_TMP/s.json"
expect_rc 0 "sweep --append (KV8, float weights)" -- "$Q" sweep --methods rtn --bits 16 --kv-bits 8 $SMALL --out "$T_TMP/s.json" --append
jcheck "$T_TMP/s.json" 'len(d["results"])==5 and any(e["bits"]["kv"]==8 and e["bits"]["w"]==16 for e in d["results"])' "append adds the KV8 row, keeps the rest"

expect_rc 0 "sweep --json" -- "$Q" sweep --methods gptq --bits 4 --opts 'act_order=0;act_order=1' $SMALL --out "$T_TMP/s2.json" --json
jcheck "$T_TMP/out" 'len(d["results"])==3 and len(set(e["id"] for e in d["results"]))==3 and d==json.load(open(sys.argv[1].replace("/out","/s2.json")))' "sweep --json prints the file it wrote (option alternatives get their own ids)"

# the float logits kept across a sweep (default) give the same numbers as
# recomputing them for every configuration (--kl-cache-mib 0)
for mib in 0 1024; do
    expect_rc 0 "sweep --kl-cache-mib $mib" -- "$Q" sweep --methods rtn --bits 4 --kv-bits 0,8 $SMALL --out "$T_TMP/c$mib.json"
done
expect_rc 0 "sweep --kl-cache-mib 0 says nothing about the cache" -- "$Q" sweep --methods rtn --bits 4 $SMALL --kl-cache-mib 0 --out "$T_TMP/cz.json"
if grep -q "do not fit" "$T_TMP/err"; then fail "cache off: no 'do not fit' message"; else pass "cache off: no 'do not fit' message"; fi
head -c 120000 "$D/tinystories-eval.txt" >"$T_TMP/ev120k.txt"
expect_rc 0 "sweep with a cache budget too small" -- "$Q" sweep --methods rtn --bits 4 --ctx 128 --chunks 80 --eval "$T_TMP/ev120k.txt" --kl-cache-mib 1 --out "$T_TMP/cs.json"
expect_grep "do not fit in --kl-cache-mib 1" "$T_TMP/err" "a float-logit set over budget is said, and recomputed"
expect_rc 2 "sweep --kl-cache-mib bad" -- "$Q" sweep --methods rtn --bits 4 --kl-cache-mib lots --out "$T_TMP/cx.json"
python3 - "$T_TMP/c0.json" "$T_TMP/c1024.json" <<'PY' && pass "cached float logits: same KL, top-1, PPL as recomputed" || fail "cached float logits change the results"
import json, sys
def rows(p):
    return [(e["id"], e["ppl"], {k: v for k, v in e["settings"].items() if not k.startswith("seconds")})
            for e in json.load(open(p))["results"]]
a, b = rows(sys.argv[1]), rows(sys.argv[2])
sys.exit(0 if a == b and len(a) == 3 and a[1][2]["kl_mean"] > 0 else 1)
PY

# SIGINT cancels cleanly with exit 130
"$Q" quant --method gptq --bits 4 --calib-chunks 64 >"$T_TMP/out" 2>"$T_TMP/err" &
pid=$!
# wait until the handler is installed (SigCgt has SIGINT, bit 1): a
# background job starts with SIGINT ignored, so an early signal would be lost
i=0
while [ $i -lt 100 ]; do
    m=$(sed -n 's/^SigCgt:[[:space:]]*//p' /proc/$pid/status 2>/dev/null)
    [ -n "$m" ] && [ $((0x$m & 2)) != 0 ] && break
    sleep 0.1; i=$((i + 1))
done
sleep 0.5
kill -INT $pid
wait $pid; rc=$?
# exit 130 and the library's message: cancelled cleanly, not killed by the signal
if [ "$rc" = 130 ] && grep -q "cancelled" "$T_TMP/err"; then pass "SIGINT cancels cleanly with exit 130"; else
    fail "SIGINT gave exit $rc"; cat "$T_TMP/err"; fi
# --progress: one line per tensor on stderr (not a terminal here), with an ETA
expect_rc 0 "quant --progress" -- "$Q" quant --method rtn --bits 4 $SMALL --progress
n=$(grep -c '^quantized blk\.[0-9]*\.[a-z_]*  [0-9]*/35 tensors  [0-9]*% of weights  .* ETA ' "$T_TMP/err")
if [ "$n" = 35 ]; then pass "--progress: 35 tensor lines with ETA"; else fail "--progress: $n tensor lines"; head -5 "$T_TMP/err"; fi
expect_grep '^quantized blk\.4\.ffn_down  35/35 tensors  100% of weights' "$T_TMP/err" "--progress ends at 100%"
expect_grep '^evaluating chunk 3/3' "$T_TMP/err" "--progress: evaluation lines"
expect_rc 0 "quant without --progress off a terminal" -- "$Q" quant --method rtn --bits 4 $SMALL
if grep -q 'quantized blk' "$T_TMP/err"; then fail "no progress lines without --progress off a terminal"; else pass "no progress lines without --progress off a terminal"; fi
t_done
