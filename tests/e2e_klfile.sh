#!/bin/sh
# llama.cpp's --kl-divergence-base files on stories260K: `qlens ppl
# --kl-divergence-base OUT` writes one from the float model, `--kl-divergence`
# reads it (the text optional: the tokens are the file's), `qlens quant
# --kl-divergence-base` evaluates a quantization against it without a float
# pass; the numbers equal the in-process KL (--kl-base) up to the file's
# 1.2e-4-nat packing; bad files and mismatches fail with exit 1 naming the
# file and the field, and nothing is written on failure.
# (tests/e2e_kl_llamacpp.sh compares with llama.cpp itself.)
. tests/lib.sh
Q="$QLENS_BIN"
M="$QLENS_SHARED/models/stories260K.gguf"
TXT="$QLENS_SHARED/data/tinystories-eval.txt"
MOBY="$QLENS_SHARED/data/moby-dick-100k.txt"
B="$T_TMP/base.kl"
jcheck() {
    if python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1" 2>"$T_TMP/pyerr"; then
        pass "$3"; else fail "$3"; head -c 600 "$1" | sed 's/^/  | /'; sed 's/^/  py: /' "$T_TMP/pyerr"; fi
}

# ---- write ----
expect_rc 0 "ppl writes a base file" -- "$Q" ppl "$M" "$TXT" --ctx 128 --chunks 12 --kl-divergence-base "$B" --json
cp "$T_TMP/out" "$T_TMP/write.json"
jcheck "$T_TMP/write.json" "d['kl_base_written'] == '$B' and d['chunks'] == 12 and 'kl' not in d" "JSON names the file written"
size=$(wc -c <"$B")
[ "$size" = $((20 + 4 * 128 * 12 + 2 * 12 * 63 * 516)) ] && pass "file size = header + tokens + 12 x 63 records of 516 words" ||
    fail "base file size $size"
[ "$(head -c 8 "$B")" = "_logits_" ] && pass "llama.cpp's magic" || fail "magic"
expect_rc 0 "ppl text output when writing" -- "$Q" ppl "$M" "$TXT" --ctx 128 --chunks 2 --kl-divergence-base "$T_TMP/b2.kl"
expect_grep "^wrote .*b2.kl: 2 chunks x 63 positions x 512 log-probs" "$T_TMP/out" "text says what was written"

# ---- read: the float model against its own file ----
expect_rc 0 "ppl --kl-divergence, no text" -- "$Q" ppl "$M" --kl-divergence-base "$B" --kl-divergence --json
cp "$T_TMP/out" "$T_TMP/self.json"
jcheck "$T_TMP/self.json" "d['chunks'] == 12 and d['n_ctx'] == 128 and d['text'] is None and abs(d['ppl'] - json.load(open('$T_TMP/write.json'))['ppl']) < 1e-6 * d['ppl']" "chunks, context and tokens from the file; same PPL"
jcheck "$T_TMP/self.json" "d['kl']['base'] == 'llama.cpp file' and abs(d['kl']['kld']['mean']) < 1e-5 and d['kl']['top1'] == 1 and d['kl']['kld']['max'] < 1e-3" "float vs its own file: KL ~ 0, every top token equal"
jcheck "$T_TMP/self.json" "d['kl']['base_ppl'] <= d['ppl'] + 1e-9" "the file's floor only raises base probabilities"
expect_rc 0 "ppl --kl-divergence with the same text" -- "$Q" ppl "$M" "$TXT" --kl-divergence-base "$B" --kl-divergence --chunks 3
expect_grep "^Mean    KLD: " "$T_TMP/out" "llama.cpp's KL block"
expect_grep "^Cor\(ln\(PPL\(Q\)\), ln\(PPL\(base\)\)\): " "$T_TMP/out" "llama.cpp's correlation line"
expect_grep "^RMS Δp    : " "$T_TMP/out" "llama.cpp's RMS Δp line"
expect_grep "^Same top p: " "$T_TMP/out" "llama.cpp's same-top line"
expect_grep "^ 0.1%   KLD: " "$T_TMP/out" "KLD percentiles down to 0.1%"
expect_grep "^75.0%   Δp: " "$T_TMP/out" "Δp quartiles"

# ---- read: a quantized model, against the in-process KL ----
expect_rc 0 "rtn 3-bit model saved" -- "$Q" quant "$M" --method rtn --bits 3 --group 32 --chunks 1 --save-gguf "$T_TMP/rtn3.gguf"
expect_rc 0 "quantized model vs the file" -- "$Q" ppl "$T_TMP/rtn3.gguf" --kl-divergence-base "$B" --kl-divergence --json
cp "$T_TMP/out" "$T_TMP/file.json"
expect_rc 0 "quantized model vs the float model in process" -- "$Q" ppl "$T_TMP/rtn3.gguf" "$TXT" --ctx 128 --chunks 12 --kl-base "$M" --json
cp "$T_TMP/out" "$T_TMP/proc.json"
jcheck "$T_TMP/file.json" "(lambda p: abs(d['kl']['kld']['mean'] - p['kl']['kld']['mean']) < 0.005 * p['kl']['kld']['mean'] and abs(d['kl']['top1'] - p['kl']['top1']) < 0.01 and abs(d['ppl'] - p['ppl']) < 1e-5 * p['ppl'] and d['kl']['kld']['mean'] > 0.1)(json.load(open('$T_TMP/proc.json')))" "file KL = in-process KL within 0.5% (KL > 0.1)"
jcheck "$T_TMP/file.json" "0 < d['kl']['cor_ln_ppl'] <= 1 and d['kl']['ppl_ratio'] > 1 and abs(d['kl']['ppl_ratio'] - d['ppl'] / d['kl']['base_ppl']) < 1e-6 * d['kl']['ppl_ratio'] and d['kl']['delta_p']['rms'] > 0 and d['kl']['delta_p']['rms_stderr'] > 0" "PPL ratio, correlation, RMS Δp ± error"
expect_rc 0 "quant --kl-divergence-base" -- "$Q" quant "$M" --method rtn --bits 3 --group 32 --kl-divergence-base "$B" --json
cp "$T_TMP/out" "$T_TMP/quant.json"
jcheck "$T_TMP/quant.json" "(lambda f: abs(d['kl']['mean'] - f['kl']['kld']['mean']) < 1e-6 and d['eval']['chunks'] == 12 and d['eval']['ctx'] == 128 and d['kl_stats']['base_file'] == '$B' and d['ppl_float'] == d['kl_stats']['base_ppl'])(json.load(open('$T_TMP/file.json')))" "quant against the file = ppl against the file (12 chunks of 128)"
expect_rc 0 "quant --kl-divergence-base --eval (same text)" -- "$Q" quant "$M" --method rtn --bits 3 --group 32 --kl-divergence-base "$B" --eval "$TXT" --chunks 2
expect_grep "^Mean    KLD: " "$T_TMP/out" "quant prints llama.cpp's block"

# ---- mismatches: exit 1, the file and the field named ----
expect_rc 1 "another text" -- "$Q" ppl "$M" "$MOBY" --kl-divergence-base "$B" --kl-divergence
expect_grep "base.kl: tokens: token 1 .*in the file" "$T_TMP/err" "the first differing token named"
expect_rc 1 "quant with another --eval text" -- "$Q" quant "$M" --method rtn --kl-divergence-base "$B" --eval "$MOBY"
expect_grep "base.kl: tokens: token" "$T_TMP/err" "quant: differing token named"
expect_rc 1 "another --ctx" -- "$Q" ppl "$M" --kl-divergence-base "$B" --kl-divergence --ctx 64
expect_grep "--ctx 64: .*base.kl holds chunks of n_ctx 128" "$T_TMP/err" "context mismatch named"
# a well-formed file for a 300-token vocabulary (1 chunk of 4 tokens)
python3 -c "
import struct, sys
rec = struct.pack('<2f', 1e-4, -20.0) + bytes(2 * 300)
open(sys.argv[1], 'wb').write(b'_logits_' + struct.pack('<3i', 4, 300, 1) + struct.pack('<4i', 1, 5, 7, 9) + rec)" "$T_TMP/v300.kl"
expect_rc 1 "another vocabulary" -- "$Q" ppl "$M" --kl-divergence-base "$T_TMP/v300.kl" --kl-divergence
expect_grep "v300.kl: n_vocab 300, but .*stories260K.gguf has 512 tokens" "$T_TMP/err" "vocabulary mismatch named"
expect_rc 1 "quant: another vocabulary" -- "$Q" quant "$M" --method rtn --kl-divergence-base "$T_TMP/v300.kl"
expect_grep "v300.kl: n_vocab 300" "$T_TMP/err" "quant: vocabulary mismatch named"
expect_rc 0 "a 256-token base file (beyond the GGUF's declared context)" -- "$Q" ppl "$QLENS_SHARED/models/stories260K.bin" "$TXT" --ctx 256 --chunks 2 --kl-divergence-base "$T_TMP/b256.kl"
expect_rc 1 "a context beyond the model's" -- "$Q" ppl "$M" --kl-divergence-base "$T_TMP/b256.kl" --kl-divergence
expect_grep "b256.kl: n_ctx: .*256 exceeds the model's context" "$T_TMP/err" "context beyond the model named (--force-ctx hint)"
expect_rc 0 "... allowed with --force-ctx" -- "$Q" ppl "$M" --kl-divergence-base "$T_TMP/b256.kl" --kl-divergence --force-ctx

# ---- bad files ----
printf 'not a logits file at all, no' >"$T_TMP/magic.kl"
expect_rc 1 "wrong magic" -- "$Q" ppl "$M" --kl-divergence-base "$T_TMP/magic.kl" --kl-divergence
expect_grep "magic.kl: not a llama.cpp logits file \(magic" "$T_TMP/err" "magic named"
head -c $((size - 1)) "$B" >"$T_TMP/trunc.kl"
expect_rc 1 "truncated file" -- "$Q" ppl "$M" --kl-divergence-base "$T_TMP/trunc.kl" --kl-divergence
expect_grep "trunc.kl: truncated: the file has $((size - 1)) bytes, its header .* needs $size" "$T_TMP/err" "truncation named with both sizes"
head -c 14 "$B" >"$T_TMP/short.kl"
expect_rc 1 "truncated header" -- "$Q" ppl "$M" --kl-divergence-base "$T_TMP/short.kl" --kl-divergence
expect_grep "short.kl: truncated header" "$T_TMP/err" "short header named"
expect_rc 3 "missing file (an I/O error)" -- "$Q" ppl "$M" --kl-divergence-base "$T_TMP/none.kl" --kl-divergence
expect_grep "none.kl" "$T_TMP/err" "missing file named"

# ---- usage and nothing written on failure ----
expect_rc 2 "--kl-divergence without a base file" -- "$Q" ppl "$M" "$TXT" --kl-divergence
expect_rc 2 "--kl-divergence-base with --full" -- "$Q" ppl "$M" "$TXT" --full --kl-divergence-base "$T_TMP/x.kl"
printf 'Once upon a time.' >"$T_TMP/tiny.txt"
expect_rc 1 "text too short to write" -- "$Q" ppl "$M" "$T_TMP/tiny.txt" --ctx 128 --kl-divergence-base "$T_TMP/x.kl"
[ ! -e "$T_TMP/x.kl" ] && [ -z "$(ls "$T_TMP" | grep 'x.kl.tmp')" ] && pass "nothing written on failure" || fail "a file was left behind"
cp "$B" "$T_TMP/keep.kl"
expect_rc 1 "a failed rewrite" -- "$Q" ppl "$M" "$T_TMP/tiny.txt" --ctx 128 --kl-divergence-base "$T_TMP/keep.kl"
cmp -s "$B" "$T_TMP/keep.kl" && pass "a failed rewrite leaves the old file" || fail "old file changed"
t_done
