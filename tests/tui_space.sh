#!/bin/sh
# Screen space, issue 13 item 8: a small matrix fills the map area (it was
# 64 of 200 columns, most of the screen black); after a resize that fits
# every column the Layers table is no longer scrolled sideways.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux_lib.sh"
# NO_COLOR: the ASCII ramp, where cells outside the matrix are blank
start 200 60 NO_COLOR=1
wait_for 'blk\.0\.attn_q' "dashboard starts at 200x60"
keys /; type_text blk.0.attn_q; keys Enter Enter
wait_for '^blk\.0\.attn_q  64x64' "Tensor view of a 64x64 matrix"
sleep 0.3; cap
# map rows: lines of ramp characters reaching the right edge
wide=$(awk 'NR > 4 && /^[ .:=+*#%@X-]+$/ { sub(/ +$/, ""); if (length($0) >= 190) c++ } END { print c + 0 }' "$SCREEN")
[ "$wide" -ge 20 ] && pass "the map spans the width ($wide rows of >= 190 cells)" ||
    fail "the map leaves the screen black ($wide wide rows)"
keys q
start 56 30
wait_for 'blk\.0\.attn_q' "dashboard starts at 56 columns"
keys Right Right
wait_for '^Tensor.* < ' "scrolled sideways"
$TM resize-window -x 200 -y 40 2>/dev/null || $TM resize-pane -x 200 -y 40
sleep 0.5
wait_for '^Tensor\^? +Shape +Type +Std +AbsMax' "after widening every column shows from the first"
absent '< ' "and nothing is hidden on the left"
keys q
t_done
