#!/bin/sh
# Screen test of `qlens --base FILE MODEL`: the Layers view gains the error
# columns against the base (relative Frobenius error, SQNR, bits/weight),
# the Tensor view's 'w' cycles to the |W - W_base| map; a base that cannot
# be opened is refused before the screen starts; off a terminal the same
# comparison prints as `qlens diff`.  Bounded waits only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux_lib.sh"
BIN=$QLENS_SHARED/models/stories260K.bin

# A model that differs from the base: RTN 4-bit, saved dequantized as GGUF.
"$QLENS_BIN" quant "$BIN" --method rtn --bits 4 --group 32 --chunks 1 --save-gguf "$T_TMP/rtn.gguf" >/dev/null 2>&1 \
    && pass "RTN copy written" || fail "RTN copy"
"$QLENS_BIN" diff "$BIN" "$T_TMP/rtn.gguf" --csv >"$T_TMP/diff.csv"
want_rel=$(awk -F, '$1 ~ /blk.0.attn_q"?$/ { printf "%.4g", $11 }' "$T_TMP/diff.csv")

START_ARGS="--base '$BIN' '$T_TMP/rtn.gguf'" start 160 40 QLENS_SESSION="$T_TMP/s.json"
wait_for 'B\.RelErr +B\.SQNR +Bits/w' "Layers view: base columns"
wait_for "blk\\.0\\.attn_q .* $want_rel +[0-9.]+ +32" "attn_q: relative error as qlens diff computes it ($want_rel)"
wait_for 'blk\.0\.attn_norm .* 0 +300 +32' "attn_norm: exact against the base"
keys s s s s s s s s s s s
wait_for 'B\.RelErr[v^]' "sort by the base error"
wait_for "flat, by B.RelErr" "flat list by B.RelErr"
keys 2
wait_for 'weights [0-9]+x[0-9]+' "Tensor view: weight map"
keys w
wait_for '\|W - W_base\| [0-9]+x[0-9]+' "w: the error map against the base"
keys w
wait_for 'weights [0-9]+x[0-9]+|no activations' "w again: leaves the error map"
keys q
wait_exit 0 "quit"

# A base that cannot be opened: refused with its name, before the screen.
rm -f "$T_TMP/missing.gguf"
START_ARGS="--base '$T_TMP/missing.gguf' '$BIN'" start 100 20
wait_for 'base model: .*missing\.gguf' "missing base named"
wait_exit 3 "missing base"

# Off a terminal: the comparison as a table.
"$QLENS_BIN" --base "$BIN" "$T_TMP/rtn.gguf" </dev/null >"$T_TMP/out" 2>&1
grep -qE '^blk\.0\.attn_q +64x64 +F32 +F32 ' "$T_TMP/out" && pass "off a terminal: the diff table" || fail "off a terminal"
"$QLENS_BIN" --base "$BIN" </dev/null >/dev/null 2>&1
[ $? = 2 ] && pass "off a terminal without MODEL: usage error" || fail "off a terminal without MODEL"
t_done
