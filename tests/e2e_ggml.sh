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

# ---- qlens's quantizers reproduce llama-quantize --pure [--imatrix] ----
# quant --quant-output --quant-embed quantizes every matrix, as --pure does;
# its perplexity must be the one of llama.cpp's file, digit for digit.
ppl_of() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['ppl'])" "$1" 2>/dev/null; }
for pair in q4_0:pure-Q4_0 q6_k:pure-Q6_K iq4_xs:pure-IQ4_XS q4_k:imat-Q4_K_S q2_k:imat-Q2_K; do
    m=${pair%%:*}; f=${pair#*:}
    im=""; case $f in imat-*) im="--imatrix $R/model.imatrix";; esac
    expect_rc 0 "quant --method $m $im" -- "$QLENS_BIN" quant "$R/model-f32.gguf" --method "$m" $im \
        --eval "$TXT" --ctx 128 --chunks 20 --quant-output --quant-embed --json
    mine=$(ppl_of "$T_TMP/out")
    expect_rc 0 "ppl $f" -- "$QLENS_BIN" ppl "$R/$f.gguf" "$TXT" --ctx 128 --chunks 20 --json
    theirs=$(ppl_of "$T_TMP/out")
    if [ -n "$mine" ] && [ "$mine" = "$theirs" ]; then pass "quant $m ${im:+(imatrix) }= llama.cpp's $f: ppl $mine"
    else fail "quant $m ${im:+(imatrix) }ppl $mine, llama.cpp's $f $theirs"; fi
done
expect_rc 1 "imatrix of another model refused" -- "$QLENS_BIN" quant --method q4_k --imatrix "$R/model.imatrix" --chunks 2
expect_grep "model.imatrix: entry blk.0.[a-z_]*.weight: nval [0-9]+ but blk.0.[a-z_]* has [0-9]+ columns" "$T_TMP/err" "imatrix mismatch: file, entry and field named"
printf 'junk' >"$T_TMP/junk.imatrix"
expect_rc 1 "damaged imatrix refused" -- "$QLENS_BIN" quant "$R/model-f32.gguf" --method q4_k --imatrix "$T_TMP/junk.imatrix" --chunks 2
expect_grep "junk.imatrix: offset 0: entry count" "$T_TMP/err" "damaged imatrix: file and field named"

# ---- qlens imatrix: llama-imatrix's definition, written in its format ----
# model.imatrix was made by llama-imatrix -c 128 --chunks 16 on the
# calibration text: qlens's must hold the same entries and values (float
# vs double sums and the forward pass differ in the last digits only).
CAL="$QLENS_SHARED/data/tinystories-calib.txt"
expect_rc 0 "imatrix from calibration" -- "$QLENS_BIN" imatrix "$R/model-f32.gguf" "$CAL" --ctx 128 --chunks 16 -o "$T_TMP/q.imatrix"
if python3 - "$T_TMP/q.imatrix" "$R/model.imatrix" <<'EOF2'
import struct, sys
def read(p):
    b = open(p, 'rb').read(); o = 4; d = {}
    for _ in range(struct.unpack_from('<i', b, 0)[0]):
        n = struct.unpack_from('<i', b, o)[0]; name = b[o+4:o+4+n].decode(); o += 4 + n
        ncall, nval = struct.unpack_from('<ii', b, o); o += 8
        d[name] = [v / ncall for v in struct.unpack_from('<%df' % nval, b, o)]; o += 4 * nval
    return d
a, b = read(sys.argv[1]), read(sys.argv[2])
assert sorted(a) == sorted(b), (sorted(a), sorted(b))
worst = max(abs(x - y) / max(abs(y), 1e-6 * max(b[k])) for k in b for x, y in zip(a[k], b[k]))
print('worst relative difference', worst)
sys.exit(0 if worst < 2e-3 else 1)
EOF2
then pass "imatrix equals llama-imatrix's per column (within 0.2%)"; else fail "imatrix differs from llama-imatrix's"; fi
expect_rc 0 "imatrix --show" -- "$QLENS_BIN" imatrix --show "$T_TMP/q.imatrix" --json
expect_grep '"name":"blk.0.ffn_down.weight","columns":512,"calls":16' "$T_TMP/out" "imatrix --show json"
expect_rc 0 "quant with qlens's imatrix" -- "$QLENS_BIN" quant "$R/model-f32.gguf" --method q4_k --imatrix "$T_TMP/q.imatrix" \
    --eval "$TXT" --ctx 128 --chunks 20 --quant-output --quant-embed --json
mine=$(ppl_of "$T_TMP/out")
if python3 -c "import sys; sys.exit(0 if abs(float(sys.argv[1]) / 1298.337 - 1) < 0.03 else 1)" "$mine" 2>/dev/null
then pass "q4_k with qlens's imatrix: ppl $mine, within 3% of llama.cpp's imatrix"; else fail "q4_k with qlens's imatrix: ppl $mine"; fi
expect_rc 2 "imatrix without -o" -- "$QLENS_BIN" imatrix "$CAL"
expect_rc 1 "imatrix --show of a damaged file" -- "$QLENS_BIN" imatrix --show "$T_TMP/junk.imatrix"

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
