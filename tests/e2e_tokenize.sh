#!/bin/sh
# qlens tokenize: ids/pieces, JSON, BOS control, tokenizer sources, errors.
. tests/lib.sh
Q=$QLENS_BIN
M=$QLENS_SHARED/models
V=$QLENS_SHARED/reference/tokenizer

expect_rc 0 "tokenize --help" -- "$Q" tokenize --help
expect_grep "--no-bos" "$T_TMP/out" "help lists --no-bos"

expect_rc 0 "tokenize default model" -- "$Q" tokenize "Hello world"
printf '1\t<s>\n346\t\342\226\201He\n306\tll\n414\to\n263\t\342\226\201w\n304\tor\n341\tld\n' >"$T_TMP/want"
if cmp -s "$T_TMP/out" "$T_TMP/want"; then pass "Hello world ids and pieces (tok512)"; else
    fail "Hello world ids and pieces (tok512)"; sed 's/^/  | /' "$T_TMP/out"; fi

expect_rc 0 "tokenize --no-bos" -- "$Q" tokenize "$M/tok512.bin" "Hello world" --no-bos
expect_grep "^346	" "$T_TMP/out" "--no-bos starts with the first word"
if grep -q "^1	" "$T_TMP/out"; then fail "--no-bos still has BOS"; else pass "--no-bos drops BOS"; fi

# newline is a byte-fallback token, shown escaped
expect_rc 0 "tokenize newline" -- "$Q" tokenize "$M/stories260K.gguf" "a
b" --no-bos
expect_grep '^13	<0x0A>$' "$T_TMP/out" "newline -> <0x0A>"

# JSON is parseable and has as many pieces as ids
expect_rc 0 "tokenize --json" -- "$Q" tokenize "$M/stories260K.gguf" "Once upon a time" --json
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ids"][0]==1 and len(d["ids"])==len(d["pieces"])==d["n_tokens"]>2' "$T_TMP/out"; then
    pass "JSON parses, ids and pieces agree"; else fail "JSON output"; cat "$T_TMP/out"; fi

# GPT-2 byte-level BPE from a vocabulary-only GGUF (llama.cpp's test vocab)
expect_rc 0 "tokenize gpt-2 vocab" -- "$Q" tokenize "$V/ggml-vocab-gpt-2.gguf" "Hello world"
printf '15496\tHello\n995\t\304\240world\n' >"$T_TMP/want"
if cmp -s "$T_TMP/out" "$T_TMP/want"; then pass "gpt-2: Hello world = 15496 995"; else
    fail "gpt-2 Hello world"; sed 's/^/  | /' "$T_TMP/out"; fi

# whole eval text: llama2.c tokenizer.bin and the GGUF vocab agree, stdin too
expect_rc 0 "tokenize --file (bin)" -- "$Q" tokenize "$M/tok512.bin" --file "$QLENS_SHARED/data/tinystories-eval.txt"
mv "$T_TMP/out" "$T_TMP/bin.out"
expect_rc 0 "tokenize --file (gguf)" -- "$Q" tokenize "$M/stories260K.gguf" --file "$QLENS_SHARED/data/tinystories-eval.txt"
if cmp -s "$T_TMP/out" "$T_TMP/bin.out" && [ "$(wc -l <"$T_TMP/out")" -gt 50000 ]; then
    pass "eval text: bin and gguf give the same $(wc -l <"$T_TMP/out") tokens"; else fail "eval text: bin vs gguf differ"; fi
"$Q" tokenize "$M/tok512.bin" --file - <"$QLENS_SHARED/data/tinystories-eval.txt" >"$T_TMP/stdin.out" 2>&1
if cmp -s "$T_TMP/stdin.out" "$T_TMP/bin.out"; then pass "--file - reads stdin"; else fail "--file - reads stdin"; fi

# --decode turns the ids back into the exact text (BOS and its space dropped)
cut -f1 "$T_TMP/bin.out" >"$T_TMP/ids.txt"
expect_rc 0 "tokenize --decode --file" -- "$Q" tokenize "$M/tok512.bin" --decode --file "$T_TMP/ids.txt"
if cmp -s "$T_TMP/out" "$QLENS_SHARED/data/tinystories-eval.txt"; then pass "decode(encode(eval text)) = eval text"; else
    fail "decode(encode(eval text)) differs"; fi
# ids piped in without a final newline: the last id ends at the end of the input
printf '1 403 407' | "$Q" tokenize "$M/tok512.bin" --decode --file - >"$T_TMP/pipe.out" 2>&1
"$Q" tokenize "$M/tok512.bin" --decode '1 403 407' >"$T_TMP/arg.out" 2>&1
if [ -s "$T_TMP/arg.out" ] && cmp -s "$T_TMP/pipe.out" "$T_TMP/arg.out"; then pass "--decode --file - (pipe, no newline)"; else
    fail "--decode --file - (pipe, no newline): $(cat "$T_TMP/pipe.out")"; fi
"$Q" tokenize "$V/ggml-vocab-gpt-2.gguf" --file "$QLENS_SHARED/data/moby-dick-100k.txt" | cut -f1 >"$T_TMP/gids.txt"
expect_rc 0 "gpt-2 --decode" -- "$Q" tokenize "$V/ggml-vocab-gpt-2.gguf" --decode --file "$T_TMP/gids.txt"
if cmp -s "$T_TMP/out" "$QLENS_SHARED/data/moby-dick-100k.txt"; then pass "gpt-2 decode(encode(moby)) = moby"; else
    fail "gpt-2 decode(encode(moby)) differs"; fi
expect_rc 0 "--decode --json" -- "$Q" tokenize "$M/tok512.bin" --decode "[1,403,407]" --json
expect_grep '^\{"text":"Once upon"\}$' "$T_TMP/out" "--decode --json text"
expect_rc 1 "--decode bad id -> exit 1" -- "$Q" tokenize "$M/tok512.bin" --decode "1 512"
expect_grep "byte offset 2.*not a token id \(0\.\.511\)" "$T_TMP/err" "bad id message"

# a Llama-style tokenizer.json (U+2581 normalizer, BPE merges built from the
# SentencePiece scores as transformers' SentencePieceExtractor does) must give
# the ids of the tokenizer.bin it was made from, on the whole eval text
python3 - "$M/tok512.bin" "$T_TMP/hf/tokenizer.json" <<'PY'
import json, os, struct, sys
data = open(sys.argv[1], 'rb').read()
off, pieces, scores = 4, [], []
while off < len(data):
    sc, n = struct.unpack_from('<fi', data, off); off += 8
    pieces.append(data[off:off + n].decode('utf-8')); off += n; scores.append(sc)
pieces = [p.replace(' ', '\u2581') for p in pieces]
pieces[1], pieces[2] = '<s>', '</s>'
vocab = {p: i for i, p in enumerate(pieces)}
merges = []
for i, m in enumerate(pieces):
    local = [(m[:k], m[k:], scores[i]) for k in range(1, len(m)) if m[:k] in vocab and m[k:] in vocab]
    merges.extend(sorted(local, key=lambda x: (vocab[x[0]], vocab[x[1]])))
merges.sort(key=lambda v: v[2], reverse=True)
sp = lambda i, c: {"id": i, "content": c, "special": True}
tj = {"added_tokens": [sp(0, "<unk>"), sp(1, "<s>"), sp(2, "</s>")],
      "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                     {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
      "pre_tokenizer": None,
      "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                         {"Sequence": {"id": "A", "type_id": 0}}]},
      "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}]},
      "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": True,
                "vocab": vocab, "merges": [a + ' ' + b for a, b, _ in merges]}}
os.makedirs(os.path.dirname(sys.argv[2]), exist_ok=True)
json.dump(tj, open(sys.argv[2], 'w'), ensure_ascii=False)
PY
expect_rc 0 "tokenize --file (HF Llama-style tokenizer.json)" -- "$Q" tokenize "$T_TMP/hf/tokenizer.json" --file "$QLENS_SHARED/data/tinystories-eval.txt"
if cmp -s "$T_TMP/out" "$T_TMP/bin.out"; then pass "tokenizer.json (SPM-style BPE) = tokenizer.bin on the eval text"; else
    fail "tokenizer.json vs tokenizer.bin differ"; diff "$T_TMP/out" "$T_TMP/bin.out" | head -5; fi

# the same tokenizer.json beside a safetensors model: tok_load_for_model finds it
GEN=${QLENS_BUILD:-$(dirname "$Q")}/tests/tool_genmodel
if [ -x "$GEN" ] && "$GEN" --format safetensors --dim 16 --hidden 32 --layers 1 --heads 2 \
        --vocab 512 --ctx 64 "$T_TMP/hf" >/dev/null 2>&1; then
    expect_rc 0 "tokenize a safetensors model dir" -- "$Q" tokenize "$T_TMP/hf" "Hello world"
    if [ "$(head -2 "$T_TMP/out" | tr '\n' ' ')" = "$(printf '1\t<s> 346\t\342\226\201He ')" ]; then
        pass "safetensors model uses its tokenizer.json"; else fail "safetensors tokenizer.json"; cat "$T_TMP/out"; fi
else
    fail "tool_genmodel could not write a safetensors model ($GEN)"
fi

# The hand-written pre-tokenizers against the real regexes, on the texts and
# 400 random strings of tricky characters.  Needs Python's `regex` module
# (Debian python3-regex) for \p{L}; without it this check is skipped, said so.
PRETOK=${QLENS_BUILD:-$(dirname "$Q")}/tests/tool_pretok
if ! python3 -c 'import regex' 2>/dev/null; then
    echo "SKIP: pre-tokenizer vs regex (python3 regex module missing)"
elif [ ! -x "$PRETOK" ]; then
    fail "tool_pretok not built ($PRETOK)"
else
    python3 - "$PRETOK" "$T_TMP" "$QLENS_SHARED" <<'PY' >"$T_TMP/pretok.log" 2>&1
import random, regex, subprocess, sys
tool, tmp, shared = sys.argv[1:4]
gpt2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
l3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
qw = l3.replace(r"\p{N}{1,3}", r"\p{N}")
def split(pat, segs):
    out = []
    for s in segs:
        pos = 0
        for m in regex.finditer(pat, s):
            if m.start() > pos: out.append(s[pos:m.start()])
            out.append(m.group()); pos = m.end()
        if pos < len(s): out.append(s[pos:])
    return out
def default(t):
    segs = [t]
    for p in [r"[\p{P}\$\+<=>\^`\|]+", gpt2, r"\p{N}+", r"[0-9][0-9][0-9]"]:
        segs = split(p, segs)
    return segs
o200k = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
         r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
         r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")
dsv3 = [r"\p{N}{1,3}", "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"]
def chain(pats, t):
    segs = [t]
    for p in pats:
        segs = split(p, segs)
    return segs
ref = {"gpt2": lambda t: regex.findall(gpt2, t), "llama3": lambda t: regex.findall(l3, t),
       "qwen2": lambda t: regex.findall(qw, t), "default": default,
       "o200k": lambda t: split(o200k, [t]) if t else [], "deepseek-v3": lambda t: chain(dsv3, t) if t else []}
random.seed(7)
pool = list("aAzZ09 '\n\r\t.,!?-_$+<=>^`|\"") + ["'s", "'T", "'re", "'LL", "   ", "\r\n"] + [chr(c) for c in (
    0xa0, 0x3000, 0x2028, 0x85, 0x1680, 0xe9, 0xdf, 0x416, 0x4e2d, 0x1f600, 0x301, 0x663, 0xb2,
    0xbd, 0x2167, 0x212a, 0xff10, 0x200d, 0xfe0f, 0x2581, 0x120, 0x1780, 0x17b6,
    0xc9, 0x1c5, 0x2b0, 0x5d0, 0x915, 0x94d, 0x4e00, 0x3042, 0x30a2, 0xac00, 0x1, 0x7f, 0xad, 0x2f)] + [
    "/", "/\n", "ÉCOLE", "École", "'S", "ǅa", "5a", "中文", "カタ"]
texts = [''.join(random.choice(pool) for _ in range(random.randint(0, 40))) for _ in range(400)]
for f in ("reference/tokenizer/ggml-vocab-gpt-2.gguf.inp", "data/moby-dick-100k.txt"):
    texts.append(open(shared + "/" + f, encoding="utf-8").read())
open(tmp + "/pretok.txt", "w", encoding="utf-8").write("\0".join(texts))
bad = 0
for name, fn in ref.items():
    out = subprocess.run([tool, name, tmp + "/pretok.txt"], capture_output=True, text=True).stdout
    got = [[]]
    for line in out.splitlines():
        if line == "--": got.append([])
        else: got[-1].append(bytes.fromhex(line).decode())
    for t, g in zip(texts, got):
        if g != ref[name](t):
            bad += 1
            print(name, repr(t[:60]), "\n  regex:", ref[name](t)[:20], "\n  qlens:", g[:20])
    bad += len(got) != len(texts)
print("mismatches", bad)
sys.exit(bad != 0)
PY
    if [ $? = 0 ]; then pass "pre-tokenizers gpt2/llama3/qwen2/default/o200k/deepseek-v3 = real regexes (402 texts each)"; else
        fail "pre-tokenizer differs from the regex"; head -20 "$T_TMP/pretok.log"; fi
fi

# errors
printf 'ok\377no' >"$T_TMP/bad.txt"
expect_rc 1 "invalid UTF-8 -> exit 1" -- "$Q" tokenize --file "$T_TMP/bad.txt"
expect_grep "bad.txt: byte offset 2: invalid UTF-8" "$T_TMP/err" "error names file and byte offset"
expect_rc 3 "missing --file -> exit 3" -- "$Q" tokenize --file "$T_TMP/nope.txt"
expect_rc 2 "no text -> exit 2" -- "$Q" tokenize
expect_rc 2 "unknown option -> exit 2" -- "$Q" tokenize "x" --frobnicate
expect_rc 3 "missing model -> exit 3" -- "$Q" tokenize "$T_TMP/none.gguf" "x"
printf '{"model":{"type":"WordPiece"}}' >"$T_TMP/tokenizer.json"
expect_rc 1 "unsupported tokenizer.json -> exit 1" -- "$Q" tokenize "$T_TMP/tokenizer.json" "x"
expect_rc 0 "empty text -> only BOS" -- "$Q" tokenize ""
if [ "$(cat "$T_TMP/out")" = "$(printf '1\t<s>')" ]; then pass "empty text prints BOS only"; else fail "empty text"; cat "$T_TMP/out"; fi
t_done
