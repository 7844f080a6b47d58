#!/bin/sh
# valgrind: a representative subset of qlens commands on stories260K under
# valgrind memcheck: no invalid read/write, no use of uninitialised values,
# no definite leak (`make valgrind`, build-vg/: valgrind cannot decode
# AVX-512, so that build targets x86-64-v2 and the scalar/AVX2 paths run;
# OPENBLAS_CORETYPE keeps OpenBLAS off its AVX-512 kernels too).
#
#   sh tests/valgrind.sh BUILD
# Prints PASS/FAIL per command and "N passed, N failed"; exits 1 on a failure.
BUILD=${1:-build-vg}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
QLENS_BIN="$root/$BUILD/qlens"
. tests/lib.sh
export OPENBLAS_CORETYPE=Haswell OPENBLAS_NUM_THREADS=1
M="$QLENS_SHARED/models/stories260K.bin"
G="$QLENS_SHARED/models/stories260K.gguf"
TXT="$QLENS_SHARED/data/tinystories-eval.txt"
VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --track-origins=yes"
npass=0; nfail=0

# vg WANT NAME -- CMD...: CMD under valgrind exits WANT, with no valgrind error
vg() {
    want=$1; name=$2; shift 3
    $VG "$@" >"$T_TMP/out" 2>"$T_TMP/err"; rc=$?
    if [ "$rc" = "$want" ]; then pass "valgrind: $name"; npass=$((npass + 1)); else
        fail "valgrind: $name (exit $rc, wanted $want; 99 = valgrind found errors)"
        nfail=$((nfail + 1)); grep -E '^==' "$T_TMP/err" | head -40
    fi
}

vg 0 "info (llama2.c)" -- "$QLENS_BIN" info "$M"
vg 0 "info --json (GGUF)" -- "$QLENS_BIN" info "$G" --json
vg 0 "stats" -- "$QLENS_BIN" stats "$M"
vg 0 "stats --json --per-channel rows (GGUF)" -- "$QLENS_BIN" stats "$G" --json --per-channel rows
vg 0 "ppl" -- "$QLENS_BIN" ppl "$M" "$TXT" --ctx 64 --chunks 3 --json
cp "$T_TMP/out" "$T_TMP/ppl.json"
vg 0 "ppl --kl --act-bits 8 --kv-bits 4 (GGUF)" -- "$QLENS_BIN" ppl "$G" "$TXT" --ctx 64 --chunks 2 --kl --act-bits 8 --kv-bits 4
vg 0 "quant rtn" -- "$QLENS_BIN" quant "$M" --method rtn --bits 4 --group 32 --eval "$TXT" --ctx 64 --chunks 2 --json
cp "$T_TMP/out" "$T_TMP/quant.json"
vg 0 "quant gptq" -- "$QLENS_BIN" quant "$M" --method gptq --bits 3 --group 64 --calib "$QLENS_SHARED/data/tinystories-calib.txt" --calib-chunks 2 --eval "$TXT" --ctx 64 --chunks 2
vg 0 "tokenize" -- "$QLENS_BIN" tokenize "$G" "Once upon a time, there was a little girl."
vg 0 "results list" -- "$QLENS_BIN" results list
vg 0 "results import (ppl, quant)" -- "$QLENS_BIN" results import "$T_TMP/ppl.json" "$T_TMP/quant.json" --into "$T_TMP/store.json"
vg 0 "results validate" -- "$QLENS_BIN" results validate "$T_TMP/store.json"
vg 0 "results list --where" -- "$QLENS_BIN" results list --store "$T_TMP/store.json" --store papers --where 'bits=3..4,method!=none' --json
vg 0 "results merge" -- "$QLENS_BIN" results merge "$T_TMP/store.json" papers -o "$T_TMP/merged.json"
printf '{"ppl": 1' >"$T_TMP/bad.json"
vg 1 "results import of a malformed file (error path)" -- "$QLENS_BIN" results import "$T_TMP/bad.json" --into "$T_TMP/store.json"
vg 3 "ppl on a missing model (error path)" -- "$QLENS_BIN" ppl "$T_TMP/none.bin" "$TXT"

echo "$npass passed, $nfail failed"
t_done
