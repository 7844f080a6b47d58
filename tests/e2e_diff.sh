#!/bin/sh
# End-to-end: `qlens diff BASE OTHER`.  Identical files give zero error;
# an F16 copy and llama.cpp's pure-Q8_0 / pure-Q4_0 files of the shared
# model give the MSE, SQNR, max error, relative Frobenius error and
# bits/weight that an independent pure-Python dequantizer (tests/ggufpy.py)
# computes from the raw file bytes; text/JSON/CSV; tensors in one file only;
# shape mismatch, usage and missing-file errors.
. "$(dirname "$0")/lib.sh"
Q=$QLENS_BIN
G=$QLENS_SHARED/reference/ggml-types
M=$QLENS_SHARED/models
PY=$(dirname "$0")/ggufpy.py

# compare_py BASE OTHER NAME: qlens diff --json against ggufpy.py diff
compare_py() {
    "$Q" diff "$1" "$2" --json >"$T_TMP/q.json" 2>"$T_TMP/err" || { fail "$3: qlens diff failed"; cat "$T_TMP/err"; return; }
    python3 "$PY" diff "$1" "$2" >"$T_TMP/p.json" || { fail "$3: ggufpy failed"; return; }
    if python3 - "$T_TMP/q.json" "$T_TMP/p.json" <<'PYEOF'
import json, sys
q = json.load(open(sys.argv[1])); p = json.load(open(sys.argv[2]))
rows = {t['name']: t for t in q['tensors']}
assert len(rows) == len(p), (len(rows), len(p))
def close(a, b, tol):
    return abs(a - b) <= tol * max(abs(a), abs(b), 1e-30)
for name, (mse, sq, mx, rel, bpw) in p.items():
    t = rows[name[:-len(".weight")]]  # JSON prints 9 significant digits
    assert close(t['mse'], mse, 1e-8), (name, t['mse'], mse)
    assert abs(t['sqnr_db'] - sq) < 1e-5, (name, t['sqnr_db'], sq)
    assert close(t['max_abs_err'], mx, 1e-8), (name, t['max_abs_err'], mx)
    assert close(t['rel_fro'], rel, 1e-8), (name, t['rel_fro'], rel)
    assert abs(t['bpw'] - bpw) < 1e-12, (name, t['bpw'], bpw)
PYEOF
    then pass "$3: every tensor's metrics equal the Python reference"; else fail "$3: metrics differ from the Python reference"; fi
}

# ---- identical files ----
expect_rc 0 "diff model-f32 with itself" -- "$Q" diff "$G/model-f32.gguf" "$G/model-f32.gguf"
expect_grep '^total +918272 +32\.000 +0\.0000e\+00 +300\.00 +0 +0$' "$T_TMP/out" "identical: total row exact, 32 bits/weight"
[ "$(grep -c ' 300\.00 ' "$T_TMP/out")" = 13 ] && pass "identical: 12 tensors + total at 300 dB" || fail "identical: rows not all exact"

# ---- F16 copy (written by the Python reference) ----
python3 "$PY" f16 "$G/model-f32.gguf" "$T_TMP/m16.gguf" && pass "F16 copy written" || fail "F16 copy"
compare_py "$G/model-f32.gguf" "$T_TMP/m16.gguf" "F32 vs F16"
expect_rc 0 "diff F32 vs F16 text" -- "$Q" diff "$G/model-f32.gguf" "$T_TMP/m16.gguf"
expect_grep '^blk\.0\.attn_q +256x256 +F32 +F16 +16\.000 ' "$T_TMP/out" "F16: type and 16 bits/weight shown"

# ---- llama.cpp's quantized files (read once the loader accepts them) ----
for t in Q8_0 Q4_0; do
    if "$Q" info "$G/pure-$t.gguf" >/dev/null 2>&1; then
        compare_py "$G/model-f32.gguf" "$G/pure-$t.gguf" "F32 vs pure-$t"
    else
        echo "SKIP: pure-$t.gguf not readable by this build"
    fi
done

# ---- CSV ----
expect_rc 0 "diff --csv" -- "$Q" diff "$G/model-f32.gguf" "$T_TMP/m16.gguf" --csv
expect_grep '^tensor,shape,status,base_type,type,params,bpw,mse,sqnr_db,max_abs_err,rel_fro,nonfinite$' "$T_TMP/out" "csv header"
[ "$(grep -c ',both,' "$T_TMP/out")" = 13 ] && pass "csv: 12 tensors + total" || fail "csv: row count"
awk -F, 'NR > 1 && NF != 12 { bad = 1 } END { exit bad }' "$T_TMP/out" && pass "csv: 12 fields per row" || fail "csv: ragged rows"

# ---- a tensor in one file only (stories260K .bin ties output; the GGUF does not) ----
expect_rc 0 "diff bin vs gguf" -- "$Q" diff "$M/stories260K.bin" "$M/stories260K.gguf"
expect_grep '^only in other: output$' "$T_TMP/out" "only-in-other listed"
expect_grep '^47 tensors compared' "$T_TMP/out" "47 tensors matched across formats"
expect_rc 0 "diff --json one-sided" -- "$Q" diff "$M/stories260K.gguf" "$M/stories260K.bin" --json
python3 -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if j['only_in_base']==['output'] and j['only_in_other']==[] and j['total']['sqnr_db']==300 else 1)" "$T_TMP/out" \
    && pass "json: only_in_base, exact total" || fail "json: only_in lists"
expect_rc 0 "diff --tensor" -- "$Q" diff "$G/model-f32.gguf" "$T_TMP/m16.gguf" --tensor 'attn_[qk]$' --csv
[ "$(grep -c ',both,' "$T_TMP/out")" = 3 ] && pass "--tensor keeps 2 tensors + total" || fail "--tensor filter"

# ---- errors ----
expect_rc 1 "shape mismatch" -- "$Q" diff "$M/stories260K.bin" "$G/model-f32.gguf"
expect_grep 'token_embd has shape 512x64 in .*stories260K\.bin but 512x256 in .*model-f32\.gguf' "$T_TMP/err" "shape mismatch names tensor, shapes and files"
expect_rc 2 "one model only" -- "$Q" diff "$G/model-f32.gguf"
expect_rc 2 "unknown option" -- "$Q" diff "$G/model-f32.gguf" "$G/model-f32.gguf" --frobnicate
expect_rc 2 "bad regex" -- "$Q" diff "$G/model-f32.gguf" "$G/model-f32.gguf" --tensor '('
expect_rc 3 "missing file" -- "$Q" diff "$G/model-f32.gguf" "$T_TMP/nope.gguf"
expect_grep 'nope\.gguf' "$T_TMP/err" "missing file named"
t_done
