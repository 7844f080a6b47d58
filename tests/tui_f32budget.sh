#!/bin/sh
# The Tensor and Quant views pin the float copy of the tensor they show in
# the model's budgeted cache (ui/wpin.h, $QLENS_F32_CACHE) instead of
# keeping a copy of every tensor shown: with a budget of two tensors'
# worth, walking away to other tensors and back shows the same numbers
# (statistics header, map scale, quantization report) as with the default
# budget, which keeps every copy.  check_ui_wpin checks the bytes held.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux_lib.sh"
GEN="${QLENS_BUILD:-build}/tests/tool_genmodel"
"$GEN" --format gguf --dim 256 --hidden 512 --layers 2 --heads 4 --vocab 2000 --ctx 128 \
    --dtype f16 --seed 3 "$T_TMP/m.gguf" >/dev/null || { fail "tool_genmodel"; t_done; }
START_ARGS="'$T_TMP/m.gguf'"

# open NAME: jump to tensor NAME in the Layers view and open its Tensor view
open_tensor() {
    keys 1 /
    type_text "$1"
    keys Enter
    sleep 0.3
    keys Enter
    wait_for "^$1 +[0-9x]+ F16 +n=" "$2: Tensor view of $1" 10
}
# grab FILE: the Tensor view's header and map lines, then the Quant view's
# report (RTN 4 bit g128), into FILE
grab() {
    wait_for '^weights [0-9]+x[0-9]+, ' "$2: map of $3 drawn" 10
    sleep 0.5
    cap
    grep -E '^mean |^kurt |^weights ' "$SCREEN" >"$1"
    keys 3
    wait_for 'SQNR [0-9.]+ dB' "$2: Quant view result of $3" 20
    cap
    grep -E 'SQNR [0-9.]+ dB' "$SCREEN" | sed 's/  [0-9.]* ms//' >>"$1"
}

start 120 40
wait_for 'statistics of [0-9]+ tensors in' "default budget: statistics in" 30
open_tensor blk.1.ffn_down "default budget"
grab "$T_TMP/ref" "default budget" blk.1.ffn_down
keys q
[ "$(wc -l <"$T_TMP/ref")" -ge 4 ] && pass "reference lines captured" ||
    { fail "reference lines captured"; cat "$T_TMP/ref"; }

# 1 MiB: two 256x512 tensors' floats; every other copy is freed on the way
start 120 40 QLENS_F32_CACHE=1M
wait_for 'statistics of [0-9]+ tensors in' "1 MiB budget: statistics in" 30
open_tensor blk.1.ffn_down "1 MiB budget"
grab "$T_TMP/a" "1 MiB budget" blk.1.ffn_down
for other in blk.0.ffn_up blk.0.attn_q blk.1.ffn_gate token_embd; do
    open_tensor "$other" "walk"
    keys 3
    wait_for 'SQNR [0-9.]+ dB|quantizing on the worker' "walk: Quant view of $other" 20
done
open_tensor blk.1.ffn_down "back"
grab "$T_TMP/b" "back" blk.1.ffn_down
keys q
if cmp -s "$T_TMP/ref" "$T_TMP/a" && cmp -s "$T_TMP/ref" "$T_TMP/b"; then
    pass "same numbers with the 1 MiB budget, before and after the walk"
else
    fail "same numbers with the 1 MiB budget"
    for f in ref a b; do echo "  $f:"; sed 's/^/  | /' "$T_TMP/$f"; done
fi
t_done
