#!/bin/sh
# qlens divergence end to end on stories260K: usage errors, bad files, the
# JSON shape, the KL mean equal to what `qlens quant` reports on the same
# chunks, 8-bit near zero, GPTQ 2-bit above RTN 4-bit, error growing with
# depth, CSV = JSON, the text table.
. tests/lib.sh
Q=$QLENS_BIN
SMALL="--ctx 128 --chunks 6 --calib-ctx 128 --calib-chunks 8"

jcheck() {
    if python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1" 2>"$T_TMP/pyerr"; then
        pass "$3"; else fail "$3"; head -c 600 "$1" | sed 's/^/  | /'; sed 's/^/  py: /' "$T_TMP/pyerr"; fi
}

expect_rc 0 "divergence --help" -- "$Q" divergence --help
expect_grep "accumulated" "$T_TMP/out" "help defines accumulated"
expect_rc 2 "without --method" -- "$Q" divergence $SMALL
expect_rc 2 "unknown method" -- "$Q" divergence --method nope $SMALL
expect_grep "unknown quantization method" "$T_TMP/err" "unknown method named"
expect_rc 2 "bad bits" -- "$Q" divergence --method rtn --bits 1
expect_rc 2 "json and csv" -- "$Q" divergence --method rtn --json --csv
expect_rc 2 "quant-only option" -- "$Q" divergence --method rtn --save-gguf x.gguf
expect_rc 2 "unknown option" -- "$Q" divergence --method rtn --frobnicate
expect_rc 3 "missing model" -- "$Q" divergence "$T_TMP/none.bin" --method rtn $SMALL
expect_grep "none.bin" "$T_TMP/err" "missing model named"
printf 'too short' >"$T_TMP/short.txt"
expect_rc 2 "eval text shorter than a chunk" -- "$Q" divergence --method rtn $SMALL --eval "$T_TMP/short.txt"
expect_grep "chunk" "$T_TMP/err" "short text explained"
printf '\377\376bad' >"$T_TMP/bad.txt"
expect_rc 1 "invalid UTF-8 eval text" -- "$Q" divergence --method rtn $SMALL --eval "$T_TMP/bad.txt"
expect_grep "bad.txt" "$T_TMP/err" "bad text named"

expect_rc 0 "rtn 8" -- "$Q" divergence --method rtn --bits 8 $SMALL --json
cp "$T_TMP/out" "$T_TMP/r8.json"
expect_rc 0 "rtn 4" -- "$Q" divergence --method rtn --bits 4 $SMALL --json
cp "$T_TMP/out" "$T_TMP/r4.json"
expect_rc 0 "gptq 2" -- "$Q" divergence --method gptq --bits 2 $SMALL --json
cp "$T_TMP/out" "$T_TMP/g2.json"
jcheck "$T_TMP/r4.json" "len(d['rows']) == 41 and d['rows'][-1]['name'] == 'logits' and d['eval']['scored'] == 6 * 63" "41 rows (5 x 8 + logits), scored tokens"
jcheck "$T_TMP/r4.json" "all(r['quantized'] for r in d['rows'] if r['kind'] == 'linear') and len(d['entry_rank']) == 35" "every linear quantized and ranked"
jcheck "$T_TMP/r8.json" "all(r['acc']['rel_mean'] < 0.05 and r['acc']['cos_mean'] > 0.999 for r in d['rows']) and d['kl']['mean'] < 0.005" "8-bit near zero everywhere"
jcheck "$T_TMP/g2.json" "d['kl']['mean'] > json.load(open('$T_TMP/r4.json'))['kl']['mean'] > json.load(open('$T_TMP/r8.json'))['kl']['mean']" "KL: GPTQ-2 > RTN-4 > RTN-8"
jcheck "$T_TMP/g2.json" "d['rows'][39]['acc']['rel_mean'] > json.load(open('$T_TMP/r4.json'))['rows'][39]['acc']['rel_mean']" "last block: GPTQ-2 error above RTN-4"
jcheck "$T_TMP/r4.json" "d['rows'][39]['acc']['rel_mean'] > d['rows'][7]['acc']['rel_mean'] and d['rows'][39]['acc']['rel_mean'] > d['rows'][39]['local']['rel_mean']" "error grows with depth, accumulated above local"
jcheck "$T_TMP/r4.json" "all(r['acc']['rel_p99'] <= r['acc']['rel_max'] and r['acc']['cos_min'] <= r['acc']['cos_mean'] <= 1 for r in d['rows'])" "p99 <= max, cos min <= mean <= 1"

# the KL mean is the one qlens quant reports on the same chunks
expect_rc 0 "quant rtn 4" -- "$Q" quant --method rtn --bits 4 $SMALL --json
cp "$T_TMP/out" "$T_TMP/q4.json"
jcheck "$T_TMP/r4.json" "abs(d['kl']['mean'] - json.load(open('$T_TMP/q4.json'))['kl']['mean']) <= 1e-6 * d['kl']['mean']" "KL mean equals qlens quant's"
jcheck "$T_TMP/r4.json" "abs(d['top1'] - json.load(open('$T_TMP/q4.json'))['top1']) < 1e-9" "top-1 equals qlens quant's"

# KL attribution: one evaluation per quantized linear
expect_rc 0 "rtn 4 --kl-attrib" -- "$Q" divergence --method rtn --bits 4 $SMALL --kl-attrib --json
cp "$T_TMP/out" "$T_TMP/ka.json"
jcheck "$T_TMP/ka.json" "len(d['kl_rank']) == 35 and all(abs(r['kl_delta'] + r['kl_without'] - d['kl']['mean']) < 1e-6 for r in d['rows'] if r['kind'] == 'linear')" "kl_delta = KL - kl_without for all 35 linears"
jcheck "$T_TMP/ka.json" "all(r['kl_without'] is None for r in d['rows'] if r['kind'] != 'linear') and abs(d['kl']['mean'] - json.load(open('$T_TMP/r4.json'))['kl']['mean']) < 1e-12" "blocks unmeasured; the rest as without --kl-attrib"
jcheck "$T_TMP/ka.json" "[r['name'] for r in sorted((r for r in d['rows'] if r['kind'] == 'linear'), key=lambda r: -r['kl_delta'])] == d['kl_rank']" "kl_rank is by kl_delta"
jcheck "$T_TMP/r4.json" "d['kl_rank'] == [] and all(r['kl_delta'] is None for r in d['rows'])" "without --kl-attrib: not measured"
expect_rc 0 "--kl-attrib text" -- "$Q" divergence --method rtn --bits 4 $SMALL --kl-attrib --blocks --top 3
expect_grep "^KL contribution" "$T_TMP/out" "text: KL contribution list"
expect_grep "% of the KL\)" "$T_TMP/out" "text: share of the KL"

# a llama-quantize preset, installed as qlens quant installs it
expect_rc 0 "preset q4_k_m" -- "$Q" divergence --method q4_k_m $SMALL --json
cp "$T_TMP/out" "$T_TMP/p.json"
expect_rc 0 "quant preset q4_k_m" -- "$Q" quant --method q4_k_m $SMALL --json
cp "$T_TMP/out" "$T_TMP/qp.json"
jcheck "$T_TMP/p.json" "d['spec'] == 'Q4_K_M' and abs(d['kl']['mean'] - json.load(open('$T_TMP/qp.json'))['kl']['mean']) <= 1e-6 * d['kl']['mean'] and abs(d['bits_per_weight'] - json.load(open('$T_TMP/qp.json'))['bits_per_weight']) < 1e-9" "preset: KL and bits/weight equal to qlens quant's"
jcheck "$T_TMP/p.json" "d['rows'][-1]['quantized'] and d['rows'][-1]['local']['rel_mean'] > 0" "preset: the quantized classifier shows in the logits row"
expect_rc 2 "preset with --export" -- "$Q" divergence --method q4_k_m --export "$T_TMP/x.gguf" $SMALL
expect_grep "options of qlens quant" "$T_TMP/err" "--export refused with the reason"
expect_rc 2 "preset: bad --top" -- "$Q" divergence --method q4_k_m --top x $SMALL
expect_rc 0 "preset csv" -- "$Q" divergence --method q4_k_m $SMALL --csv
expect_grep "^logits,-1,logits,1," "$T_TMP/out" "preset csv has the logits row"

expect_rc 0 "csv" -- "$Q" divergence --method rtn --bits 4 $SMALL --csv
cp "$T_TMP/out" "$T_TMP/r4.csv"
if python3 - "$T_TMP/r4.csv" "$T_TMP/r4.json" <<'EOF'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
d = json.load(open(sys.argv[2]))
assert len(rows) == len(d['rows'])
for c, j in zip(rows, d['rows']):
    assert c['name'] == j['name']
    for m in ('acc', 'local'):
        for k in ('rel_mean', 'rel_p99', 'cos_mean'):
            assert abs(float(c[m + '_' + k]) - j[m][k]) <= 1e-7 * max(1, abs(j[m][k])), (c['name'], m, k)
EOF
then pass "CSV equals JSON"; else fail "CSV equals JSON"; fi

expect_rc 0 "text" -- "$Q" divergence --method rtn --bits 4 $SMALL --top 3
expect_grep "^blk\.4 +[0-9.]+ " "$T_TMP/out" "text: block row"
expect_grep "^logits " "$T_TMP/out" "text: logits row"
expect_grep "where the error enters" "$T_TMP/out" "text: entry ranking"
expect_grep "^KL +mean" "$T_TMP/out" "text: KL line"
expect_rc 0 "text --blocks" -- "$Q" divergence --method rtn --bits 4 $SMALL --blocks --top 0
if grep -q "attn_q" "$T_TMP/out"; then fail "--blocks hides the linears"; else pass "--blocks hides the linears"; fi
t_done
