#!/bin/sh
# seeds: build the fuzzing seed corpora into OUT/<harness>/ from the real
# files (models and vocabularies under $QLENS_SHARED, assets/results, runs of
# the real qlens binary) and the hand-written seeds in tests/fuzz/seeds/.
# Nothing from the shared directory is ever copied into the repository.
#
#   sh tests/fuzz/seeds.sh OUT BUILD     (BUILD holds qlens and tests/tool_genmodel)
set -e
OUT=$1
BUILD=${2:-build}
SH=${QLENS_SHARED:-../shared}
S=tests/fuzz/seeds
GEN=$BUILD/tests/tool_genmodel
mkdir -p "$OUT"
for h in gguf llama2c safetensors tok_llama2c tok_json encode results import session filter demo; do
    mkdir -p "$OUT/$h"
done
tiny() { "$GEN" --dim 8 --hidden 16 --layers 1 --heads 2 --vocab 16 --ctx 16 "$@"; }

# model files: the real ones and tiny generated ones of every dtype
[ -f "$SH/models/stories260K.gguf" ] && cp "$SH/models/stories260K.gguf" "$OUT/gguf/stories260K.gguf"
[ -f "$SH/models/stories260K.bin" ] && cp "$SH/models/stories260K.bin" "$OUT/llama2c/stories260K.bin"
for dt in f32 f16 bf16; do
    tiny --format gguf --dtype $dt "$OUT/gguf/tiny-$dt.gguf" >/dev/null
    tiny --format gguf --dtype $dt --arch qwen2 "$OUT/gguf/tiny-qwen2-$dt.gguf" >/dev/null
    tmp=$(mktemp -d)
    tiny --format safetensors --dtype $dt "$tmp/m" >/dev/null
    # harness input: u16 LE length of config.json, config.json, model.safetensors
    n=$(wc -c <"$tmp/m/config.json")
    printf "\\$(printf %03o $((n % 256)))\\$(printf %03o $((n / 256)))" >"$OUT/safetensors/tiny-$dt"
    cat "$tmp/m/config.json" "$tmp/m/model.safetensors" >>"$OUT/safetensors/tiny-$dt"
    rm -rf "$tmp"
done
tiny --format gguf --gguf-version 2 "$OUT/gguf/tiny-v2.gguf" >/dev/null
tiny --format llama2c "$OUT/llama2c/tiny.bin" >/dev/null
tiny --format llama2c --tied "$OUT/llama2c/tiny-tied.bin" >/dev/null

# vocabularies
[ -f "$SH/models/tok512.bin" ] && cp "$SH/models/tok512.bin" "$OUT/tok_llama2c/tok512.bin"
for v in llama-spm gpt-2; do
    f="$SH/reference/tokenizer/ggml-vocab-$v.gguf"
    [ -f "$f" ] && cp "$f" "$OUT/gguf/vocab-$v.gguf"
done
cp "$S"/tokenizer_*.json "$OUT/tok_json/"

# texts for the encoder: byte 0 picks the vocabulary (0 tok512, 1 llama
# SPM, 2 GPT-2 BPE), then the text
i=0
for f in "$SH/reference/tokenizer/ggml-vocab-llama-spm.gguf.inp" "$SH/data/tinystories-eval.txt" \
         "$SH/data/moby-dick-100k.txt"; do
    [ -f "$f" ] || continue
    for k in 0 1 2; do
        { printf "\\$(printf %03o $k)"; head -c 2048 "$f"; } >"$OUT/encode/t$i-$k"
    done
    i=$((i + 1))
done

# results stores, imports, sessions, filters
cp assets/results/*.json "$OUT/results/"
cp "$S/session.json" "$OUT/results/"
cp assets/results/*.json "$S"/lmeval.json "$S"/qlens_*.json "$OUT/import/"
if [ -x "$BUILD/qlens" ] && [ -f "$SH/models/stories260K.bin" ] && [ -f "$SH/data/tinystories-eval.txt" ]; then
    "$BUILD/qlens" ppl "$SH/models/stories260K.bin" "$SH/data/tinystories-eval.txt" \
        --ctx 64 --chunks 2 --json >"$OUT/import/run-ppl.json" 2>/dev/null || rm -f "$OUT/import/run-ppl.json"
    "$BUILD/qlens" quant "$SH/models/stories260K.bin" --method rtn --bits 4 --group 32 \
        --eval "$SH/data/tinystories-eval.txt" --ctx 64 --chunks 2 --json \
        >"$OUT/import/run-quant.json" 2>/dev/null || rm -f "$OUT/import/run-quant.json"
fi
cp "$S/session.json" "$OUT/session/"
cp "$S/demo.txt" "$OUT/demo/"
cp assets/results/jin2024.json "$OUT/session/"
n=0
for e in "method=GPTQ|SpQR,bits=3..4,model=Qwen*" "bits!=16" "ppl_mean=..10" "mmlu=50..,group_size=128" \
         "settings.k=v*" "id=*/gptq/*,source!=*li*" "ppl.wikitext2=..,memory_gb=1.5..8.25" "speed=.." ""; do
    printf '%s' "$e" >"$OUT/filter/f$n"
    n=$((n + 1))
done
