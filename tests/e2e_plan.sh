#!/bin/sh
# qlens sensitivity / qlens plan end to end on stories260K: usage errors,
# the sensitivity JSON (shape, bits = bits/weight x weights, 2-bit worse
# than 8-bit for every tensor), plan budgets (inside, below the cheapest,
# above the richest), the spec file, llama-quantize arguments for llama.cpp
# types, bad sensitivity files, --measure's uniform row equal to what
# `qlens quant` measures for the same configuration; quant --plan (equal to
# plan --measure, --export of llama.cpp types loading back, bad specs),
# results-store entries of plans and the measured front.
. tests/lib.sh
Q=$QLENS_BIN
SMALL="--ctx 128 --chunks 2 --calib-ctx 128 --calib-chunks 2"
# the sensitivity cache of these runs stays in the test's folder
export QLENS_CACHE_DIR="$T_TMP/cache"

jcheck() {
    if python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1" 2>"$T_TMP/pyerr"; then
        pass "$3"; else fail "$3"; head -c 600 "$1" | sed 's/^/  | /'; sed 's/^/  py: /' "$T_TMP/pyerr"; fi
}

expect_rc 0 "sensitivity --help" -- "$Q" sensitivity --help
expect_grep "--candidates" "$T_TMP/out" "help lists --candidates"
expect_rc 0 "plan --help" -- "$Q" plan --help
expect_rc 2 "sensitivity without --candidates" -- "$Q" sensitivity $SMALL
expect_rc 2 "sensitivity bad candidate" -- "$Q" sensitivity --candidates rtn:4:32,nope:3
expect_grep "nope:3" "$T_TMP/err" "bad candidate named"
expect_rc 2 "sensitivity bad bits" -- "$Q" sensitivity --candidates rtn:x
expect_rc 2 "plan without --sens" -- "$Q" plan --target-bpw 3
expect_rc 2 "plan bad --by" -- "$Q" plan --sens x --target-bpw 3 --by nope

S=$T_TMP/sens.json
expect_rc 0 "sensitivity run" -- "$Q" sensitivity --candidates rtn:2:32,rtn:8:32,q8_0 $SMALL --out "$S" --json
cp "$T_TMP/out" "$T_TMP/stdout.json"
jcheck "$T_TMP/stdout.json" "len(d['tensors']) == 35 and all(len(t['results']) == 3 for t in d['tensors'])" "35 tensors x 3 candidates"
jcheck "$S" "d == json.load(open('$T_TMP/stdout.json'))" "--out holds the --json output"
jcheck "$S" "all(abs(r['bits'] - r['bits_per_weight'] * t['rows'] * t['cols']) < 1e-6 * r['bits'] for t in d['tensors'] for r in t['results'])" "bits = bits/weight x weights"
jcheck "$S" "all(t['results'][0]['kl_mean'] > t['results'][1]['kl_mean'] >= 0 for t in d['tensors'])" "2-bit KL above 8-bit KL for every tensor"
jcheck "$S" "all(t['results'][0]['out_err2'] > t['results'][1]['out_err2'] > 0 for t in d['tensors'])" "2-bit proxy above 8-bit for every tensor"
jcheck "$S" "all(-1 <= d['spearman_vs_kl'][k] <= 1 for k in ('out_err2', 'imp_mse', 'mse'))" "Spearman rho in [-1, 1]"

# the cache: the same run again reuses every cell (same numbers), --no-cache
# none, another evaluation text is reported as stale and recomputed
expect_rc 0 "sensitivity again (cached)" -- "$Q" sensitivity --candidates rtn:2:32,rtn:8:32,q8_0 $SMALL --json
expect_grep "105 of 105 cells from the cache" "$T_TMP/err" "second run: every cell from the cache"
cp "$T_TMP/out" "$T_TMP/cached.json"
jcheck "$T_TMP/cached.json" "d['cache']['reused'] == 105 and d['cache']['computed'] == 0 and d['tensors'] == json.load(open('$T_TMP/stdout.json'))['tensors']" "cached cells equal the measured ones"
expect_rc 0 "sensitivity --no-cache" -- "$Q" sensitivity --candidates rtn:2:32 $SMALL --no-cache --json
cp "$T_TMP/out" "$T_TMP/nocache.json"
jcheck "$T_TMP/nocache.json" "d['cache']['reused'] == 0 and d['cache']['computed'] == 35 and d['cache']['file'] == ''" "--no-cache measures every cell"
# cells one at a time and three at once: the same numbers
expect_rc 0 "sensitivity --cell-threads 1" -- "$Q" sensitivity --candidates rtn:2:32 $SMALL --no-cache --cell-threads 1 --json
cp "$T_TMP/out" "$T_TMP/serial.json"
expect_rc 0 "sensitivity --threads 3" -- "$Q" sensitivity --candidates rtn:2:32 $SMALL --no-cache --threads 3 --json
jcheck "$T_TMP/out" "d['cells_at_once'] == 3 and d['tensors'] == json.load(open('$T_TMP/serial.json'))['tensors'] and json.load(open('$T_TMP/serial.json'))['cells_at_once'] == 1" "3 cells at once give the serial numbers"
expect_rc 2 "sensitivity --threads 0" -- "$Q" sensitivity --candidates rtn:2:32 $SMALL --threads 0
expect_grep "threads wants a count 1..64 \(got '0'\)" "$T_TMP/err" "bad thread count named"
head -c 20000 "$QLENS_SHARED/data/tinystories-eval.txt" >"$T_TMP/ev.txt"
expect_rc 0 "sensitivity, a text" -- "$Q" sensitivity --candidates rtn:2:32 $SMALL --eval "$T_TMP/ev.txt" --cache-dir "$T_TMP/c2"
printf 'Twice upon a day' | dd of="$T_TMP/ev.txt" conv=notrunc 2>/dev/null
expect_rc 0 "sensitivity, the text changed" -- "$Q" sensitivity --candidates rtn:2:32 $SMALL --eval "$T_TMP/ev.txt" --cache-dir "$T_TMP/c2"
expect_grep "cache for .*stories260K.bin is stale: evaluation text changed \(its text changed\); recomputing" "$T_TMP/err" "changed text: stale, recomputed"
expect_grep "35 cells [0-9.]+ s\$" "$T_TMP/out" "changed text: every cell measured again"

# budgets: rtn:2:32 is 2.5625 bits/weight everywhere, rtn:8:32 8.75
expect_rc 2 "plan below the cheapest" -- "$Q" plan --sens "$S" --target-bpw 2
expect_grep "below the cheapest plan" "$T_TMP/err" "below-cheapest message"
expect_rc 2 "plan above the richest" -- "$Q" plan --sens "$S" --target-bpw 20
expect_grep "above the richest plan" "$T_TMP/err" "above-richest message"
P=$T_TMP/plan.txt
expect_rc 0 "plan at 4 bits/weight" -- "$Q" plan --sens "$S" --target-bpw 4 --spec-out "$P" --json
cp "$T_TMP/out" "$T_TMP/plan.json"
jcheck "$T_TMP/plan.json" "2.5 < d['bits_per_weight'] <= 4 and len(d['tensors']) == 35" "plan within the budget"
if [ "$(grep -c '^blk\.[0-9]*\.[a-z_]*=' "$P")" = 35 ]; then pass "spec file: 35 TENSOR=CANDIDATE lines"; else fail "spec file"; cat "$P"; fi
expect_rc 0 "plan text" -- "$Q" plan --sens "$S" --target-bpw 4
expect_grep "not expressible" "$T_TMP/out" "rtn plan: no llama-quantize arguments"
# only q8_0 kept, the budget at its plan: every tensor takes q8_0
python3 -c "
import json,sys
d=json.load(open(sys.argv[1]))
d['candidates']=d['candidates'][2:]
w=0; b=0
for t in d['tensors']:
    t['results']=t['results'][2:]; w+=t['rows']*t['cols']; b+=t['results'][0]['bits']
json.dump(d,open(sys.argv[2],'w'))
import math; print('%.9f' % (math.ceil(b / w * 1e9) / 1e9))" "$S" "$T_TMP/q8.json" >"$T_TMP/q8bpw"
expect_rc 0 "plan text, llama.cpp types" -- "$Q" plan --sens "$T_TMP/q8.json" --target-bpw "$(cat "$T_TMP/q8bpw")"
expect_grep "--tensor-type '\^blk\\\\\.0\\\\\.attn_q\\\\\.weight\\$=q8_0'" "$T_TMP/out" "q8_0 plan: anchored --tensor-type arguments"

# the predicted front: from the cheapest plan, KL never rises with bits
expect_rc 0 "plan --sweep" -- "$Q" plan --sens "$S" --sweep 6 --json
cp "$T_TMP/out" "$T_TMP/sweep.json"
jcheck "$T_TMP/sweep.json" "len(d['front']) == 6 and abs(d['front'][0]['bits_per_weight'] - 2.5625) < 0.1 and all(a['bits_per_weight'] <= b['bits_per_weight'] + 1e-9 and a['predicted_kl'] >= b['predicted_kl'] - 1e-12 for a, b in zip(d['front'], d['front'][1:]))" "sweep: monotone front from the cheapest plan"
expect_rc 2 "plan --sweep with --target-bpw" -- "$Q" plan --sens "$S" --sweep 6 --target-bpw 4

# bad sensitivity files
printf '{"qlens":"sensitivity","candidates":[{"name":"rtn:4:32"}],"tensors":[{"name":"blk.0.attn_q","layer":0,"rows":64,"cols":64,"results":[{"candidate":"rtn:4:32","bits":"x"}]}]}' >"$T_TMP/b1.json"
expect_rc 1 "sensitivity file: bits not a number" -- "$Q" plan --sens "$T_TMP/b1.json" --target-bpw 4
expect_grep "b1.json: tensors\[0\].results\[0\]" "$T_TMP/err" "names the file and the field"
head -c 300 "$S" >"$T_TMP/b2.json"
expect_rc 1 "truncated sensitivity file" -- "$Q" plan --sens "$T_TMP/b2.json" --target-bpw 4
expect_grep "b2.json: not valid JSON" "$T_TMP/err" "truncated file named"

# --measure: the uniform rtn:8:32 row is what qlens quant measures (RTN needs
# no calibration, the float logits are the same chunks)
expect_rc 0 "plan --measure --all-uniform" -- "$Q" plan --sens "$S" --target-bpw 4 --measure --all-uniform $SMALL --json
cp "$T_TMP/out" "$T_TMP/eval.json"
expect_rc 0 "quant rtn 8 g32" -- "$Q" quant --method rtn --bits 8 --group 32 $SMALL --json
cp "$T_TMP/out" "$T_TMP/quant.json"
jcheck "$T_TMP/eval.json" "abs([r for r in d['eval'] if r['config'] == 'uniform rtn:8:32'][0]['kl_mean'] - json.load(open('$T_TMP/quant.json'))['kl']['mean']) <= 1e-9" "uniform row = qlens quant's KL"
jcheck "$T_TMP/eval.json" "d['eval'][0]['config'] == 'plan' and d['eval'][0]['bits_per_weight'] <= 4" "measured plan within the budget"

# --measure without --all-uniform: the uniform configurations within 0.25
# bits/weight of the target and the best one at or below it (rtn:2:32 at
# 2.5625; rtn:8:32 and q8_0 are far above 4)
expect_rc 0 "plan --measure, default selection" -- "$Q" plan --sens "$S" --target-bpw 4 --measure $SMALL --spec-out "$P" --json --out "$T_TMP/store.json"
cp "$T_TMP/out" "$T_TMP/eval2.json"
jcheck "$T_TMP/eval2.json" "[r['config'] for r in d['eval']] == ['plan', 'uniform rtn:2:32']" "uniform rows: best at or below the budget"
printf 'not a store' >"$T_TMP/bad_store.json"
expect_rc 1 "--append to a file that is not a store: refused before measuring" -- "$Q" plan --sens "$S" --target-bpw 4 --measure $SMALL --out "$T_TMP/bad_store.json" --append
if [ "$(cat "$T_TMP/bad_store.json")" = "not a store" ] && ! grep -q "measured against float" "$T_TMP/out"; then pass "bad store untouched, nothing measured"; else fail "bad store"; fi
expect_rc 2 "--out without --measure" -- "$Q" plan --sens "$S" --target-bpw 4 --out "$T_TMP/x.json"

# results-store entries: the float baseline, the plan (method plan,
# settings.plan, its tensor types), the uniform row
expect_rc 0 "results list of the plan store" -- "$Q" results list --store "$T_TMP/store.json" --json
cp "$T_TMP/out" "$T_TMP/list.json"
jcheck "$T_TMP/store.json" "sorted(e['method'] for e in d['results']) == ['RTN', 'float', 'plan']" "store: float, plan, uniform"
jcheck "$T_TMP/store.json" "[e for e in d['results'] if e['method'] == 'plan'][0]['settings']['plan'] is True and [e for e in d['results'] if e['method'] == 'plan'][0]['settings']['tensor_types'].count('=') == 35" "plan entry: settings.plan and 35 tensor types"
jcheck "$T_TMP/store.json" "abs([e for e in d['results'] if e['method'] == 'plan'][0]['settings']['kl_mean'] / json.load(open('$T_TMP/eval2.json'))['eval'][0]['kl_mean'] - 1) < 1e-6" "plan entry holds the measured KL"

# plan -> spec -> quant --plan: the numbers plan --measure printed
expect_rc 0 "quant --plan (the spec file)" -- "$Q" quant --plan "$P" $SMALL --json
cp "$T_TMP/out" "$T_TMP/qplan.json"
jcheck "$T_TMP/qplan.json" "(lambda e: d['kl']['mean'] == e['kl_mean'] and d['ppl'] == e['ppl'] and d['top1'] == e['top1'] and abs(d['bits_per_weight'] - e['bits_per_weight']) < 1e-12)(json.load(open('$T_TMP/eval2.json'))['eval'][0])" "quant --plan = plan --measure (PPL, KL, top-1, bits)"
jcheck "$T_TMP/qplan.json" "d['plan'] is True and d['method'] == 'plan' and len(d['tensors']) == 35" "quant --plan JSON: a plan run"
expect_rc 0 "quant --plan --layers" -- "$Q" quant --plan "$P" $SMALL --layers
expect_grep "blk.4.ffn_down" "$T_TMP/out" "--layers: per-tensor table"
expect_rc 0 "results import of quant --plan" -- "$Q" results import "$T_TMP/qplan.json" --into "$T_TMP/imp.json"
jcheck "$T_TMP/imp.json" "[e for e in d['results'] if e['method'] == 'plan'][0]['settings']['plan'] is True" "imported: settings.plan"

# --export of a planned mix of llama.cpp types: loads back with the planned
# type per tensor, and evaluates to the numbers quant --plan printed
G=$QLENS_SHARED/models/stories260K.gguf
printf '# hand-made\nblk.0.attn_q=q8_0\nblk.1.ffn_up.weight = q4_1\nblk.2.attn_v=float\n*=q4_0\n' >"$T_TMP/mix.plan"
expect_rc 0 "quant --plan --export" -- "$Q" quant "$G" --plan "$T_TMP/mix.plan" --ctx 128 --chunks 2 --export "$T_TMP/mix.gguf" --json
cp "$T_TMP/out" "$T_TMP/mix.json"
expect_rc 0 "exported plan loads (info)" -- "$Q" info "$T_TMP/mix.gguf" --json
cp "$T_TMP/out" "$T_TMP/mixinfo.json"
jcheck "$T_TMP/mixinfo.json" "(lambda t: t['blk.0.attn_q'] == 'Q8_0' and t['blk.1.ffn_up'] == 'Q4_1' and t['blk.2.attn_v'] == 'F32' and t['blk.3.attn_k'] == 'Q4_0' and t['blk.3.ffn_down'] == 'F16' and t['token_embd'] == 'F32')({x['name']: x['dtype'] for x in d['tensors']})" "exported types: q8_0, q4_1, float, q4_0, the f16 fallback, float embeddings"
expect_rc 0 "exported plan evaluates" -- "$Q" ppl "$T_TMP/mix.gguf" "$QLENS_SHARED/data/tinystories-eval.txt" --ctx 128 --chunks 2 --kl-base "$G" --json
cp "$T_TMP/out" "$T_TMP/mixppl.json"
jcheck "$T_TMP/mixppl.json" "abs(d['ppl'] - json.load(open('$T_TMP/mix.json'))['ppl']) < 1e-6 and abs(d['kl']['kld']['mean'] - json.load(open('$T_TMP/mix.json'))['kl']['mean']) < 1e-6" "exported file: the PPL and KL quant --plan measured"

# bad specs: exit 1, the file and line named, nothing written
rm -f "$T_TMP/no.gguf"
expect_rc 1 "--export of a non-llama.cpp candidate" -- "$Q" quant --plan "$P" $SMALL --export "$T_TMP/no.gguf"
expect_grep "plan.txt:[0-9]*: blk\.[0-9]*\.[a-z_]*=rtn:2:32 is not a llama.cpp type" "$T_TMP/err" "refusal names file, line, tensor"
printf 'blk.0.attn_q=rtn:4:32\nblk.7.attn_q=rtn:4:32\n*=rtn:4:32\n' >"$T_TMP/unk.plan"
expect_rc 1 "unknown tensor" -- "$Q" quant --plan "$T_TMP/unk.plan" $SMALL --export "$T_TMP/no.gguf"
expect_grep "unk.plan:2: blk.7.attn_q is not a linear tensor" "$T_TMP/err" "unknown tensor: file:line"
head -3 "$P" >"$T_TMP/part.plan"
expect_rc 1 "a spec for another model (tensors missing)" -- "$Q" quant --plan "$T_TMP/part.plan" $SMALL --save-gguf "$T_TMP/no.gguf"
expect_grep "part.plan: names 1 of the 35 linear tensors" "$T_TMP/err" "missing tensors counted"
printf 'blk.0.attn_q=rtn:4:32\nblk.0.attn_k: rtn:4:32\n' >"$T_TMP/syn.plan"
expect_rc 1 "malformed spec" -- "$Q" quant --plan "$T_TMP/syn.plan" $SMALL --export "$T_TMP/no.gguf"
expect_grep "syn.plan:2: want TENSOR=CANDIDATE" "$T_TMP/err" "malformed: file:line"
printf '*=rtn:9:32\n' >"$T_TMP/bits.plan"
expect_rc 1 "bad candidate in a spec" -- "$Q" quant --plan "$T_TMP/bits.plan" $SMALL
expect_grep "bits.plan:1: \*: candidate 'rtn:9:32'" "$T_TMP/err" "bad candidate: file:line"
if [ ! -e "$T_TMP/no.gguf" ]; then pass "nothing written on errors"; else fail "a file was written"; fi
expect_rc 2 "quant --plan with --method" -- "$Q" quant --plan "$P" --method rtn
expect_rc 3 "quant --plan, no such file" -- "$Q" quant --plan "$T_TMP/none.plan" $SMALL

# the measured front: every point measured, monotone in bits, uniform rows
expect_rc 0 "plan --sweep --measure" -- "$Q" plan --sens "$S" --sweep 3 --measure $SMALL --json --out "$T_TMP/front.json"
cp "$T_TMP/out" "$T_TMP/front_out.json"
jcheck "$T_TMP/front_out.json" "len(d['front']) >= 3 and all('measured' in p and p['measured']['kl_mean'] >= 0 for p in d['front']) and len(d['uniform']) == 3" "front: measured plans + 3 uniform"
jcheck "$T_TMP/front_out.json" "all(any(abs(p['target_bpw'] - u['bits_per_weight']) < 1e-6 for p in d['front']) for u in d['uniform'])" "front: a plan at every uniform configuration's bits"
jcheck "$T_TMP/front_out.json" "all(a['bits_per_weight'] <= b['bits_per_weight'] + 1e-9 for a, b in zip(d['front'], d['front'][1:]))" "front: budgets in order"
jcheck "$T_TMP/front.json" "sum(e['method'] == 'plan' for e in d['results']) == len(json.load(open('$T_TMP/front_out.json'))['front']) and sum(e['method'] == 'RTN' for e in d['results']) == 2" "front store: float + every plan + the uniform rows"

# Ctrl-C during the cells: exit 130, nothing written to --out
"$Q" sensitivity --candidates rtn:2:32,rtn:3:32,rtn:4:32,rtn:5:32,rtn:6:32,rtn:8:32,rtn:3:row,rtn:4:row --ctx 256 --chunks 8 --calib-ctx 128 --calib-chunks 2 --out "$T_TMP/int.json" >"$T_TMP/out" 2>"$T_TMP/err" &
pid=$!
sleep 4
kill -INT $pid 2>/dev/null
wait $pid; rc=$?
if [ "$rc" = 130 ] && [ ! -e "$T_TMP/int.json" ]; then pass "SIGINT: exit 130, no partial file"; else fail "SIGINT (exit $rc)"; cat "$T_TMP/err"; fi
# ... but the cache kept the cells finished before Ctrl-C
if python3 -c "
import json,glob,sys
n=[len(d['cells']) for d in (json.load(open(f)) for f in glob.glob(sys.argv[1] + '/sens/*.json')) if 'ctx=256 chunks=8' in d['config']]
sys.exit(0 if n and n[0] > 0 else 1)" "$QLENS_CACHE_DIR"; then pass "SIGINT: finished cells kept in the cache"; else fail "SIGINT: no cells cached"; fi
t_done
