#!/bin/sh
# llama.cpp's --kl-divergence-base files and KL statistics against llama.cpp
# itself.  llama.cpp's logits come from the prebuilt library of the
# node-llama-cpp npm package (tests/llamacpp_logits.mjs, as
# tests/e2e_llamacpp.sh installs it); tests/kl_ref.py reimplements, from
# llama.cpp's tools/perplexity/perplexity.cpp, the writer of the base file
# and the statistics of --kl-divergence (independently of qlens's C code).
#
#   1. qlens writes a base file from stories260K (float); its header and
#      tokens are byte-equal to the file llama.cpp's writer makes from
#      llama.cpp's logits on the same chunks, and the packed records equal
#      the reference writer's on qlens's own logits;
#   2. qlens reads the llama.cpp-made file with a 3-bit RTN model: every
#      statistic equals the reference's on the same candidate logits
#      within 0.1% (absolute 1e-6 for values near 0);
#   3. the same against llama.cpp's own candidate logits: the means, PPLs,
#      ratios and standard errors within 0.1%; percentiles and the top-token
#      rate differ a little more (llama.cpp keeps K/V in F16): reported.
# Skipped, said so, when node or the npm registry is unavailable.
. tests/lib.sh
: "${QLENS_BUILD:=$(pwd)/build}"
Q="$QLENS_BIN"
DUMP="$QLENS_BUILD/tests/tool_kllogits"
CACHE=${QLENS_NPM_CACHE:-$HOME/.cache/qlens/npm}
VER=3.22.1
NL="$CACHE/node-llama-cpp-$VER"
M="$QLENS_SHARED/models/stories260K.gguf"
TXT="$QLENS_SHARED/data/tinystories-eval.txt"
N_CTX=128
CHUNKS=4

[ -x "$DUMP" ] || { fail "tool_kllogits not built"; t_done; }
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "SKIP: KL files vs llama.cpp (node/npm not installed)"; t_done
fi
if [ ! -f "$NL/ok" ]; then
    mkdir -p "$NL" && timeout 600 npm install --silent --ignore-scripts --no-audit --no-fund \
        --omit=optional --prefix "$NL" "node-llama-cpp@$VER" "@node-llama-cpp/linux-x64@$VER" \
        >"$T_TMP/npm.log" 2>&1 && touch "$NL/ok"
fi
if [ ! -f "$NL/ok" ]; then
    echo "SKIP: KL files vs llama.cpp (npm install node-llama-cpp@$VER failed; registry unreachable?)"
    tail -3 "$T_TMP/npm.log"; t_done
fi

# the base file by qlens, the candidate model, the chunks' token ids
expect_rc 0 "qlens writes a base file" -- "$Q" ppl "$M" "$TXT" --ctx $N_CTX --chunks $CHUNKS --kl-divergence-base "$T_TMP/q.kl"
expect_rc 0 "3-bit RTN candidate saved" -- "$Q" quant "$M" --method rtn --bits 3 --group 32 --chunks 1 --save-gguf "$T_TMP/rtn3.gguf"
python3 -c "
import struct, sys
d = open(sys.argv[1], 'rb').read()
n_ctx, n_vocab, n_chunk = struct.unpack_from('<3i', d, 8)
print(' '.join(map(str, struct.unpack_from('<%di' % (n_ctx * n_chunk), d, 20))))" "$T_TMP/q.kl" >"$T_TMP/ids.txt"

if ! timeout 1200 node tests/llamacpp_logits.mjs "$NL" "$T_TMP/ids.txt" $N_CTX $CHUNKS "$T_TMP/ll" "$M" "$T_TMP/rtn3.gguf" \
        >"$T_TMP/ll.jsonl" 2>"$T_TMP/ll.err"; then
    fail "llama.cpp logits (node-llama-cpp $VER)"; tail -5 "$T_TMP/ll.err"; t_done
fi
R="python3 tests/kl_ref.py"

# 1. the writer
$R write "$T_TMP/ids.txt" $N_CTX $CHUNKS "$T_TMP/ll.0.f32" "$T_TMP/l.kl" || fail "reference writer"
$R compare "$T_TMP/q.kl" "$T_TMP/l.kl" >"$T_TMP/cmp.json"
"$DUMP" "$M" "$T_TMP/q.kl" "$T_TMP/qa.f32" || fail "tool_kllogits (float)"
$R write "$T_TMP/ids.txt" $N_CTX $CHUNKS "$T_TMP/qa.f32" "$T_TMP/qp.kl" || fail "reference writer (qlens logits)"
python3 - "$T_TMP" <<'PY' >"$T_TMP/w.log"; st=$?
import json, struct, sys
t = sys.argv[1]
c = json.load(open(t + '/cmp.json'))
a, b = open(t + '/q.kl', 'rb').read(), open(t + '/qp.kl', 'rb').read()
ok = len(a) == len(b)
n_ctx, n_vocab, n_chunk = struct.unpack_from('<3i', a, 8)
nv = 2 * ((n_vocab + 1) // 2) + 4
off, recs, q_diff, head_diff = 20 + 4 * n_ctx * n_chunk, 0, 0, 0.0
while ok and off < len(a):
    ha, hb = struct.unpack_from('<2f', a, off), struct.unpack_from('<2f', b, off)
    head_diff = max(head_diff, abs(ha[0] - hb[0]), abs(ha[1] - hb[1]))
    q_diff = max(q_diff, max(abs(x - y) for x, y in zip(struct.unpack_from('<%dH' % (nv - 4), a, off + 8),
                                                        struct.unpack_from('<%dH' % (nv - 4), b, off + 8))))
    off += 2 * nv
    recs += 1
print(('ok   ' if c['header_equal'] else 'BAD  ') + 'header and tokens byte-equal to llama.cpp\'s file on the same chunks')
print(('ok   ' if ok and q_diff <= 1 and head_diff < 1e-4 else 'BAD  ') +
      f'qlens\'s records = the reference writer\'s on qlens\'s logits ({recs} records, packed values differ by at most {q_diff}, scale/min_log_prob by {head_diff:.2g})')
print(('ok   ' if c['max_logprob_diff'] < 0.1 else 'BAD  ') +
      f'log-probs of qlens\'s and llama.cpp\'s float model within {c["max_logprob_diff"]:.4f} nats')
PY

# 2. and 3. the statistics
"$DUMP" "$T_TMP/rtn3.gguf" "$T_TMP/l.kl" "$T_TMP/qc.f32" || fail "tool_kllogits (candidate)"
$R stats "$T_TMP/l.kl" "$T_TMP/qc.f32" >"$T_TMP/ref_q.json" || fail "reference statistics (qlens logits)"
$R stats "$T_TMP/l.kl" "$T_TMP/ll.1.f32" >"$T_TMP/ref_l.json" || fail "reference statistics (llama.cpp logits)"
expect_rc 0 "qlens reads llama.cpp's file" -- "$Q" ppl "$T_TMP/rtn3.gguf" --kl-divergence-base "$T_TMP/l.kl" --kl-divergence --json
cp "$T_TMP/out" "$T_TMP/q.json"
expect_rc 0 "qlens quant against llama.cpp's file" -- "$Q" quant "$M" --method rtn --bits 3 --group 32 --kl-divergence-base "$T_TMP/l.kl" --json
cp "$T_TMP/out" "$T_TMP/quant.json"
python3 - "$T_TMP" <<'PY' >>"$T_TMP/w.log" || st=1
import json, sys
t = sys.argv[1]
q = json.load(open(t + '/q.json'))
k = q['kl']
got = {'ppl': q['ppl'], 'ppl_stderr': q['stderr']}
for key in ('base_ppl', 'base_stderr', 'cor_ln_ppl', 'ln_ppl_ratio', 'ln_ppl_ratio_stderr', 'ppl_ratio',
            'ppl_ratio_stderr', 'ppl_diff', 'ppl_diff_stderr', 'top1', 'top1_stderr'):
    got[key] = k[key]
for name, d in (('kld', k['kld']), ('dp', k['delta_p'])):
    for key in ('mean', 'stderr', 'max', 'min', 'median', 'p99_9', 'p99', 'p95', 'p90', 'p75', 'p25',
                'p10', 'p5', 'p1', 'p0_1'):
        got[name + '_' + key] = d[key]
got['dp_rms'], got['dp_rms_stderr'] = k['delta_p']['rms'], k['delta_p']['rms_stderr']

def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)

ref = json.load(open(t + '/ref_q.json'))
bad = [f'{key} {got[key]:.8g} vs {ref[key]:.8g}' for key in got
       if abs(got[key] - ref[key]) > max(1e-3 * abs(ref[key]), 1e-6)]
worst = max(got, key=lambda key: rel(got[key], ref[key]) if abs(got[key] - ref[key]) > 1e-6 else 0)
print(('ok   ' if not bad else 'BAD  ') + f'{len(got)} statistics = the reference on the same logits within 0.1% '
      f'(count {ref["count"]}; worst {worst}: {got[worst]:.8g} vs {ref[worst]:.8g})' + ('; ' + ', '.join(bad) if bad else ''))
ll = json.load(open(t + '/ref_l.json'))
cont = ['ppl', 'ppl_stderr', 'base_ppl', 'base_stderr', 'cor_ln_ppl', 'ln_ppl_ratio', 'ln_ppl_ratio_stderr',
        'ppl_ratio', 'ppl_ratio_stderr', 'ppl_diff', 'ppl_diff_stderr', 'kld_mean', 'kld_stderr', 'dp_mean',
        'dp_stderr', 'dp_rms', 'dp_rms_stderr']
bad = [f'{key} {got[key]:.8g} vs {ll[key]:.8g}' for key in cont if rel(got[key], ll[key]) > 1e-3]
print(('ok   ' if not bad else 'BAD  ') + 'vs llama.cpp\'s own candidate logits: ' + ', '.join(
    f'{key} {100 * rel(got[key], ll[key]):.3f}%' for key in ('ppl', 'kld_mean', 'ln_ppl_ratio', 'dp_rms', 'cor_ln_ppl'))
    + ' (all means/PPLs/errors < 0.1%)' + ('; ' + ', '.join(bad) if bad else ''))
n = ll['count']
same = abs(got['top1'] - ll['top1']) * n
print(('ok   ' if same <= 3 else 'BAD  ') + f'same top p {100 * got["top1"]:.3f}% vs llama.cpp {100 * ll["top1"]:.3f}% '
      f'({same:.0f} of {n} tokens; KLD p99 {got["kld_p99"]:.5f} vs {ll["kld_p99"]:.5f}, median {got["kld_median"]:.5f} vs {ll["kld_median"]:.5f})')
qu = json.load(open(t + '/quant.json'))
print(('ok   ' if abs(qu['kl']['mean'] - k['kld']['mean']) < 1e-6 and qu['ppl_float'] == k['base_ppl'] else 'BAD  ') +
      f'qlens quant --kl-divergence-base = qlens ppl on the saved model (KLD {qu["kl"]["mean"]:.6f})')
PY
sed 's/^/  /' "$T_TMP/w.log"
while read -r line; do
    case "$line" in
        ok*) pass "vs llama.cpp: ${line#ok   }" ;;
        *) fail "vs llama.cpp: ${line#BAD  }" ;;
    esac
done <"$T_TMP/w.log"
[ "$st" = 0 ] || fail "KL comparison with llama.cpp"
t_done
