#!/bin/sh
# Memory budget (src/membudget.c): a run that needs more memory than
# --mem-budget (or than the machine has: an address-space limit here)
# stops before it starts with exit 1, saying what it needs and which
# option lowers it, and writes nothing; within the budget it runs.  On
# stories260K and on a generated F16 model.
. tests/lib.sh
Q=$QLENS_BIN
: "${QLENS_BUILD:=$(pwd)/build}"
S=$QLENS_SHARED/models/stories260K.gguf
EV=$QLENS_SHARED/data/tinystories-eval.txt
SMALL="--ctx 128 --chunks 2 --calib-ctx 128 --calib-chunks 4"

expect_rc 2 "--mem-budget without a size" -- "$Q" ppl "$S" "$EV" --mem-budget
expect_rc 2 "--mem-budget 0" -- "$Q" quant "$S" --method rtn --mem-budget 0
expect_rc 2 "--mem-budget with a bad unit" -- "$Q" ppl "$S" "$EV" --mem-budget 4X
expect_grep "800M or 6G" "$T_TMP/err" "the usage error shows the forms"

# ppl
expect_rc 1 "ppl over a 4M budget" -- "$Q" ppl "$S" "$EV" --chunks 2 --mem-budget 4M
expect_grep "stories260K.gguf: evaluating needs about .* MiB of memory \((in use already .*, )?forward passes" "$T_TMP/err" "ppl names the file and the parts"
expect_grep "but --mem-budget is 4.0 MiB; options that lower it: --ctx" "$T_TMP/err" "ppl names the budget and --ctx"
if [ -s "$T_TMP/out" ]; then fail "refused ppl printed a result"; else pass "refused ppl printed nothing on stdout"; fi
expect_rc 0 "ppl within 512M" -- "$Q" ppl "$S" "$EV" --chunks 2 --mem-budget 512M
# The sanitizers' own memory (about 25 MiB more in use) does not fit 6M.
if [ -z "$QLENS_SANITIZED" ]; then
    expect_rc 0 "--ctx lowers it under the same budget" -- "$Q" ppl "$S" "$EV" --chunks 2 --ctx 64 --mem-budget 6M
fi
expect_rc 1 "... which refuses --ctx 512" -- "$Q" ppl "$S" "$EV" --chunks 2 --ctx 512 --force-ctx --mem-budget 6M

# quant / sweep / export write nothing when refused
expect_rc 1 "quant gptq over budget" -- "$Q" quant "$S" --method gptq --bits 4 $SMALL --mem-budget 8M --json
expect_grep "quantizing and evaluating needs about" "$T_TMP/err" "quant says what it needs"
expect_grep "calibration hidden states" "$T_TMP/err" "quant lists the calibration part"
expect_grep "options that lower it: .*--calib-chunks" "$T_TMP/err" "quant names --calib-chunks"
if [ -s "$T_TMP/out" ]; then fail "refused quant printed JSON"; else pass "refused quant printed no JSON"; fi
expect_rc 0 "quant gptq within 64M" -- "$Q" quant "$S" --method gptq --bits 4 $SMALL --mem-budget 64M
expect_rc 1 "sweep over budget" -- "$Q" sweep "$S" --methods rtn,gptq --bits 4 $SMALL --mem-budget 8M --out "$T_TMP/sweep.json"
if [ -e "$T_TMP/sweep.json" ]; then fail "refused sweep wrote its results"; else pass "refused sweep wrote no results file"; fi
expect_rc 1 "quant --export over budget" -- "$Q" quant "$S" --method q4_0 --mem-budget 1M --export "$T_TMP/x.gguf"
if [ -e "$T_TMP/x.gguf" ]; then fail "refused export wrote a file"; else pass "refused export wrote no file"; fi
ls "$T_TMP" | grep -q '\.tmp' && fail "a temporary file was left" || pass "no temporary file left"

# a generated F16 model (21 MB of weights)
G="$T_TMP/gen.gguf"
"$QLENS_BUILD/tests/tool_genmodel" --format gguf --dim 512 --hidden 1024 --layers 4 --heads 8 \
    --vocab 512 --ctx 256 --dtype f16 --vocab-from "$S" "$G" >/dev/null 2>&1 || fail "tool_genmodel"
expect_rc 1 "generated model: ppl under its own weights' size" -- "$Q" ppl "$G" "$EV" --chunks 2 --mem-budget 16M
expect_grep "weights \(mapped\) 21 MiB" "$T_TMP/err" "the mapped weights are counted"
# --resident holds every quantized tensor as floats (4 bytes x 10.5M
# weights); the default, streamed, one block's (tests/e2e_qstream.sh)
expect_rc 1 "generated model: rtn over budget" -- "$Q" quant "$G" --method rtn --bits 4 --ctx 128 --chunks 2 --mem-budget 40M --resident
expect_grep "quantized weights as floats \(--resident\) 40 MiB" "$T_TMP/err" "the quantized floats are counted (4 bytes x 10.5M weights)"
expect_rc 0 "generated model: rtn within 200M" -- "$Q" quant "$G" --method rtn --bits 4 --ctx 128 --chunks 2 --mem-budget 200M

# no --mem-budget: the machine's limit (here an address-space limit);
# AddressSanitizer cannot start under one (it reserves terabytes of shadow)
if [ -n "$QLENS_SANITIZED" ]; then t_done; fi
(ulimit -v 1200000 && "$Q" ppl "$G" "$EV" --chunks 1 --ctx 65536 --force-ctx >"$T_TMP/out" 2>"$T_TMP/err"); rc=$?
if [ "$rc" = 1 ]; then pass "a context beyond the address-space limit: exit 1"; else fail "ulimit -v: exit $rc"; cat "$T_TMP/err"; fi
expect_grep "but only .* is available; options that lower it: --ctx" "$T_TMP/err" "says what is available"
t_done
