#!/bin/sh
# Activations, issue 13 item 10: after the calibration pass the activation
# columns carry their own difficulty (blk.0.ffn_down's input has kurtosis
# about 79: extreme), marked in text without colour; the activation map's
# header and histogram describe the activations; a click on the map moves
# its cursor.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux_lib.sh"
start 120 40 NO_COLOR=1
wait_for 'blk\.0\.attn_q' "dashboard starts (NO_COLOR)"
keys C
wait_for 'calibration done' "calibration pass" 60
wait_for '^blk\.0\.ffn_down .* [0-9.]+!! +[0-9.]+ *$' "activation kurtosis marked extreme (!!) without colour"
wait_for '4-10 moderate\+ 10-50 hard! >=50 extreme!!' "the legend explains the marks"
keys /; type_text blk.0.ffn_down; keys Enter Enter
wait_for '^blk\.0\.ffn_down  64x172' "Tensor view of blk.0.ffn_down"
keys w
wait_for '^activations into blk\.0\.ffn_down: [0-9]+x172 \(tokens x channels\)' "header describes the activations"
wait_for 'kurt 7[0-9]\.' "with the activations' kurtosis"
wait_for 'log histogram of the activations shown' "histogram of the activations"
wait_for 'rows 0-[0-9]+, cols 0-[0-9]+: max\|x\| .*activations \(token x channel\)' "map cursor at the top-left"
# A click (xterm X10 mouse report) on the map's 30th row, 60th column.
printf '\033[M %c%c\033[M#%c%c' "$((32 + 60))" "$((32 + 30))" "$((32 + 60))" "$((32 + 30))" >"$T_TMP/click"
$TM send-keys -l "$(cat "$T_TMP/click")"
wait_for 'rows [1-9][0-9]*-[0-9]+, cols [1-9][0-9]*-[0-9]+: max\|x\| .*activations' "a click moves the map cursor"
keys q
t_done
