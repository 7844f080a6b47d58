#!/bin/sh
# End-to-end: the core CLI.  --version, --help of every command, `qlens info`
# and `qlens stats` on stories260K in text, JSON and CSV (JSON values checked
# against an independent pure-python computation from the raw floats of the
# .bin file), the default model (argument, $QLENS_MODEL, $QLENS_SHARED, none),
# and the exit codes: 2 bad usage, 3 missing file, 1 malformed file.
. "$(dirname "$0")/lib.sh"
Q=$QLENS_BIN
M=$QLENS_SHARED/models
BIN=$M/stories260K.bin

# json_check FILE PYTHON-EXPR NAME: evaluate EXPR with j = the parsed JSON
json_check() {
    if python3 -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1" 2>"$T_TMP/pyerr"
    then pass "$3"; else fail "$3"; head -c 400 "$1" | sed 's/^/  | /'; sed 's/^/  py: /' "$T_TMP/pyerr"; fi
}

# ---- version and help ----
expect_rc 0 "--version" -- "$Q" --version
expect_grep '^qlens [0-9]+\.[0-9]+\.[0-9]+$' "$T_TMP/out" "--version prints 'qlens X.Y.Z'"
expect_rc 0 "--help" -- "$Q" --help
expect_grep '^commands:' "$T_TMP/out" "--help lists commands"
expect_grep 'Exit codes' "$T_TMP/out" "--help documents exit codes"
cmds=$(sed -n '/^commands:/,/^$/s/^  \([a-z][a-z0-9_-]*\) .*/\1/p' "$T_TMP/out")
[ -n "$cmds" ] && pass "command list parsed ($(echo $cmds | wc -w) commands)" || fail "no commands in --help"
for c in $cmds; do
    expect_rc 0 "$c --help" -- "$Q" "$c" --help
    expect_grep '[Uu]sage' "$T_TMP/out" "$c --help prints a usage line"
done

# ---- info and stats on stories260K ----
expect_rc 0 "info stories260K.bin" -- "$Q" info "$BIN"
expect_grep 'parameters 260032' "$T_TMP/out" "info: parameter count"
expect_rc 0 "stats text" -- "$Q" stats "$BIN"
expect_grep '^tensor +shape +mean +std +min +max +absmax +skew +kurt +exkurt' "$T_TMP/out" "stats text: header"
expect_grep '^blk\.0\.attn_q +64x64 ' "$T_TMP/out" "stats text: blk.0.attn_q row"
[ "$(grep -c . "$T_TMP/out")" = 48 ] && pass "stats text: header + 47 tensors" || fail "stats text: $(grep -c . "$T_TMP/out") lines"
awk 'NR > 1 && NF != 15 { bad = 1 } END { exit bad }' "$T_TMP/out" && pass "stats text: 15 columns on every row" || fail "stats text: ragged columns"

expect_rc 0 "stats --json" -- "$Q" stats "$BIN" --json
cp "$T_TMP/out" "$T_TMP/stats.json"
json_check "$T_TMP/stats.json" "len(j['tensors'])==47 and j['per_channel'] is None and j['abs_thresh']==6" "stats json: 47 tensors"
json_check "$T_TMP/stats.json" "all(abs(t['excess_kurtosis'] - (t['kurtosis'] - 3)) < 1e-12 for t in j['tensors'])" "stats json: excess = Pearson - 3"

# Independent check: blk.0.attn_q read from the llama2.c file with struct,
# moments computed in plain python (two passes, population definitions).
cat >"$T_TMP/indep.py" <<'EOF'
import json, math, struct, sys
path, jpath = sys.argv[1], sys.argv[2]
raw = open(path, 'rb').read()
dim, hidden, L, heads, kvh, vocab, ctx = struct.unpack('<7i', raw[:28])
vocab = abs(vocab)
off = 28 + 4 * (vocab * dim + L * dim)            # after token_embd, attn norms
x = struct.unpack('<%df' % (dim * dim), raw[off:off + 4 * dim * dim])  # wq of layer 0
n = len(x); mean = sum(x) / n
m2 = sum((v - mean) ** 2 for v in x) / n
m3 = sum((v - mean) ** 3 for v in x) / n
m4 = sum((v - mean) ** 4 for v in x) / n
std = math.sqrt(m2)
want = dict(n=n, mean=mean, std=std, min=min(x), max=max(x), skew=m3 / m2 ** 1.5,
            kurtosis=m4 / m2 ** 2, absmax=max(abs(v) for v in x),
            n_beyond_3std=sum(abs(v - mean) > 3 * std for v in x),
            n_beyond_6std=sum(abs(v - mean) > 6 * std for v in x))
t = [t for t in json.load(open(jpath))['tensors'] if t['name'] == 'blk.0.attn_q'][0]
bad = []
for k, w in want.items():
    g = t[k]
    tol = 1e-9 * max(abs(w), std) if isinstance(w, float) else 0
    if abs(g - w) > tol:
        bad.append('%s: qlens %r, python %r' % (k, g, w))
print('\n'.join(bad) if bad else 'kurtosis %.6f std %.6f n_beyond_3std %d' % (want['kurtosis'], std, want['n_beyond_3std']))
sys.exit(1 if bad else 0)
EOF
if python3 "$T_TMP/indep.py" "$BIN" "$T_TMP/stats.json" >"$T_TMP/py" 2>&1; then
    pass "stats json: blk.0.attn_q matches pure python ($(cat "$T_TMP/py"))"
else
    fail "stats json: blk.0.attn_q differs from pure python"; sed 's/^/  | /' "$T_TMP/py"
fi

expect_rc 0 "stats --csv" -- "$Q" stats "$BIN" --csv
cp "$T_TMP/out" "$T_TMP/stats.csv"
if python3 - "$T_TMP/stats.csv" "$T_TMP/stats.json" <<'EOF' >"$T_TMP/py" 2>&1
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
js = {t['name']: t for t in json.load(open(sys.argv[2]))['tensors']}
assert len(rows) == 47, len(rows)
for r in rows:
    t = js[r['tensor']]
    assert r['channel'] == '', r
    for k in ('mean', 'std', 'kurtosis', 'excess_kurtosis', 'absmax_over_std', 'frac_beyond_3std'):
        assert float(r[k]) == t[k], (r['tensor'], k, r[k], t[k])
    assert int(r['n_beyond_3std']) == t['n_beyond_3std'] and int(r['n']) == t['n']
EOF
then pass "stats csv: header + 47 rows, same numbers as JSON"; else fail "stats csv"; sed 's/^/  | /' "$T_TMP/py"; fi

expect_rc 0 "stats --tensor --per-channel rows --json" -- "$Q" stats "$BIN" --tensor 'ffn_down$' --per-channel rows --json
json_check "$T_TMP/out" "len(j['tensors'])==5 and j['per_channel']=='rows' and all(len(t['channels'])==64 and t['channels'][3]['index']==3 and t['channels'][0]['n']==172 for t in j['tensors'])" "per-channel rows: 5 tensors x 64 channels of 172"
# per-channel values, independently: blk.0.ffn_down (dim, hidden) from the raw file
cat >"$T_TMP/chan.py" <<'EOF'
import json, math, struct, sys
path, jrows, jcols = sys.argv[1:4]
raw = open(path, 'rb').read()
dim, hidden, L, heads, kvh, vocab, ctx = struct.unpack('<7i', raw[:28])
vocab, kv = abs(vocab), dim * kvh // heads
# token_embd, attn norms, wq, wk, wv, wo, ffn norms, w1, then w2 (ffn_down)
off = 28 + 4 * (vocab * dim + L * dim + 2 * L * dim * dim + 2 * L * dim * kv + L * dim + L * hidden * dim)
w = struct.unpack('<%df' % (dim * hidden), raw[off:off + 4 * dim * hidden])  # layer 0
def moments(x):
    n = len(x); mean = sum(x) / n
    m2 = sum((v - mean) ** 2 for v in x) / n
    m4 = sum((v - mean) ** 4 for v in x) / n
    return dict(n=n, mean=mean, std=math.sqrt(m2), kurtosis=m4 / m2 ** 2, min=min(x), max=max(x),
                n_beyond_3std=sum(abs(v - mean) > 3 * math.sqrt(m2) for v in x))
bad = []
for jpath, axis in ((jrows, 'rows'), (jcols, 'cols')):
    t = json.load(open(jpath))['tensors'][0]
    assert t['name'] == 'blk.0.ffn_down' and t['shape'] == [dim, hidden], t['shape']
    assert len(t['channels']) == (dim if axis == 'rows' else hidden)
    for c in (0, 3, len(t['channels']) - 1):
        x = w[c * hidden:(c + 1) * hidden] if axis == 'rows' else w[c::hidden]
        want, got = moments(x), t['channels'][c]
        for k, v in want.items():
            if abs(got[k] - v) > (1e-9 * max(abs(v), want['std']) if isinstance(v, float) else 0):
                bad.append('%s %d %s: qlens %r, python %r' % (axis, c, k, got[k], v))
print('\n'.join(bad) if bad else 'ok')
sys.exit(1 if bad else 0)
EOF
"$Q" stats "$BIN" --tensor '^blk\.0\.ffn_down$' --per-channel rows --json >"$T_TMP/rows.json" 2>&1
"$Q" stats "$BIN" --tensor '^blk\.0\.ffn_down$' --per-channel cols --json >"$T_TMP/cols.json" 2>&1
if python3 "$T_TMP/chan.py" "$BIN" "$T_TMP/rows.json" "$T_TMP/cols.json" >"$T_TMP/py" 2>&1; then
    pass "per-channel rows and cols of blk.0.ffn_down match pure python"
else
    fail "per-channel values differ from pure python"; sed 's/^/  | /' "$T_TMP/py" | head
fi
expect_rc 0 "stats --per-channel cols --csv" -- "$Q" stats "$BIN" --tensor '^blk\.0\.attn_k$' --per-channel cols --csv
[ "$(wc -l <"$T_TMP/out")" = 66 ] && pass "per-channel cols csv: header + tensor + 64 columns" || fail "per-channel cols csv: $(wc -l <"$T_TMP/out") lines"
expect_rc 0 "stats --abs-thresh 0.5 --json" -- "$Q" stats "$BIN" --tensor '^blk\.0\.attn_q$' --abs-thresh 0.5 --json
json_check "$T_TMP/out" "j['abs_thresh']==0.5 and j['tensors'][0]['n_beyond_abs'] > 0" "abs threshold applies"
expect_rc 0 "stats gguf" -- "$Q" stats "$M/stories260K.gguf" --tensor 'attn_q$'
expect_grep '^blk\.4\.attn_q ' "$T_TMP/out" "stats on the GGUF file"

# ---- default model and default command ----
expect_rc 0 "QLENS_MODEL picks the model" -- env QLENS_MODEL="$M/stories260K.gguf" "$Q" stats --json
json_check "$T_TMP/out" "j['format']=='GGUF'" "QLENS_MODEL: the GGUF was used"
expect_rc 0 "QLENS_SHARED default model" -- env -u QLENS_MODEL QLENS_SHARED="$QLENS_SHARED" "$Q" stats --json
json_check "$T_TMP/out" "j['model'].endswith('models/stories260K.bin')" "QLENS_SHARED: stories260K.bin used"
mkdir -p "$T_TMP/empty/sub"
( cd "$T_TMP/empty/sub" && env -u QLENS_MODEL QLENS_SHARED="$T_TMP/empty" "$Q" stats >"$T_TMP/out" 2>"$T_TMP/err" ); rc=$?
[ "$rc" != 0 ] && pass "no model: non-zero exit ($rc)" || fail "no model: exit 0"
expect_grep 'QLENS_MODEL' "$T_TMP/err" "no model: message says how to point qlens at a model"
( cd "$T_TMP/empty/sub" && env -u QLENS_MODEL QLENS_SHARED="$T_TMP/empty" "$Q" </dev/null >"$T_TMP/out" 2>"$T_TMP/err" ); rc=$?
[ "$rc" != 0 ] && grep -q 'QLENS_MODEL' "$T_TMP/err" && pass "qlens with no model: explains, non-zero" || fail "qlens with no model (exit $rc)"
expect_rc 0 "qlens (no subcommand, not a terminal)" -- env -u QLENS_MODEL "$Q" </dev/null
expect_grep '^parameters 260032 in 47 tensors' "$T_TMP/out" "default: model summary"
expect_grep '^blk\.0\.attn_q +64x64 ' "$T_TMP/out" "default: statistics table"
expect_rc 0 "qlens MODEL (not a terminal)" -- "$Q" "$M/stories260K.gguf" </dev/null
expect_grep '^format +GGUF' "$T_TMP/out" "qlens MODEL: summary of that model"

# ---- exit codes ----
expect_rc 2 "unknown option -> 2" -- "$Q" --no-such-option
expect_rc 2 "stats unknown option -> 2" -- "$Q" stats "$BIN" --no-such-option
expect_rc 2 "stats --per-channel diag -> 2" -- "$Q" stats "$BIN" --per-channel diag
expect_rc 2 "stats bad regex -> 2" -- "$Q" stats "$BIN" --tensor 'blk.(0'
expect_grep 'regular expression' "$T_TMP/err" "bad regex: says so"
expect_rc 2 "stats regex matching nothing -> 2" -- "$Q" stats "$BIN" --tensor 'no_such_tensor'
expect_rc 2 "stats --abs-thresh x -> 2" -- "$Q" stats "$BIN" --abs-thresh x
expect_rc 2 "two models -> 2" -- "$Q" stats "$BIN" "$BIN"
expect_rc 3 "missing file -> 3" -- "$Q" stats "$T_TMP/no-such-model.bin"
expect_grep 'no-such-model\.bin' "$T_TMP/err" "missing file: named"
printf 'GGUF\003\000\000\000\377\377\377\377\377\377\377\377' >"$T_TMP/bad.gguf"
expect_rc 1 "malformed GGUF -> 1" -- "$Q" stats "$T_TMP/bad.gguf"
expect_grep 'bad\.gguf.*offset' "$T_TMP/err" "malformed: message names file and offset"
head -c 28 "$BIN" >"$T_TMP/trunc.bin"
expect_rc 1 "truncated llama2.c -> 1" -- "$Q" stats "$T_TMP/trunc.bin"
expect_rc 1 "malformed via default command -> 1" -- "$Q" "$T_TMP/trunc.bin" </dev/null
t_done
