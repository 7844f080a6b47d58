#!/bin/sh
# The architecture families against llama.cpp itself: random-weight GGUF
# files written by tool_genmodel as llama.cpp's converter lays them out,
# perplexity on the same token ids from qlens (tests/tool_pplids, src/ppl.c)
# and from llama.cpp (tests/llamacpp_ppl.mjs: the prebuilt llama.cpp library
# of the node-llama-cpp npm package, llama-perplexity's method).  They must
# agree within 0.05%; each family also has a twin without its feature whose
# perplexity differs by more, so the comparison can see the feature.
# node-llama-cpp is installed with npm into $QLENS_NPM_CACHE (default
# ~/.cache/qlens/npm) once; the test is skipped, said so, when node or the
# registry is unavailable.
. tests/lib.sh
: "${QLENS_BUILD:=$(pwd)/build}"
GEN="$QLENS_BUILD/tests/tool_genmodel"
PPLIDS="$QLENS_BUILD/tests/tool_pplids"
CACHE=${QLENS_NPM_CACHE:-$HOME/.cache/qlens/npm}
VER=3.22.1
NL="$CACHE/node-llama-cpp-$VER"
VOCAB="$QLENS_SHARED/models/stories260K.gguf"  # a 512-token SentencePiece vocabulary
N_CTX=512
CHUNKS=2

[ -x "$GEN" ] && [ -x "$PPLIDS" ] || { fail "tool_genmodel / tool_pplids not built"; t_done; }
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "SKIP: architectures vs llama.cpp (node/npm not installed)"; t_done
fi
if [ ! -f "$NL/ok" ]; then
    mkdir -p "$NL" && timeout 600 npm install --silent --ignore-scripts --no-audit --no-fund \
        --omit=optional --prefix "$NL" "node-llama-cpp@$VER" "@node-llama-cpp/linux-x64@$VER" \
        >"$T_TMP/npm.log" 2>&1 && touch "$NL/ok"
fi
if [ ! -f "$NL/ok" ]; then
    echo "SKIP: architectures vs llama.cpp (npm install node-llama-cpp@$VER failed; registry unreachable?)"
    tail -3 "$T_TMP/npm.log"; t_done
fi

python3 -c "
import random
random.seed(5)
print(' '.join(str(random.randrange(3, 512)) for _ in range($N_CTX * $CHUNKS)))" >"$T_TMP/ids.txt"

# name  twin (the same weights without the feature; '-' none)  genmodel args
LIST="llama - --arch,llama
llama31 llama --arch,llama,--rope-scaling,llama3
linear llama --arch,llama,--rope-scaling,linear:4
qwen2 - --arch,qwen2
qwen3 - --arch,qwen3,--head-dim,24
gemma2 gemma2-nowin --arch,gemma2,--head-dim,24,--swa,64
gemma2-nowin - --arch,gemma2,--head-dim,24,--swa,4096
gemma3 gemma3-nolin --arch,gemma3,--head-dim,24,--swa,64,--layers,6,--rope-scaling,linear:8
gemma3-nolin gemma3-nowin --arch,gemma3,--head-dim,24,--swa,64,--layers,6
gemma3-nowin - --arch,gemma3,--head-dim,24,--swa,4096,--layers,6
phi3 - --arch,phi3"
models=""
echo "$LIST" >"$T_TMP/list"
while read -r name twin args; do
    # shellcheck disable=SC2046
    "$GEN" --format gguf --dim 64 --hidden 96 --layers 2 --heads 4 --kv-heads 2 --ctx 1024 \
        --std 0.15 --vocab-from "$VOCAB" $(echo "$args" | tr ',' ' ') "$T_TMP/$name.gguf" \
        >/dev/null 2>"$T_TMP/gen.err" || { fail "genmodel $name"; cat "$T_TMP/gen.err"; }
    "$PPLIDS" "$T_TMP/$name.gguf" "$T_TMP/ids.txt" $N_CTX $CHUNKS >"$T_TMP/$name.q" 2>&1 ||
        { fail "qlens ppl $name"; cat "$T_TMP/$name.q"; }
    models="$models $T_TMP/$name.gguf"
done <"$T_TMP/list"
# shellcheck disable=SC2086
if ! timeout 1200 node tests/llamacpp_ppl.mjs "$NL" "$T_TMP/ids.txt" $N_CTX $CHUNKS $models \
        >"$T_TMP/ref.jsonl" 2>"$T_TMP/ref.err"; then
    fail "llama.cpp perplexity (node-llama-cpp $VER)"; tail -5 "$T_TMP/ref.err"; t_done
fi

python3 - "$T_TMP" <<'PY' >"$T_TMP/cmp.log"; st=$?
import json, sys, os
tmp = sys.argv[1]
ref = {os.path.basename(j['model'])[:-5]: j for j in map(json.loads, open(tmp + '/ref.jsonl'))}
bad = 0
for line in open(tmp + '/list'):
    name, twin, args = line.split()
    q = json.load(open(f'{tmp}/{name}.q'))
    r = ref[name]
    rel = abs(q['ppl'] - r['ppl']) / r['ppl']
    ok = rel < 5e-4 and q['scored'] == r['scored']
    msg = f"{name}: qlens {q['ppl']:.4f} llama.cpp {r['ppl']:.4f} ({100 * rel:.4f}%)"
    if twin != '-':
        qt = json.load(open(f'{tmp}/{twin}.q'))
        sep = abs(q['ppl'] - qt['ppl']) / qt['ppl']
        msg += f"; without the feature ({twin}) {qt['ppl']:.4f} ({100 * sep:.3f}% away)"
        ok = ok and sep > 3 * rel and sep > 5e-4
    print(('ok   ' if ok else 'BAD  ') + msg)
    bad += not ok
sys.exit(1 if bad else 0)
PY
sed 's/^/  /' "$T_TMP/cmp.log"
while read -r line; do
    case "$line" in
        ok*) pass "vs llama.cpp: ${line#ok   }" ;;
        *) fail "vs llama.cpp: ${line#BAD  }" ;;
    esac
done <"$T_TMP/cmp.log"
[ "$st" = 0 ] || fail "perplexity comparison with llama.cpp"
t_done
