#!/bin/sh
# End-to-end: llama.cpp's quantized GGUF files in qlens.
#  - perplexity of each quantized file equals llama.cpp's perplexity on an F32
#    copy of its exact dequantization (the "dequantized" column of
#    reference/ggml-types/README.md, read at run time) within 0.05%;
#  - info shows the block types;
#  - damaged files (unknown or undecoded type id, row length that does not
#    fit the block, truncated blocks) exit 1 naming file, tensor and field.
. tests/lib.sh
R="$QLENS_SHARED/reference/ggml-types"
TXT="$QLENS_SHARED/data/tinystories-eval.txt"

# ---- perplexity against llama.cpp's table ----
for f in pure-Q4_0 pure-Q8_0 pure-Q6_K pure-IQ4_XS mix-Q4_K_M imat-Q4_K_S; do
    ref=$(sed -n "s/^| *$f *| *[0-9.]* *| *\([0-9.]*\) *|.*/\1/p" "$R/README.md")
    if [ -z "$ref" ]; then fail "$f: no dequantized perplexity in $R/README.md"; continue; fi
    expect_rc 0 "ppl $f" -- "$QLENS_BIN" ppl "$R/$f.gguf" "$TXT" --ctx 128 --chunks 20 --json
    got=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['ppl'])" "$T_TMP/out" 2>/dev/null)
    if python3 -c "import sys; g,w=float(sys.argv[1]),float(sys.argv[2]); sys.exit(0 if abs(g-w)/w < 5e-4 else 1)" "$got" "$ref" 2>/dev/null; then
        pass "$f: ppl $got vs llama.cpp $ref (dequantized) within 0.05%"
    else
        fail "$f: ppl $got vs llama.cpp $ref (dequantized): more than 0.05% apart"
    fi
done

# ---- info ----
expect_rc 0 "info mix-Q4_K_M" -- "$QLENS_BIN" info "$R/mix-Q4_K_M.gguf"
expect_grep "blk.0.ffn_down +256 x 512 +Q6_K" "$T_TMP/out" "info: ffn_down of Q4_K_M is Q6_K"
expect_grep "blk.0.attn_q +256 x 256 +Q4_K" "$T_TMP/out" "info: attn_q of Q4_K_M is Q4_K"
for f in pure-Q4_1 pure-Q5_0 pure-Q5_1 pure-Q2_K pure-Q3_K_S pure-Q5_K_S pure-IQ4_NL; do
    expect_rc 0 "stats $f decodes" -- "$QLENS_BIN" stats "$R/$f.gguf" --json
done

# ---- damaged files ----
# patch FILE OUT TENSOR FIELD VALUE: rewrite the ggml type id ("type") or
# the innermost dimension ("ne0") of TENSOR's info in a copy of FILE
patch() {
    python3 - "$@" <<'EOF'
import struct, sys
src, out, name, field, value = sys.argv[1:6]
b = bytearray(open(src, 'rb').read())
key = struct.pack('<Q', len(name)) + name.encode()
at = b.index(key) + len(key)
nd = struct.unpack_from('<I', b, at)[0]
if field == 'ne0':
    struct.pack_into('<Q', b, at + 4, int(value))
else:
    struct.pack_into('<I', b, at + 4 + 8 * nd, int(value))
open(out, 'wb').write(b)
EOF
}
patch "$R/pure-Q4_K_S.gguf" "$T_TMP/iq2.gguf" blk.0.attn_q.weight type 16
expect_rc 1 "iq2_xxs tensor refused" -- "$QLENS_BIN" info "$T_TMP/iq2.gguf"
expect_grep "iq2_xxs.gguf|iq2.gguf: tensor blk.0.attn_q.weight: ggml type iq2_xxs is not supported" "$T_TMP/err" "iq2_xxs: file, tensor and type named"
patch "$R/pure-Q4_K_S.gguf" "$T_TMP/t99.gguf" blk.0.attn_q.weight type 99
expect_rc 1 "unknown type id refused" -- "$QLENS_BIN" info "$T_TMP/t99.gguf"
expect_grep "t99.gguf: .*blk.0.attn_q.weight.*ggml type 99 is unknown" "$T_TMP/err" "type 99: file, tensor and field named"
patch "$R/pure-Q4_K_S.gguf" "$T_TMP/ne.gguf" blk.0.attn_q.weight ne0 128
expect_rc 1 "row not a multiple of the q4_K block" -- "$QLENS_BIN" info "$T_TMP/ne.gguf"
expect_grep "ne.gguf: .*blk.0.attn_q.weight.*row length 128 is not a multiple of the q4_K block" "$T_TMP/err" "row length: file, tensor named"
size=$(wc -c <"$R/pure-Q6_K.gguf")
head -c $((size - 100)) "$R/pure-Q6_K.gguf" >"$T_TMP/trunc.gguf"
expect_rc 1 "truncated blocks refused" -- "$QLENS_BIN" info "$T_TMP/trunc.gguf"
expect_grep "trunc.gguf: .*tensor info [0-9]+ \\(blk.0.ffn_up.weight\\).*runs past end of file" "$T_TMP/err" "truncated: file and tensor named"
t_done
