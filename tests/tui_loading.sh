#!/bin/sh
# The dashboard opens a model at once and fills the statistics in from a
# thread (issue 15 item 4, issue 13 item 9): the table with placeholders
# and the progress ("stats i/N") come first, the cursor works meanwhile and
# the tensor looked at is computed next, the rows fill in; a tensor whose
# statistics fail (here: the file truncated while loading) says FAILED and
# why, never zeros.  QLENS_STATS_DELAY_MS slows the loading thread so a
# 110M-shape model loads long enough to look at (it changes no number).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux_lib.sh"
GEN="${QLENS_BUILD:-build}/tests/tool_genmodel"
"$GEN" --format gguf --dim 768 --hidden 2048 --layers 12 --heads 12 --vocab 32000 --ctx 1024 \
    --dtype f16 --seed 1 "$T_TMP/m110.gguf" >/dev/null || { fail "tool_genmodel"; t_done; }
START_ARGS="'$T_TMP/m110.gguf'"
start 120 40 QLENS_STATS_DELAY_MS=40
wait_for ' stats [0-9]+/111' "tab bar: statistics progress" 10
wait_for '^blk\.0\.attn_q +768x768 +F16 +\.\.\. +\.\.\.' "rows shown with placeholders before their statistics" 3
# the cursor works while loading: jump to a tensor at the end of the model
keys /
type_text "blk.11.ffn_down"
keys Enter
n=40; ok=0
while [ "$n" -gt 0 ]; do
    cap
    if grep -qE '^blk\.11\.ffn_down +768x2048 +F16 +0\.0[0-9]+ ' "$SCREEN" &&
        grep -qE '^blk\.11\.ffn_up +2048x768 +F16 +\.\.\.' "$SCREEN"; then ok=1; break; fi
    sleep 0.1; n=$((n - 1))
done
[ "$ok" = 1 ] && pass "the selected tensor is computed before the ones above it" ||
    { fail "the selected tensor is computed next"; sed 's/^/  | /' "$SCREEN" | head -40; }
keys Enter
wait_for 'blk\.11\.ffn_down +768x2048 F16 +n=1572864' "Tensor view opens while loading" 3
keys Escape s s s
wait_for 'Std[v^]' "sorting by a statistics column while loading" 3
wait_for 'statistics of 111 tensors in [0-9.]+ s' "then every row is filled" 60
absent '\.\.\.' "no placeholder left"
absent ' stats [0-9]+/111' "progress gone"
keys q
# Opened again: the statistics come from the results cache (src/tscache.h)
start 120 40
wait_for 'statistics of 111 tensors in [0-9.]+ s \(111 from the cache\)' "reopened: every row from the statistics cache" 20
absent '\.\.\.' "no placeholder left"
keys q
# A failure says so: the file truncated while its statistics load.
cp "$QLENS_SHARED/models/stories260K.bin" "$T_TMP/m.bin"
cp "$QLENS_SHARED/models/tok512.bin" "$T_TMP/tok512.bin"
START_ARGS="'$T_TMP/m.bin'"
start 120 40 QLENS_STATS_DELAY_MS=60
wait_for ' stats [0-9]+/[0-9]+' "stories260K loading" 10
: >"$T_TMP/m.bin"
wait_for 'statistics: [0-9]+ of [0-9]+ tensors failed|m\.bin: the file was truncated while open' "status bar says so" 20
wait_for 'FAILED +- +- +-' "failed rows say FAILED, not zeros" 3
keys End Enter
wait_for 'statistics failed: .*m\.bin: .*truncated' "Tensor view says why" 5
t_done
