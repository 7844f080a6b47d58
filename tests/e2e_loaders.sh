#!/bin/sh
# End-to-end: `qlens info` on every model format, JSON parsed by a script,
# and malformed files giving exit 1 with a message naming the file.
. tests/lib.sh
: "${QLENS_BUILD:=$(pwd)/build}"
GEN="$QLENS_BUILD/tests/tool_genmodel"
M="$QLENS_SHARED/models"

# json_check FILE PYTHON-EXPR NAME: evaluate EXPR with j = the parsed JSON
json_check() {
    if python3 -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1" 2>"$T_TMP/pyerr"
    then pass "$3"; else fail "$3"; head -c 400 "$1" | sed 's/^/  | /'; cat "$T_TMP/pyerr"; fi
}

# ---- the real model, both formats ----
expect_rc 0 "info stories260K.bin" -- "$QLENS_BIN" info "$M/stories260K.bin"
expect_grep "format +llama2.c +architecture llama" "$T_TMP/out" "bin: format line"
expect_grep "dim 64  hidden 172  layers 5  heads 8  kv heads 4  head dim 8" "$T_TMP/out" "bin: config line"
expect_grep "tok512.bin" "$T_TMP/out" "bin: tokenizer found beside"

expect_rc 0 "info stories260K.gguf --json" -- "$QLENS_BIN" info "$M/stories260K.gguf" --json
cp "$T_TMP/out" "$T_TMP/gguf.json"
json_check "$T_TMP/gguf.json" "j['format']=='GGUF' and j['config']['n_layers']==5 and j['config']['vocab_size']==512 and j['config']['rope_style']=='interleaved' and len(j['tensors'])==48" "gguf json: config and tensor count"
json_check "$T_TMP/gguf.json" "[t for t in j['tensors'] if t['name']=='blk.4.ffn_down'][0]['shape']==[64,172] and [t for t in j['tensors'] if t['name']=='blk.4.ffn_down'][0]['source_name']=='blk.4.ffn_down.weight'" "gguf json: shape outermost first, source name"

expect_rc 0 "info stories260K.bin --json" -- "$QLENS_BIN" info "$M/stories260K.bin" --json
json_check "$T_TMP/out" "j['config']['tied_output'] and j['parameters']==260032 and len(j['tensors'])==47" "bin json: tied, parameter count"

# ---- generated models ----
if [ -x "$GEN" ]; then
    expect_rc 0 "genmodel safetensors (sharded, bf16, qwen2)" -- "$GEN" --format safetensors --dim 64 --hidden 128 --layers 2 --heads 4 --kv-heads 2 --vocab 256 --ctx 64 --dtype bf16 --arch qwen2 --shards 2 "$T_TMP/st"
    expect_rc 0 "info safetensors dir" -- "$QLENS_BIN" info "$T_TMP/st" --json
    json_check "$T_TMP/out" "j['format']=='safetensors' and j['config']['arch']=='qwen2' and j['config']['qkv_bias'] and j['config']['rope_style']=='half' and j['config']['n_kv_heads']==2 and all(t['dtype']=='BF16' for t in j['tensors'])" "safetensors json: qwen2, bias, rotate-half, bf16"
    expect_rc 0 "info safetensors index" -- "$QLENS_BIN" info "$T_TMP/st/model.safetensors.index.json"
    expect_grep "model.layers.1.self_attn.q_proj.bias|blk.1.attn_q_bias" "$T_TMP/out" "index: bias tensors listed"

    expect_rc 0 "genmodel gguf with llama-spm vocab" -- "$GEN" --format gguf --dim 64 --hidden 128 --layers 2 --heads 4 --vocab-from "$QLENS_SHARED/reference/tokenizer/ggml-vocab-llama-spm.gguf" --dtype f16 "$T_TMP/v.gguf"
    expect_rc 0 "info gguf f16 vocab 32000" -- "$QLENS_BIN" info "$T_TMP/v.gguf" --json
    json_check "$T_TMP/out" "j['config']['vocab_size']==32000 and j['tensors'][0]['dtype']=='F16'" "gguf json: vocab from file, f16"

    expect_rc 0 "genmodel gguf v2" -- "$GEN" --format gguf --gguf-version 2 --dim 32 --hidden 64 --layers 1 --heads 2 --vocab 64 --ctx 16 --tied "$T_TMP/v2.gguf"
    expect_rc 0 "info gguf v2" -- "$QLENS_BIN" info "$T_TMP/v2.gguf"
    expect_grep "output +tied to token_embd" "$T_TMP/out" "gguf v2: tied output"
    expect_rc 2 "genmodel bad arguments" -- "$GEN" --format gguf --dim 30 --heads 4 "$T_TMP/x.gguf"
    expect_rc 0 "genmodel --help" -- "$GEN" --help
    expect_grep "usage: tool_genmodel" "$T_TMP/out" "genmodel usage on stdout"

    expect_rc 0 "genmodel llama2c" -- "$GEN" --format llama2c --dim 32 --hidden 64 --layers 1 --heads 2 --vocab 64 --ctx 16 "$T_TMP/g.bin"
    expect_rc 0 "info llama2c generated" -- "$QLENS_BIN" info "$T_TMP/g.bin"
    expect_grep "output +separate" "$T_TMP/out" "llama2c: unshared classifier"
else
    fail "tool_genmodel not built at $GEN"
fi

# ---- malformed files: exit 1, message names the file ----
head -c 5000 "$M/stories260K.gguf" >"$T_TMP/trunc.gguf"
expect_rc 1 "truncated gguf" -- "$QLENS_BIN" info "$T_TMP/trunc.gguf"
expect_grep "trunc.gguf: offset [0-9]+: .*past end of file" "$T_TMP/err" "truncated gguf: file, offset, field"

python3 - "$M/stories260K.gguf" "$T_TMP/q4k.gguf" "$T_TMP/bigkv.gguf" <<'EOF'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
name = b'blk.0.attn_q.weight'
i = b.index(struct.pack('<Q', len(name)) + name) + 8 + len(name)
nd, = struct.unpack_from('<I', b, i)
struct.pack_into('<I', b, i + 4 + 8 * nd, 12)          # ggml type q4_K
open(sys.argv[2], 'wb').write(b)
c = bytearray(open(sys.argv[1], 'rb').read())
struct.pack_into('<Q', c, 16, 1 << 40)                  # n_kv
open(sys.argv[3], 'wb').write(c)
EOF
expect_rc 1 "gguf with a q4_K tensor" -- "$QLENS_BIN" info "$T_TMP/q4k.gguf"
expect_grep "q4k.gguf: .*blk.0.attn_q.weight.*q4_K" "$T_TMP/err" "q4_K: names file, tensor, type"
expect_rc 1 "gguf with absurd n_kv" -- "$QLENS_BIN" info "$T_TMP/bigkv.gguf"
expect_grep "bigkv.gguf: offset 16: n_kv" "$T_TMP/err" "absurd n_kv: file, offset, field"

expect_rc 1 "vocab-only gguf (gpt2 arch)" -- "$QLENS_BIN" info "$QLENS_SHARED/reference/tokenizer/ggml-vocab-gpt-2.gguf"
expect_grep "ggml-vocab-gpt-2.gguf: architecture 'gpt2' is not supported" "$T_TMP/err" "unsupported arch named"

head -c 30000 "$M/stories260K.bin" >"$T_TMP/trunc.bin"
expect_rc 1 "truncated llama2.c" -- "$QLENS_BIN" info "$T_TMP/trunc.bin"
expect_grep "trunc.bin: tensor .* runs past end of file" "$T_TMP/err" "truncated bin: file and tensor"

printf 'this is not a model, just some text\n' >"$T_TMP/junk.bin"
expect_rc 1 "text file as model" -- "$QLENS_BIN" info "$T_TMP/junk.bin"
expect_grep "junk.bin: offset 0: header field dim" "$T_TMP/err" "junk: file, offset, field"

mkdir -p "$T_TMP/badst"
printf '{"architectures":["LlamaForCausalLM"],"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,"num_attention_heads":2,"vocab_size":4}' >"$T_TMP/badst/config.json"
printf '\377\377\0\0\0\0\0\0{}' >"$T_TMP/badst/model.safetensors"
expect_rc 1 "safetensors header length past end" -- "$QLENS_BIN" info "$T_TMP/badst"
expect_grep "model.safetensors: offset 0: header length 65535 is impossible" "$T_TMP/err" "safetensors: file, offset, field"

expect_rc 3 "missing file" -- "$QLENS_BIN" info "$T_TMP/none.gguf"
expect_grep "none.gguf: cannot open" "$T_TMP/err" "missing file named"

t_done
