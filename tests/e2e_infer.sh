#!/bin/sh
# End-to-end: qlens ppl / acts / generate.  Perplexity must match llama.cpp's
# llama-perplexity (reference/llamacpp_ppl.json) within 0.05% for every row,
# for the GGUF and the llama2.c copy of stories260K.
. "$(dirname "$0")/lib.sh"
Q=$QLENS_BIN
S=$QLENS_SHARED
REF=$S/reference/llamacpp_ppl.json
EVAL=$S/data/tinystories-eval.txt
MOBY=$S/data/moby-dick-100k.txt

# json_num FIELD FILE: the first number after "FIELD": in FILE
json_num() { sed -n "s/.*\"$1\":\([-0-9.eE+]*\).*/\1/p" "$2" | head -1; }

# ref_row TEXTNAME CTX FIELD: a field of the reference row
ref_row() {
    tr -d '\n' <"$REF" | tr '{' '\n' | grep "\"text\": *\"data/$1\"" | grep "\"n_ctx\": *$2[,}]" |
        sed -n "s/.*\"$3\": *\([-0-9.eE+]*\).*/\1/p" | head -1
}

check_row() { # MODEL TEXTNAME CTX
    want=$(ref_row "$2" "$3" ppl); wse=$(ref_row "$2" "$3" stderr); wch=$(ref_row "$2" "$3" chunks)
    "$Q" ppl "$S/models/$1" "$S/data/$2" --ctx "$3" --force-ctx --json >"$T_TMP/row" 2>"$T_TMP/rowerr"
    got=$(json_num ppl "$T_TMP/row"); se=$(json_num stderr "$T_TMP/row"); ch=$(json_num chunks "$T_TMP/row")
    if [ -n "$want" ] && [ -n "$got" ] && awk -v g="$got" -v w="$want" -v s="$se" -v ws="$wse" \
        'BEGIN { d = g / w - 1; e = s / ws - 1; exit !(d <= 5e-4 && d >= -5e-4 && e <= 2e-3 && e >= -2e-3) }' &&
        [ "$ch" = "$wch" ]; then
        pass "ppl $1 $2 ctx $3: $got +/- $se (llama.cpp $want +/- $wse, $ch chunks)"
    else
        fail "ppl $1 $2 ctx $3: got '$got' +/- '$se' ($ch chunks), llama.cpp $want +/- $wse ($wch chunks)"
        sed 's/^/  | /' "$T_TMP/rowerr" | head -5
    fi
}

# ---- reference rows (ASan builds: the two quickest, the rest is the same code) ----
if [ -n "$QLENS_SANITIZED" ]; then
    check_row stories260K.bin moby-dick-100k.txt 512
    check_row stories260K.gguf moby-dick-100k.txt 128
else
    for m in stories260K.bin stories260K.gguf; do
        for t in tinystories-eval.txt moby-dick-100k.txt; do
            for c in 128 512; do check_row $m $t $c; done
        done
    done
fi

# ---- ppl: options and output ----
expect_rc 0 "ppl --help" -- "$Q" ppl --help
expect_grep "llama-perplexity" "$T_TMP/out" "ppl --help explains the method"
expect_rc 0 "ppl text output" -- "$Q" ppl "$MOBY" --ctx 128 --chunks 3
expect_grep "^PPL = [0-9.]+ \+/- [0-9.]+" "$T_TMP/out" "ppl prints PPL +/- stderr"
expect_grep "3 chunks" "$T_TMP/out" "--chunks limits the chunks"
[ ! -s "$T_TMP/err" ] && pass "no progress on a non-terminal stderr" || fail "stderr not empty: $(head -2 "$T_TMP/err")"
expect_rc 0 "ppl --full --json" -- "$Q" ppl "$MOBY" --ctx 64 --chunks 4 --full --json
expect_grep '"mode":"full".*"scored":252' "$T_TMP/out" "full window scores n_ctx-1 per chunk"
expect_rc 0 "ppl default mode scored count" -- "$Q" ppl "$MOBY" --ctx 64 --chunks 4 --json
expect_grep '"mode":"llama.cpp".*"scored":124' "$T_TMP/out" "llama.cpp mode scores n_ctx/2-1 per chunk"

# ---- KL divergence in one process ----
expect_rc 0 "ppl --kl without changes" -- "$Q" ppl "$MOBY" --ctx 128 --chunks 4 --kl --json
kmax=$(sed -n 's/.*"kld":{[^}]*"max":\([-0-9.eE+]*\).*/\1/p' "$T_TMP/out")
top1=$(json_num top1 "$T_TMP/out")
awk -v k="$kmax" -v t="$top1" 'BEGIN { exit !(k < 1e-9 && t == 1) }' &&
    pass "KL of the float model against itself is 0, top-1 agreement 1" ||
    fail "self-KL max '$kmax', top1 '$top1'"
expect_rc 0 "ppl --kl --act-bits 4" -- "$Q" ppl "$MOBY" --ctx 128 --chunks 4 --kl --act-bits 4 --json
kmean=$(sed -n 's/.*"kld":{"mean":\([-0-9.eE+]*\).*/\1/p' "$T_TMP/out")
top1=$(json_num top1 "$T_TMP/out")
p=$(json_num ppl "$T_TMP/out"); bp=$(json_num base_ppl "$T_TMP/out")
awk -v k="$kmean" -v t="$top1" -v p="$p" -v b="$bp" 'BEGIN { exit !(k > 0.001 && t < 1 && t > 0.3 && p > b) }' &&
    pass "4-bit activations: KL $kmean > 0, top-1 $top1, PPL $p > baseline $bp" ||
    fail "4-bit activations: KL '$kmean' top1 '$top1' ppl '$p' base '$bp'"
expect_rc 0 "ppl --kl --kv-bits 3" -- "$Q" ppl "$MOBY" --ctx 128 --chunks 2 --kl --kv-bits 3 --kv-group 8
expect_grep "^Mean +KLD: +[0-9.]+ ± " "$T_TMP/out" "KL report in text form (llama.cpp's layout)"
expect_grep "K per token" "$T_TMP/out" "K/V fake-quant axis shown"
expect_grep "^Same top p: " "$T_TMP/out" "top-1 agreement in text form"
expect_rc 0 "ppl --kv-bits 4 --k-per-channel" -- "$Q" ppl "$MOBY" --ctx 128 --chunks 8 --kl --kv-bits 4 --k-per-channel --json
kc=$(sed -n 's/.*"kld":{"mean":\([-0-9.eE+]*\).*/\1/p' "$T_TMP/out")
"$Q" ppl "$MOBY" --ctx 128 --chunks 8 --kl --kv-bits 4 --json >"$T_TMP/kvt" 2>/dev/null
kt=$(sed -n 's/.*"kld":{"mean":\([-0-9.eE+]*\).*/\1/p' "$T_TMP/kvt")
awk -v c="$kc" -v t="$kt" 'BEGIN { exit !(c > 0 && t > 2 * c) }' &&
    pass "4-bit K per channel beats per token (KL $kc vs $kt)" || fail "KV4 KL per channel '$kc' vs per token '$kt'"

expect_rc 0 "ppl --act-bits 4 --asym" -- "$Q" ppl "$MOBY" --ctx 128 --chunks 4 --kl --act-bits 4 --asym --json
ka=$(sed -n 's/.*"kld":{"mean":\([-0-9.eE+]*\).*/\1/p' "$T_TMP/out")
awk -v a="$ka" -v s="$kmean" 'BEGIN { exit !(a > 0 && a < s) }' &&
    pass "asymmetric 4-bit activations lose less than symmetric (KL $ka < $kmean)" ||
    fail "asym KL '$ka' vs sym '$kmean'"

# ---- KL against another model file ----
expect_rc 0 "ppl --kl-base (.bin vs its .gguf copy)" -- "$Q" ppl "$S/models/stories260K.bin" "$MOBY" --ctx 128 --chunks 3 --kl-base "$S/models/stories260K.gguf" --json
kmax=$(sed -n 's/.*"kld":{[^}]*"max":\([-0-9.eE+]*\).*/\1/p' "$T_TMP/out")
top1=$(json_num top1 "$T_TMP/out")
awk -v k="$kmax" -v t="$top1" 'BEGIN { exit !(k < 1e-6 && t == 1) }' &&
    pass "the .bin and .gguf copies agree (max KL $kmax)" || fail "bin vs gguf KL max '$kmax' top1 '$top1'"
if [ -x "$QLENS_BUILD/tests/tool_genmodel" ]; then
    "$QLENS_BUILD/tests/tool_genmodel" --format gguf --dim 32 --hidden 64 --layers 1 --heads 2 --vocab 300 --ctx 128 "$T_TMP/v300.gguf" >/dev/null 2>&1
    expect_rc 2 "--kl-base with another vocabulary" -- "$Q" ppl "$MOBY" --ctx 64 --kl-base "$T_TMP/v300.gguf"
    expect_grep "vocabulary 300 vs 512" "$T_TMP/err" "vocabulary mismatch named"
else
    fail "tool_genmodel missing in \$QLENS_BUILD ($QLENS_BUILD)"
fi
expect_rc 3 "--kl-base missing file" -- "$Q" ppl "$MOBY" --ctx 64 --kl-base "$T_TMP/nope.gguf"

# ---- ppl: errors ----
: >"$T_TMP/empty.txt"
expect_rc 1 "empty text file" -- "$Q" ppl "$T_TMP/empty.txt"
expect_grep "empty" "$T_TMP/err" "empty file message"
printf 'Once upon a time\377 there' >"$T_TMP/bad.txt"
expect_rc 1 "invalid UTF-8" -- "$Q" ppl "$T_TMP/bad.txt"
expect_grep "offset 16: invalid UTF-8" "$T_TMP/err" "invalid UTF-8 names the offset"
printf 'Once upon a time there was a cat.' >"$T_TMP/short.txt"
expect_rc 1 "text too short for one chunk" -- "$Q" ppl "$T_TMP/short.txt" --ctx 64
expect_grep "too short.*64" "$T_TMP/err" "too-short message names the context"
expect_rc 2 "ctx beyond the model" -- "$Q" ppl "$S/models/stories260K.gguf" "$MOBY" --ctx 512
expect_grep "exceeds the model's context \(128" "$T_TMP/err" "ctx message names the model context"
expect_rc 2 "odd ctx" -- "$Q" ppl "$MOBY" --ctx 63
expect_rc 2 "ctx < 2" -- "$Q" ppl "$MOBY" --ctx 0
expect_rc 2 "negative ctx is refused, not the default" -- "$Q" ppl "$MOBY" --ctx -4
expect_grep "ctx wants an integer in 0\.\." "$T_TMP/err" "negative ctx message names the range"
expect_rc 2 "kl-base without a file" -- "$Q" ppl "$MOBY" --kl-base
expect_grep "kl-base wants a model file" "$T_TMP/err" "kl-base message says what it wants"
expect_rc 2 "ctx 2 scores nothing in llama.cpp mode" -- "$Q" ppl "$MOBY" --ctx 2
expect_rc 0 "ctx 2 in full-window mode" -- "$Q" ppl "$MOBY" --ctx 2 --full --chunks 5
expect_rc 2 "missing TEXT" -- "$Q" ppl
expect_rc 2 "unknown option" -- "$Q" ppl "$MOBY" --frobnicate
expect_rc 2 "bad --chunks" -- "$Q" ppl "$MOBY" --chunks x
expect_rc 3 "missing text file" -- "$Q" ppl "$T_TMP/nope.txt"
expect_rc 3 "missing model" -- "$Q" ppl "$T_TMP/nope.gguf" "$MOBY"

# ---- acts ----
expect_rc 0 "acts --json" -- "$Q" acts "$EVAL" --ctx 128 --chunks 2 --json
n=$(grep -o '"site":' "$T_TMP/out" | wc -l)
[ "$n" = 30 ] && pass "acts: 5 layers x 6 sites" || fail "acts rows: $n"
expect_grep '"site":"ffn_down","channels":172' "$T_TMP/out" "acts: ffn_down has hidden_dim channels"
expect_grep '"site":"k","channels":32' "$T_TMP/out" "acts: K has kv_dim channels"
expect_rc 0 "acts text" -- "$Q" acts "$EVAL" --ctx 64 --chunks 1
expect_grep "^ +4 v +32" "$T_TMP/out" "acts text table"
expect_rc 1 "acts on an empty file" -- "$Q" acts "$T_TMP/empty.txt"
expect_rc 2 "acts without TEXT" -- "$Q" acts

# ---- generate ----
expect_rc 0 "generate greedy" -- "$Q" generate --prompt "Once upon a time" -n 30
cp "$T_TMP/out" "$T_TMP/g1"
expect_grep "^Once upon a time" "$T_TMP/g1" "generate echoes the prompt"
"$Q" generate --prompt "Once upon a time" -n 30 >"$T_TMP/g2" 2>/dev/null
cmp -s "$T_TMP/g1" "$T_TMP/g2" && pass "greedy decoding is deterministic" || fail "greedy output differs"
expect_rc 0 "generate --json" -- "$Q" generate --prompt "Lily" -n 12 --json
ntok=$(sed -n 's/.*"tokens":\[\([0-9,]*\)\].*/\1/p' "$T_TMP/out" | tr ',' '\n' | grep -c .)
[ "$ntok" -ge 1 ] && [ "$ntok" -le 12 ] && pass "generate -n bounds the tokens ($ntok)" || fail "tokens: $ntok"
"$Q" generate --prompt "Lily" -n 25 --temp 1.0 --seed 7 >"$T_TMP/s1" 2>&1
"$Q" generate --prompt "Lily" -n 25 --temp 1.0 --seed 7 >"$T_TMP/s2" 2>&1
"$Q" generate --prompt "Lily" -n 25 --temp 1.0 --seed 8 >"$T_TMP/s3" 2>&1
cmp -s "$T_TMP/s1" "$T_TMP/s2" && pass "sampling with a seed is reproducible" || fail "same seed, different text"
cmp -s "$T_TMP/s1" "$T_TMP/s3" && fail "different seeds gave the same text" || pass "the seed changes the sample"
expect_rc 2 "generate -n 0" -- "$Q" generate --prompt x -n 0
expect_rc 2 "generate bad --temp" -- "$Q" generate --prompt x --temp -1
expect_rc 0 "generate --help" -- "$Q" generate --help
t_done
