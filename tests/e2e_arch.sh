#!/bin/sh
# End-to-end: the architecture families (Llama 3.1 RoPE scaling, Qwen3,
# Gemma 2/3, Phi-3) written by tool_genmodel as llama.cpp's converter and
# Hugging Face store them: `qlens info` names the features, ppl and quant
# run on them, and what qlens does not implement is refused by name.
. tests/lib.sh
: "${QLENS_BUILD:=$(pwd)/build}"
GEN="$QLENS_BUILD/tests/tool_genmodel"
VOCAB="$QLENS_SHARED/reference/tokenizer/ggml-vocab-llama-spm.gguf"
TEXT="$QLENS_SHARED/data/tinystories-eval.txt"
[ -x "$GEN" ] || { fail "tool_genmodel not built at $GEN"; t_done; }

json_check() {
    if python3 -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1" 2>"$T_TMP/pyerr"
    then pass "$3"; else fail "$3"; head -c 600 "$1" | sed 's/^/  | /'; cat "$T_TMP/pyerr"; fi
}

SHAPE="--dim 64 --hidden 96 --layers 6 --heads 4 --kv-heads 2 --vocab 300 --ctx 128"

# family  genmodel-args  features-regex
while read -r fam args feat; do
    for fmt in gguf safetensors; do
        out="$T_TMP/$fam-$fmt"
        # shellcheck disable=SC2086
        expect_rc 0 "genmodel $fam $fmt" -- "$GEN" --format "$fmt" $SHAPE $(echo "$args" | tr ',=' '  ') "$out"
        expect_rc 0 "info $fam $fmt" -- "$QLENS_BIN" info "$out"
        expect_grep "^features +$feat" "$T_TMP/out" "$fam $fmt: info names the features"
    done
done <<'LIST'
llama31 --arch=llama,--rope-scaling=llama3 RoPE.scaling.llama3
qwen3 --arch=qwen3,--head-dim=24 q/k.norm
gemma2 --arch=gemma2,--head-dim=24 post-attention.and.post-FFN.norms;.GeGLU.*attention.soft-cap.50;.final.soft-cap.30;.sliding.window.4096.on.3.of.6
gemma3 --arch=gemma3,--head-dim=24,--swa=16,--rope-scaling=linear:8 RoPE.scaling.linear.*q/k.norm.*sliding.window.16.on.5.of.6.layers.\(local.rope.theta.10000\)
phi3 --arch=phi3 fused.qkv,.gate_up.split.on.load
LIST

# (the ',' and '=' forms above keep each family's arguments one word for `read`)

# Llama 3.1: GGUF's rope_freqs tensor and config.json's rope_scaling give the
# same divisors (1 at short wavelengths, 8 at long ones).
expect_rc 0 "info llama31 gguf --json" -- "$QLENS_BIN" info "$T_TMP/llama31-gguf" --json
cp "$T_TMP/out" "$T_TMP/l31g.json"
expect_rc 0 "info llama31 safetensors --json" -- "$QLENS_BIN" info "$T_TMP/llama31-safetensors" --json
json_check "$T_TMP/out" "j['config']['rope_scaling']['type']=='llama3' and j['config']['rope_scaling']['original_context']==8192 and j['config']['rope_scaling']['divisors'][0]==1 and j['config']['rope_scaling']['divisors'][-1]==8" "llama31 safetensors json: llama3 factors"
python3 - "$T_TMP/l31g.json" "$T_TMP/out" <<'PY' && pass "llama31: GGUF rope_freqs == config.json divisors" || fail "llama31: GGUF rope_freqs == config.json divisors"
import json, sys
a = json.load(open(sys.argv[1]))['config']['rope_scaling']['divisors']
b = json.load(open(sys.argv[2]))['config']['rope_scaling']['divisors']
sys.exit(0 if len(a) == len(b) == 8 and all(abs(x - y) < 1e-5 * y for x, y in zip(a, b)) else 1)
PY
json_check "$T_TMP/l31g.json" "'rope_freqs' in [t['name'] for t in j['tensors']]" "llama31 gguf: rope_freqs listed"

# ---- perplexity and quantization run on each family (GGUF with a vocab) ----
for fam in gemma2 gemma3 qwen3 phi3; do
    expect_rc 0 "genmodel $fam with llama-spm vocab" -- "$GEN" --format gguf --arch "$fam" --dim 64 --hidden 96 --layers 2 --heads 4 --kv-heads 2 --vocab-from "$VOCAB" --ctx 128 "$T_TMP/$fam-v.gguf"
    expect_rc 0 "ppl $fam" -- "$QLENS_BIN" ppl "$T_TMP/$fam-v.gguf" "$TEXT" --ctx 64 --chunks 2 --json
    json_check "$T_TMP/out" "1 < j['ppl'] < 1e6" "ppl $fam: finite"
done
expect_rc 0 "quant awq on gemma3" -- "$QLENS_BIN" quant "$T_TMP/gemma3-v.gguf" --method awq --bits 4 --calib "$QLENS_SHARED/data/tinystories-calib.txt" --eval "$TEXT" --ctx 64 --chunks 1 --calib-chunks 1 --json
json_check "$T_TMP/out" "j['ppl'] > 1 and j['ppl'] != j['ppl_float']" "quant gemma3: quantized perplexity differs from float"
expect_rc 1 "save-gguf of gemma2 refused" -- "$QLENS_BIN" quant "$T_TMP/gemma2-v.gguf" --method rtn --bits 8 --eval "$TEXT" --ctx 64 --chunks 1 --save-gguf "$T_TMP/g2q.gguf"
expect_grep "cannot save a gemma2 model as GGUF" "$T_TMP/err" "save-gguf gemma2: reason named"
expect_rc 0 "save-gguf of phi3 (llama arch, split tensors)" -- "$QLENS_BIN" quant "$T_TMP/phi3-v.gguf" --method rtn --bits 8 --eval "$TEXT" --ctx 64 --chunks 1 --save-gguf "$T_TMP/p3q.gguf"
expect_rc 0 "info saved phi3" -- "$QLENS_BIN" info "$T_TMP/p3q.gguf"

# ---- refused by name ----
st="$T_TMP/llama31-safetensors"
sed 's/"rope_type": "llama3"/"rope_type": "yarn"/' "$st/config.json" >"$T_TMP/c" && cp "$T_TMP/c" "$st/config.json"
expect_rc 1 "rope_scaling yarn refused" -- "$QLENS_BIN" info "$st"
expect_grep "config.json: rope_scaling type 'yarn' is not supported" "$T_TMP/err" "yarn: named"
st="$T_TMP/phi3-safetensors"
sed 's/"rope_scaling": null/"rope_scaling": {"type": "longrope", "long_factor": [1], "short_factor": [1]}/' "$st/config.json" >"$T_TMP/c" && cp "$T_TMP/c" "$st/config.json"
expect_rc 1 "phi3 longrope refused" -- "$QLENS_BIN" info "$st"
expect_grep "rope_scaling type 'longrope' is not supported" "$T_TMP/err" "longrope: named"
sed 's/"rope_scaling": {[^}]*}/"rope_scaling": null, "partial_rotary_factor": 0.75/' "$st/config.json" >"$T_TMP/c" && cp "$T_TMP/c" "$st/config.json"
expect_rc 1 "partial rotary refused" -- "$QLENS_BIN" info "$st"
expect_grep "partial_rotary_factor 0.75: partial rotary" "$T_TMP/err" "partial rotary: named"
st="$T_TMP/gemma2-safetensors"
sed 's/"gelu_pytorch_tanh"/"gelu"/' "$st/config.json" >"$T_TMP/c" && cp "$T_TMP/c" "$st/config.json"
expect_rc 1 "exact gelu refused for gemma" -- "$QLENS_BIN" info "$st"
expect_grep "activation 'gelu' is not supported for gemma2" "$T_TMP/err" "gelu: named"

python3 - "$T_TMP/gemma3-v.gguf" "$T_TMP/yarn.gguf" <<'PY'
import struct, sys
# insert gemma3.rope.scaling.type = "yarn" after the header, plus a padding
# key so the data section keeps its 32-byte alignment (tensor offsets are
# relative to it)
def kv(key, val):
    return struct.pack('<Q', len(key)) + key + struct.pack('<I', 8) + struct.pack('<Q', len(val)) + val
b = bytearray(open(sys.argv[1], 'rb').read())
add = kv(b'gemma3.rope.scaling.type', b'yarn')
pad = 32 - (len(add) + len(kv(b'qlens.pad', b''))) % 32
add += kv(b'qlens.pad', b'x' * (pad % 32))
n_kv, = struct.unpack_from('<Q', b, 16)
struct.pack_into('<Q', b, 16, n_kv + 2)
open(sys.argv[2], 'wb').write(b[:24] + add + b[24:])
PY
expect_rc 1 "gguf rope scaling yarn refused" -- "$QLENS_BIN" info "$T_TMP/yarn.gguf"
expect_grep "yarn.gguf: metadata key gemma3.rope.scaling.type: RoPE scaling 'yarn' is not supported" "$T_TMP/err" "gguf yarn: named"

t_done
