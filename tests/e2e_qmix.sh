#!/bin/sh
# End-to-end: `qlens quant` with llama.cpp's types.  Exports of the shared
# F32 model with --pure T and with the Q4_K_M / Q3_K_M / Q5_K_M / Q2_K
# presets are byte for byte the files llama-quantize made (metadata, tensor
# order, types and blocks); perplexity of the dequantized mixes equals
# llama.cpp's on an F32 copy of the same dequantization (shared README)
# within 0.05 %; a re-opened export gives the same perplexity as the shared
# file; fallbacks are reported with their reason; --tensor-type overrides;
# usage and I/O errors leave nothing behind.
. "$(dirname "$0")/lib.sh"
Q=$QLENS_BIN
G=$QLENS_SHARED/reference/ggml-types
M=$QLENS_SHARED/models
PY=$(dirname "$0")/ggufpy.py
EVAL="--ctx 128 --chunks 20"

# ---- exports equal llama-quantize's files ----
for t in Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K_S Q4_K_S Q5_K_S Q6_K IQ4_NL IQ4_XS; do
    expect_rc 0 "export --pure $t" -- "$Q" quant "$G/model-f32.gguf" --method "$t" --pure --no-eval --export "$T_TMP/p.gguf"
    cmp -s "$T_TMP/p.gguf" "$G/pure-$t.gguf" && pass "pure $t: byte-identical to llama-quantize's" || fail "pure $t: bytes differ"
done
for t in Q4_K_M Q3_K_M Q5_K_M Q2_K; do
    expect_rc 0 "export $t" -- "$Q" quant "$G/model-f32.gguf" --method "$(echo $t | tr A-Z a-z)" --no-eval --export "$T_TMP/m.gguf"
    cmp -s "$T_TMP/m.gguf" "$G/mix-$t.gguf" && pass "mix $t: byte-identical to llama-quantize's" || fail "mix $t: bytes differ"
done
expect_grep '^blk\.0\.attn_v +256x256 +q3_K ' "$T_TMP/out" "Q2_K: attn_v in q3_K in the table"

# ---- with llama.cpp's importance matrix (the path llama-quantize recorded differs) ----
for t in Q4_0 Q2_K Q4_K_S Q6_K IQ4_XS; do
    expect_rc 0 "export --pure $t --imatrix" -- "$Q" quant "$G/model-f32.gguf" --method "$t" --pure --imatrix "$G/model.imatrix" --no-eval --export "$T_TMP/i.gguf"
    python3 "$PY" same "$T_TMP/i.gguf" "$G/imat-$t.gguf" quantize.imatrix.file \
        && pass "imat $t: metadata, tensor infos and blocks equal llama-quantize's" || fail "imat $t differs"
done
expect_rc 1 "imatrix of another model" -- "$Q" quant "$M/stories260K.bin" --method q4_0 --imatrix "$G/model.imatrix" --no-eval
expect_grep 'model\.imatrix' "$T_TMP/err" "imatrix mismatch names the file"

# ---- perplexity of the dequantized mixes (README of ggml-types, 'dequantized') ----
# ppl_within FILE WANT NAME: JSON ppl within 0.05 % of WANT
ppl_within() {
    python3 -c "import json,sys; p=json.load(open(sys.argv[1]))['ppl']; w=float(sys.argv[2]); sys.exit(0 if abs(p/w-1) < 5e-4 else 1)" "$1" "$2" \
        && pass "$3" || { fail "$3"; head -c 300 "$1"; echo; }
}
expect_rc 0 "quant q4_k_m eval" -- "$Q" quant "$G/model-f32.gguf" --method q4_k_m $EVAL --json
ppl_within "$T_TMP/out" 1361.0315 "q4_k_m: ppl equals llama.cpp's on the dequantized weights"
python3 -c "import json,sys; j=json.load(open(sys.argv[1])); t={x['name']:x for x in j['tensors']}; sys.exit(0 if t['blk.0.attn_v']['type']=='q6_K' and t['blk.0.attn_q']['type']=='q4_K' and t['output']['type']=='q6_K' and 25 < t['blk.0.attn_v']['sqnr_db'] and j['fallbacks']==0 else 1)" "$T_TMP/out" \
    && pass "q4_k_m json: per-tensor types and errors" || fail "q4_k_m json: tensors"
expect_rc 0 "quant q4_0 --pure eval" -- "$Q" quant "$G/model-f32.gguf" --method q4_0 --pure $EVAL --json
ppl_within "$T_TMP/out" 1585.6894 "pure q4_0: ppl equals llama.cpp's on the dequantized weights"
expect_rc 0 "quant q4_k_s --pure --imatrix eval" -- "$Q" quant "$G/model-f32.gguf" --method q4_k_s --pure --imatrix "$G/model.imatrix" $EVAL --json
ppl_within "$T_TMP/out" 1298.3375 "imatrix q4_k_s: ppl equals llama.cpp's on the dequantized weights"

# ---- the export re-opened (needs the quantized-GGUF loader) ----
"$Q" quant "$G/model-f32.gguf" --method q4_k_m --no-eval --export "$T_TMP/e.gguf" >/dev/null 2>&1
if "$Q" info "$T_TMP/e.gguf" >/dev/null 2>&1; then
    expect_rc 0 "ppl of the export" -- "$Q" ppl "$T_TMP/e.gguf" "$QLENS_SHARED/data/tinystories-eval.txt" --ctx 128 --chunks 20 --json
    cp "$T_TMP/out" "$T_TMP/e.json"
    expect_rc 0 "ppl of llama.cpp's mix-Q4_K_M" -- "$Q" ppl "$G/mix-Q4_K_M.gguf" "$QLENS_SHARED/data/tinystories-eval.txt" --ctx 128 --chunks 20 --json
    python3 -c "import json,sys; a=json.load(open(sys.argv[1]))['ppl']; b=json.load(open(sys.argv[2]))['ppl']; sys.exit(0 if a == b else 1)" "$T_TMP/e.json" "$T_TMP/out" \
        && pass "export re-opened: same ppl as the shared mix-Q4_K_M" || fail "export re-opened: ppl differs"
else
    echo "SKIP: quantized GGUF not readable by this build"
fi

# ---- info: type and bits/weight per tensor, the file's average ----
expect_rc 0 "info mix-Q4_K_M" -- "$Q" info "$G/mix-Q4_K_M.gguf"
expect_grep '^blk\.0\.attn_v +256 x 256 +Q6_K +6\.5625 +65536$' "$T_TMP/out" "info: Q6_K at 6.5625 bits/weight"
expect_grep '^blk\.0\.attn_q +256 x 256 +Q4_K +4\.5000 +65536$' "$T_TMP/out" "info: Q4_K at 4.5 bits/weight"
expect_grep '^bits/weight 5\.2590 on average \(0\.576 MiB of tensor data\)$' "$T_TMP/out" "info: file average"
expect_rc 0 "info --json" -- "$Q" info "$G/pure-Q8_0.gguf" --json
python3 -c "
import json, sys
j = json.load(open(sys.argv[1]))
t = {x['name']: x for x in j['tensors']}
ok = t['blk.0.attn_q']['bits_per_weight'] == 8.5 and t['blk.0.attn_q']['bytes'] == 65536 // 32 * 34
ok = ok and t['output_norm']['bits_per_weight'] == 32
n = sum(x['params'] for x in j['tensors']); b = sum(x['bytes'] for x in j['tensors'])
ok = ok and abs(j['bits_per_weight'] - 8 * b / n) < 1e-6 and j['tensor_bytes'] == b
sys.exit(0 if ok else 1)" "$T_TMP/out" && pass "info --json: per-tensor and average bits/weight" || fail "info --json bits/weight"

# ---- fallbacks (stories260K: rows of 64 and 172) ----
expect_rc 0 "q4_k_m on stories260K" -- "$Q" quant "$M/stories260K.bin" --method q4_k_m --no-eval
expect_grep '^preset +Q4_K_M \(llama_ftype 15\): 36 tensors quantized, 35 fell back' "$T_TMP/out" "fallback count"
expect_grep '^fallback +blk\.0\.attn_q: row length 64 is not a multiple of q4_K.s block of 256: q5_0$' "$T_TMP/out" "fallback q4_K -> q5_0 with reason"
expect_grep '^fallback +blk\.0\.ffn_down: row length 172 .* nor of q5_0.s 32: f16$' "$T_TMP/out" "fallback to f16 with reason"
expect_grep '^token_embd +512x64 +q8_0 ' "$T_TMP/out" "tied embedding is the output: q8_0"

# ---- overrides ----
expect_rc 0 "--tensor-type" -- "$Q" quant "$G/model-f32.gguf" --method q4_k_m --tensor-type 'attn_[qk]=q8_0' --tensor-type 'ffn=Q5_K' --no-eval --json
python3 -c "import json,sys; j=json.load(open(sys.argv[1])); t={x['name']:x for x in j['tensors']}; sys.exit(0 if t['blk.0.attn_q']['type']=='q8_0' and t['blk.0.attn_q']['overridden'] and t['blk.0.ffn_down']['type']=='q5_K' and t['blk.0.attn_v']['type']=='q6_K' and not t['blk.0.attn_v']['overridden'] else 1)" "$T_TMP/out" \
    && pass "overrides: first match wins, others keep the rules" || fail "overrides"

# ---- errors ----
expect_rc 2 "unknown preset" -- "$Q" quant "$G/model-f32.gguf" --method q4_k_x --pure
expect_grep "not a llama-quantize preset" "$T_TMP/err" "unknown preset named"
expect_rc 2 "type without --pure" -- "$Q" quant "$G/model-f32.gguf" --method q4_k --export "$T_TMP/x.gguf"
expect_grep "needs --pure" "$T_TMP/err" "type needs --pure"
expect_rc 2 "bad --tensor-type" -- "$Q" quant "$G/model-f32.gguf" --method q4_k_m --tensor-type attn_v
expect_rc 2 "unknown type in --tensor-type" -- "$Q" quant "$G/model-f32.gguf" --method q4_k_m --tensor-type attn_v=q7_k
expect_rc 3 "export into a missing directory" -- "$Q" quant "$G/model-f32.gguf" --method q8_0 --no-eval --export "$T_TMP/no/x.gguf"
[ ! -e "$T_TMP/no" ] && pass "nothing written" || fail "something written"
printf 'old' >"$T_TMP/keep.gguf"
chmod 0500 "$T_TMP" 2>/dev/null
if [ "$(id -u)" != 0 ]; then
    expect_rc 3 "export into a read-only directory" -- "$Q" quant "$G/model-f32.gguf" --method q8_0 --no-eval --export "$T_TMP/keep.gguf"
    [ "$(cat "$T_TMP/keep.gguf")" = old ] && pass "old file untouched" || fail "old file changed"
fi
chmod 0700 "$T_TMP"
t_done
