#!/bin/sh
# Regenerate the stories260K quantization results table (README) with
# `qlens sweep`:  make results-table   (or: sh scripts/results-table.sh)
#
# Writes $OUT/stories260K.json (one qlens-results/1 file with every row),
# one CSV per sweep, $OUT/stories260K.md (the markdown table), and replaces
# the text between the markers
#   <!-- results-table:begin -->  ...  <!-- results-table:end -->
# in README.md when it has them (TABLE_FILES
# overrides that list, e.g. TABLE_FILES=/tmp/README-copy.md; '' = none).
#
# Evaluation is bounded for speed: the first 40 chunks of 512 tokens of
# tinystories-eval.txt (10,200 scored tokens), calibration 16 chunks of 512
# tokens of tinystories-calib.txt.  Environment: BUILD (default build),
# QLENS_BIN, OUT (default $BUILD/results), EVAL_CHUNKS, CALIB_CHUNKS,
# TABLE_FILES.
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
BUILD=${BUILD:-build}
Q=${QLENS_BIN:-$root/$BUILD/qlens}
OUT=${OUT:-$root/$BUILD/results}
EVAL_CHUNKS=${EVAL_CHUNKS:-40}
CALIB_CHUNKS=${CALIB_CHUNKS:-16}
[ -x "$Q" ] || { echo "results-table: $Q not built (make)" >&2; exit 2; }
mkdir -p "$OUT"
J=$OUT/stories260K.json
C="--ctx 512 --chunks $EVAL_CHUNKS --calib-chunks $CALIB_CHUNKS"
rm -f "$J" "$OUT"/*.csv
t0=$(date +%s)

sweep() { # name, sweep arguments...
    name=$1; shift
    echo "== $name" >&2
    "$Q" sweep "$@" $C --out "$J" --append --csv "$OUT/$name.csv" >&2
}
sweep 1-weights --methods rtn,gptq,awq,spqr --bits 8,4,3,2
sweep 2-int8 --methods llm.int8 --bits 8
sweep 3-gptq-actorder --methods gptq --bits 4,3,2 --opts act_order=1
sweep 3-gptq-g16 --methods gptq --bits 3,2 --groups 16
sweep 4-spqr-ablation --methods spqr --bits 3,2 --groups 16,128 --opts 'outliers=1;outliers=0'
sweep 5-w8a8 --methods smoothquant,rtn --bits 8 --groups 0 --act-bits 8
sweep 6-act --methods rtn --bits 16 --act-bits 8,4
sweep 7-kv --methods rtn --bits 16 --kv-bits 8,4
sweep 8-kv-channel --methods rtn --bits 16 --kv-bits 4 --kv-axis channel
t1=$(date +%s)

# CSV columns: id,method,spec,w_bits,a_bits,kv_bits,group,sym,ppl,ppl_stderr,
# delta_ppl_pct,kl_mean,kl_p99,kl_max,top1,bits_per_weight,size_mib,
# seconds_quant,seconds_eval,outlier_frac
render() { # title, csv files...  (float rows only once, in the first section)
    title=$1; shift
    printf '\n**%s**\n\n' "$title"
    printf '| configuration | bits/weight | PPL | ΔPPL | KL mean | KL p99 | top-1 |%s\n' "${OUTL:+ float weights |}"
    printf '|---|---:|---:|---:|---:|---:|---:|%s\n' "${OUTL:+---:|}"
    for f in "$@"; do
        awk -F, -v first="$FIRST" -v outl="$OUTL" -v chan="$(case $f in *channel*) echo 1;; esac)" '
        NR == 1 { next }
        {
            for (i = 1; i <= NF; i++) gsub(/"/, "", $i)
            m = $2; w = $4; a = $5; kv = $6; g = $7; spec = $3
            if (m == "float" && w == 16 && a == 16 && kv == 16) {
                if (!first) next
                label = "float"
            } else {
                label = (w == 16 ? "float weights" : m " W" w)
                if (a < 16) label = label (w == 16 ? ", A" a : "A" a)
                if (kv < 16) label = label ", KV" kv (chan ? " (K per channel)" : " (per token)")
                if (w < 16) label = label (g > 0 ? " g" g : (g == 0 ? " per-channel" : " per-tensor"))
                if (spec ~ /act_order=1/ && m == "GPTQ") label = label ", act-order"
                if (spec ~ /outliers=0/) label = label ", no outliers"
                else if (m == "SpQR") label = label ", outliers"
            }
            printf "| %s | %.2f | %.3f | %+.1f%% | %.4f | %.3f | %.1f%% |", label, $16, $9, $11, $12, $13, 100 * $15
            if (outl) printf " %.2f%% |", 100 * $20
            printf "\n"
        }' "$f"
        FIRST=
    done
}
table=$OUT/stories260K.md
{
    FIRST=1
    render "Weight-only quantization (RTN, GPTQ, AWQ: groups of 128; SpQR: its default groups of 16 with 3-bit statistics and outliers)" \
        "$OUT/1-weights.csv" "$OUT/2-int8.csv" "$OUT/3-gptq-actorder.csv" "$OUT/3-gptq-g16.csv"
    OUTL=1
    render "SpQR ablation (groups of 16 vs 128, with and without outliers; float weights = outliers kept in float)" "$OUT/4-spqr-ablation.csv"
    OUTL=
    render "Activations and KV cache (fake-quantized per token during evaluation)" \
        "$OUT/5-w8a8.csv" "$OUT/6-act.csv" "$OUT/7-kv.csv" "$OUT/8-kv-channel.csv"
    printf '\nstories260K (llama2.c .bin), evaluation: first %s chunks x 512 tokens of tinystories-eval.txt (llama.cpp method, second half of each chunk scored); calibration: %s chunks x 512 tokens of tinystories-calib.txt; %s s on this machine. Regenerate: `make results-table`.\n' \
        "$EVAL_CHUNKS" "$CALIB_CHUNKS" "$((t1 - t0))"
} >"$table"

for f in ${TABLE_FILES-README.md}; do
    # Markers count only alone on their line: prose may quote them.
    [ -f "$f" ] && grep -qx '<!-- results-table:begin -->' "$f" || continue
    if ! grep -qx '<!-- results-table:end -->' "$f"; then # never cut the rest of the file
        echo "results-table: $f has the begin marker but no end marker; left as it is" >&2
        continue
    fi
    awk -v tbl="$table" '
        /^<!-- results-table:begin -->$/ { print; while ((getline l < tbl) > 0) print l; skip = 1; next }
        /^<!-- results-table:end -->$/ { skip = 0 }
        !skip { print }' "$f" >"$f.tmp" && mv "$f.tmp" "$f"
    echo "results-table: updated $f" >&2
done
cat "$table"
