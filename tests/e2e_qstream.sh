#!/bin/sh
# The streamed evaluation of `qlens quant` (src/estream.h: the evaluation
# goes through each block as soon as it is quantized, and the block's
# floats are freed) against the whole-model path (--resident), on
# stories260K: the same PPL, KL statistics, top-1, per-tensor reports and
# exported GGUF bytes, for RTN, GPTQ (sequential and per block), AWQ, SpQR,
# a ggml type, SmoothQuant with activation and KV quantization, a
# quantized embedding, a tied classifier (never streamed), a --plan mix
# with --export, a llama-quantize preset (Q4_K_M) with --export, and a KL
# base file (--stream forces streaming: by default this small model with
# its long text holds less resident); then the memory check: the default
# picks whichever holds less, and a generated F16 model fits a budget
# streamed but not resident.
. tests/lib.sh
Q=$QLENS_BIN
: "${QLENS_BUILD:=$(pwd)/build}"
S=$QLENS_SHARED/models/stories260K.gguf
EV=$QLENS_SHARED/data/tinystories-eval.txt
SMALL="--ctx 128 --chunks 5 --calib-ctx 128 --calib-chunks 4"

# same A B NAME: the two JSON outputs are equal once wall times are dropped
same() {
    if python3 - "$1" "$2" 2>"$T_TMP/pyerr" <<'EOF'
import json, sys
def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if k not in ("seconds",)}
    if isinstance(x, list):
        return [strip(v) for v in x]
    return x
a, b = (strip(json.load(open(p))) for p in sys.argv[1:3])
if a != b:
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            print("differs:", k, str(a.get(k))[:200], "vs", str(b.get(k))[:200], file=sys.stderr)
    sys.exit(1)
if not (a.get("ppl", 0) > 0 or a.get("eval", {}).get("ppl", 0) > 0):
    print("no perplexity in the output", file=sys.stderr)
    sys.exit(1)
EOF
    then pass "$3"; else fail "$3"; sed 's/^/  py: /' "$T_TMP/pyerr"; fi
}

# both NAME ARGS...: quant streamed and --resident, JSON compared
both() {
    name=$1; shift
    if "$Q" quant "$S" "$@" --stream --json >"$T_TMP/s.json" 2>"$T_TMP/s.err" &&
       "$Q" quant "$S" "$@" --resident --json >"$T_TMP/r.json" 2>"$T_TMP/r.err"; then
        same "$T_TMP/s.json" "$T_TMP/r.json" "$name: streamed = resident"
    else
        fail "$name: a run failed"; cat "$T_TMP/s.err" "$T_TMP/r.err" | head -5
    fi
}

expect_rc 0 "quant --help" -- "$Q" quant --help
expect_grep "--resident" "$T_TMP/out" "help lists --resident"

both "RTN w4" --method rtn --bits 4 $SMALL
both "RTN w3 g32, --layers output" --method rtn --bits 3 --group 32 $SMALL --layers
both "GPTQ w4 sequential" --method gptq --bits 4 $SMALL
both "GPTQ w3 per block" --method gptq --bits 3 --per-block $SMALL
both "AWQ w4" --method awq --bits 4 $SMALL
both "SpQR w3" --method spqr --bits 3 $SMALL
both "ggml Q4_0 as a method" --method q4_0 $SMALL
both "SmoothQuant W8A8 + KV4 per channel" --method smoothquant $SMALL --kv-bits 4 --kv-axis channel
both "LLM.int8 (float outlier features)" --method llm.int8 $SMALL
both "RTN with a quantized embedding" --method rtn --bits 4 --quant-embed $SMALL
both "RTN with the (tied) classifier: resident either way" --method rtn --bits 4 --quant-output $SMALL
both "one chunk (one worker)" --method gptq --bits 4 --ctx 128 --chunks 1 --calib-ctx 128 --calib-chunks 2

# a plan mixing llama.cpp types, exported: same numbers, same bytes
printf 'blk.0.attn_q=q8_0\nblk.1.ffn_up=q4_1\nblk.2.attn_v=float\n*=q4_0\n' >"$T_TMP/mix.plan"
expect_rc 0 "quant --plan --export (streamed)" -- "$Q" quant "$S" --plan "$T_TMP/mix.plan" \
    --ctx 128 --chunks 4 --export "$T_TMP/s.gguf" --json --stream
cp "$T_TMP/out" "$T_TMP/ps.json"
expect_rc 0 "quant --plan --export (resident)" -- "$Q" quant "$S" --plan "$T_TMP/mix.plan" \
    --ctx 128 --chunks 4 --export "$T_TMP/r.gguf" --json --resident
sed "s#$T_TMP/r.gguf#$T_TMP/s.gguf#" "$T_TMP/out" >"$T_TMP/pr.json"
same "$T_TMP/ps.json" "$T_TMP/pr.json" "plan mix: streamed = resident"
if cmp -s "$T_TMP/s.gguf" "$T_TMP/r.gguf"; then pass "plan mix: the exported GGUFs are byte-identical"
else fail "plan mix: the exported GGUFs differ"; fi
# a llama-quantize preset (tensors outside the blocks quantized too), exported
expect_rc 0 "quant --method q4_k_m --export (streamed)" -- "$Q" quant "$S" --method q4_k_m \
    --ctx 128 --chunks 4 --export "$T_TMP/ms.gguf" --json --stream
cp "$T_TMP/out" "$T_TMP/ms.json"
expect_rc 0 "quant --method q4_k_m --export (resident)" -- "$Q" quant "$S" --method q4_k_m \
    --ctx 128 --chunks 4 --export "$T_TMP/mr.gguf" --json --resident
sed "s#$T_TMP/mr.gguf#$T_TMP/ms.gguf#" "$T_TMP/out" >"$T_TMP/mr.json"
same "$T_TMP/ms.json" "$T_TMP/mr.json" "Q4_K_M preset: streamed = resident (PPL, KL, per-tensor errors)"
if cmp -s "$T_TMP/ms.gguf" "$T_TMP/mr.gguf"; then pass "Q4_K_M preset: the exported GGUFs are byte-identical"
else fail "Q4_K_M preset: the exported GGUFs differ"; fi
# --save-gguf writes every quantized tensor: that run keeps them resident
expect_rc 0 "quant --save-gguf" -- "$Q" quant "$S" --method rtn --bits 4 --ctx 128 --chunks 2 --save-gguf "$T_TMP/saved.gguf" --json
cp "$T_TMP/out" "$T_TMP/save.json"
expect_rc 0 "the saved model evaluates" -- "$Q" ppl "$T_TMP/saved.gguf" "$EV" --ctx 128 --chunks 2 --json
python3 -c "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); sys.exit(0 if abs(a['ppl']-b['ppl']) < 1e-4*a['ppl'] else 1)" \
    "$T_TMP/save.json" "$T_TMP/out" && pass "saved model: the quantized perplexity" || fail "saved model PPL differs"

# a llama.cpp KL base file as the baseline
expect_rc 0 "write a KL base file" -- "$Q" ppl "$S" "$EV" --ctx 128 --chunks 3 --kl-divergence-base "$T_TMP/base.kl"
if [ -s "$T_TMP/base.kl" ]; then
    both "GPTQ against a KL base file" --method gptq --bits 4 --calib-ctx 128 --calib-chunks 2 --kl-divergence-base "$T_TMP/base.kl"
else
    fail "no KL base file written"
fi

# the default: stories260K's 304 chunks of hidden states (38 MiB) outweigh
# its quantized floats (0.9 MiB), so it stays resident; 2 chunks do not
expect_rc 1 "default on stories260K, whole text" -- "$Q" quant "$S" --method rtn --bits 4 --mem-budget 1M
expect_grep "quantized weights as floats \(whole model\)" "$T_TMP/err" "default: resident when that is smaller"
expect_rc 1 "default on stories260K, 2 chunks of 64" -- "$Q" quant "$S" --method rtn --bits 4 --ctx 64 --chunks 2 --mem-budget 1M
expect_grep "quantized weights as floats \(one block and those outside\)" "$T_TMP/err" "default: streamed when that is smaller"
expect_rc 1 "--stream on the whole text" -- "$Q" quant "$S" --method rtn --bits 4 --mem-budget 1M --stream
expect_grep "evaluation hidden states 38 MiB" "$T_TMP/err" "--stream: the hidden states of 304 chunks"
expect_rc 1 "a preset, whole text: resident" -- "$Q" quant "$S" --method q4_k_m --mem-budget 1M
expect_grep "quantized weights as floats \(whole model\)" "$T_TMP/err" "a preset follows the same rule"

# memory: a generated F16 model whose quantized floats (40 MiB) do not fit
# the budget resident, while one block's (10 MiB) do
# (under the sanitizers about 25 MiB more are in use already)
B=85M; [ -n "$QLENS_SANITIZED" ] && B=110M
G="$T_TMP/gen.gguf"
"$QLENS_BUILD/tests/tool_genmodel" --format gguf --dim 512 --hidden 1024 --layers 4 --heads 8 \
    --vocab 512 --ctx 256 --dtype f16 --vocab-from "$S" "$G" >/dev/null 2>&1 || fail "tool_genmodel"
expect_rc 1 "generated model: --resident over $B" -- "$Q" quant "$G" --method rtn --bits 4 --ctx 128 --chunks 2 --mem-budget $B --resident
expect_grep "quantized weights as floats \(--resident\) 40 MiB" "$T_TMP/err" "resident: the whole model's floats are counted"
expect_grep "options that lower it: .*leaving out --resident" "$T_TMP/err" "resident: says streaming lowers it"
expect_rc 0 "generated model: streamed within $B" -- "$Q" quant "$G" --method rtn --bits 4 --ctx 128 --chunks 2 --mem-budget $B --json
cp "$T_TMP/out" "$T_TMP/gs.json"
expect_rc 0 "generated model: resident within 200M" -- "$Q" quant "$G" --method rtn --bits 4 --ctx 128 --chunks 2 --mem-budget 200M --json --resident
same "$T_TMP/gs.json" "$T_TMP/out" "generated F16 model: streamed = resident"
expect_rc 1 "streamed, over 30M" -- "$Q" quant "$G" --method rtn --bits 4 --ctx 128 --chunks 2 --mem-budget 30M
expect_grep "quantized weights as floats \(one block and those outside\) 10 MiB" "$T_TMP/err" "streamed: one block's floats are counted"
expect_grep "evaluation hidden states" "$T_TMP/err" "streamed: the evaluation's hidden states are counted"
t_done
