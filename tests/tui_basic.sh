#!/bin/sh
# Screen test of the dashboard: drive the real binary in tmux (private
# socket), send keys, capture the pane and assert on the text.  Every wait
# polls capture-pane with a deadline, so the test cannot hang.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux_lib.sh"

start 120 40
wait_for 'blk\.0\.attn_q' "opens the default model in the Layers view"
wait_for '1 Layers.*2 Tensor.*3 Quant.*4 Runs.*5 Correlation' "tab bar lists every view"
wait_for 'q quit.*\? help' "key bar shows keys"
grep -q 'Kurt' "$SCREEN" && pass "kurtosis column" || fail "kurtosis column"

# Grouped by layer: header rows with a summary; z / Z / Enter fold them.
wait_for '^- embedding \(1\) +32\.8K params' "embedding group header with parameters"
wait_for '^- blk\.0 attention \(5\) +12\.4K params +1\.594 +7\.611 +0\.024' "attention header: maxima"
wait_for '^- blk\.1 FFN \(4\) +33\.1K params' "FFN group header"
keys z
wait_for '^\+ embedding \(1\)' "z folds the group under the cursor"
grep -q '^token_embd' "$SCREEN" && fail "folded group still shows its tensor" || pass "folded group hides its tensor"
keys Enter
wait_for '^token_embd' "Enter on a header unfolds it"
keys Z
wait_for '^\+ output \(1\)' "Z folds every group"
grep -q '^blk\.' "$SCREEN" && fail "Z left a tensor row" || pass "Z leaves only headers"
keys Z
wait_for '^blk\.0\.attn_q' "Z again unfolds all"
keys s s s s s
wait_for 'flat, by Kurt' "sorted by a number: flat list"
grep -q '^- blk' "$SCREEN" && fail "sorted list still has headers" || pass "sorted list has no headers"
keys z
wait_for 'flat while sorted' "z in a flat list explains itself"
keys S S S S S
wait_for '^- blk\.0 attention' "back to model order: groups again"

# Mouse, xterm X10 encoding: ESC [ M <button+32> <x+33> <y+33>, then release.
click() {
    keys -l "$(printf '\033[M %s%s' "$1" "$2")"
    keys -l "$(printf '\033[M#%s%s' "$1" "$2")"
}
click G '!'   # x 38, y 0: the "4 Runs" tab
wait_for 'runs of stories260K' "mouse click on a tab"
click '#' '!' # x 2, y 0: " qlens " title, then the Layers tab at x 8
click ')' '!'
wait_for 'Tensor\^ +Shape' "click back to Layers"
keys Home
# List rows from y 2: embedding header, token_embd, blk.0 attention header,
# attn_norm, attn_q, attn_k (y 7).  A second click opens the tensor.
click '#' '('
click '#' '('
wait_for 'blk\.0\.attn_k  32x64 F32' "click a row twice opens the tensor"
keys 1 Home
sleep 0.5
click '#' '%' # y 4: the blk.0 attention header; a second click folds it
click '#' '%'
wait_for '^\+ blk\.0 attention \(5\)' "click a header twice folds it"
sleep 0.5     # past the double-click interval
click '#' "'" # y 6: below the folded group, now the first row of blk.0 FFN
sleep 0.5
keys Enter
wait_for 'blk\.0\.ffn_norm  64 F32' "a click below a folded group selects the right row"
keys 1 Home

# Navigate: down twice selects blk.0.attn_q (token_embd, attn_norm, attn_q).
keys Down Down
keys s s s s s  # sort: Shape, Type, Std, AbsMax, Kurt (largest first)
wait_for 'Kurtv' "sorted by kurtosis (header arrow)"
cap
first=$(sed -n 3p "$SCREEN" | awk '{print $1}')
[ "$first" = "blk.3.attn_norm" ] && pass "largest kurtosis first ($first)" || fail "largest kurtosis first (got '$first')"
keys r
wait_for 'Kurt\^' "reverse sort"

# Jump with / and open the tensor.
keys / b l k . 2 . a t t n _ o u t p u t Enter
keys Enter
wait_for 'blk\.2\.attn_output +64x64 F32' "jump + Enter opens the tensor view"
wait_for 'weights 64x64' "outlier map header"
wait_for 'kurt 4\.644' "tensor statistics shown"
wait_for 'log histogram; RTN 4 bit g128 asym grid of row 0, cols 0-63 \(cursor.s group\)' "histogram with the grid of the cursor's group"

# Zoom to single values: coordinates of the cursor.
keys + + + + + + + +
wait_for '\[row 0, col 0\] = ' "zoom down to single values with coordinates"
keys Right Right Down
wait_for '\[row 1, col 2\] = ' "pan moves the cursor"
# The grid marks follow the scale under the cursor: its group, its row,
# or the tensor (g cycles 128, 256, tensor, row, 32, 64, 128).
wait_for 'grid of row 1, cols 0-63 \(cursor.s group\)' "grid marks of the group under the cursor"
keys g g
wait_for 'RTN 4 bit tensor asym grid \(per-tensor scale\)' "per-tensor grid marks"
tensor_axis=$(grep '┴' "$SCREEN")
keys g
wait_for 'grid of row 1 \(cursor.s channel\)' "per-channel grid marks: the cursor's row"
keys g Right Right Right Right Right Right Right Right Right Right Right Right Right Right Right
keys Right Right Right Right Right Right Right Right Right Right Right Right Right Right Right
wait_for '\[row 1, col 32\]' "cursor in the second group of 32"
wait_for 'grid of row 1, cols 32-63 \(cursor.s group\)' "g32: the group under the cursor"
group_axis=$(grep '┴' "$SCREEN")
[ -n "$group_axis" ] && [ "$group_axis" != "$tensor_axis" ] && pass "a group's marks differ from the tensor's" || fail "group marks equal the per-tensor marks"
keys g g
wait_for 'RTN 4 bit g128 asym grid' "back to g128"
keys p
wait_for 'AbsMax per row' "per-channel AbsMax profile"
keys p
wait_for 'AbsMax per column' "column profile"

# Live quantization: bits change updates the view.
keys 3
wait_for 'RTN.*4 bit' "quant view shows RTN 4-bit"
keys b
wait_for 'RTN.*5 bit' "b adds a bit"
wait_for 'SQNR' "error report"
wait_for 'log histogram of Wq; marks: grid of row [0-9]+, cols [0-9]+-[0-9]+ \(cursor.s group\)' "Quant view: marks of the error map cursor's group"

# Help overlay.
keys 1 '?'
wait_for 'Keys in the Layers view' "help overlay"
wait_for 'open the selected tensor' "help lists table entries"
keys Escape
wait_for 'Kurt\^' "help closes"

keys T
wait_for 'theme: 8-colour' "T switches to the 8-colour theme"
keys T
wait_for 'theme: mono' "T switches to monochrome"
keys T

# Resize to 20x8 and back: no crash, "too small" message, then normal.
$TM resize-window -x 20 -y 8 2>/dev/null
wait_for 'too small' "20x8 says the terminal is too small"
$TM resize-window -x 120 -y 40 2>/dev/null
wait_for '^blk\.2\.attn_output +64x64' "back to 120x40 redraws the layers (selection visible)"

keys q
wait_exit 0 "q quits with exit 0"

# SIGTERM: flag, clean exit (130), terminal restored (no alternate screen).
start 100 30
wait_for 'blk\.0' "second start"
pane=$($TM display-message -p '#{pane_pid}' 2>/dev/null)
pid=$(pgrep -P "$pane" 2>/dev/null | head -1)
if [ -n "$pid" ]; then kill -TERM "$pid"; fi
wait_exit 130 "SIGTERM exits cleanly"
cap
alt=$($TM display-message -p '#{alternate_on}' 2>/dev/null)
[ "$alt" = "0" ] && pass "terminal left the alternate screen" || fail "alternate screen still on ($alt)"

# ASCII fallback and mono theme.
start 100 30 QLENS_ASCII=1 NO_COLOR=1
wait_for 'blk\.0' "ASCII / NO_COLOR start"
keys Enter
wait_for 'weights' "ASCII tensor view"
if grep -q '▀' "$SCREEN"; then fail "ASCII mode drew half blocks"; else pass "ASCII mode has no UTF-8 glyphs"; fi
keys q
wait_exit 0 "quit from ASCII mode"

# 80x24 in the C locale without colour, after a calibration pass: every
# number whole, hidden columns marked and reachable with Left/Right.
start 80 24 LANG=C LC_ALL=C NO_COLOR=1
wait_for '^token_embd ' "80x24 C-locale start"
keys C
wait_for 'calibration done: activation columns in Layers \(Right\)' "calibration pass (C)" 60
wait_for '^Tensor\^ .* >$' "80 columns: '>' marks the activation columns to the right"
keys Right Right Right Right
wait_for '^Tensor\^ +< .*A\.Kurt +A\.Out6%$' "Right shows the activation columns"
keys Left Left Left Left
wait_for '^Tensor\^ +Shape' "Left goes back"
keys 3
wait_for '^SQNR [0-9.]+ dB  b/w [0-9]+\.[0-9]{3}  MSE' "80 columns: the report keeps bits/weight whole"
keys 5
wait_for '^r -?[0-9.]+ \(p [^)]*\)  rho -?[0-9.]+ \(p [^)]*\)  n [0-9]+$' "80 columns: the correlation line keeps every number"
keys 1 '?'
wait_for '^  Up, k ' "help lists aliases on one line"
keys Down Down Down Down Down Down
wait_for '^  Enter ' "Down scrolls the help to Enter"
[ "$(grep -c '^  Enter ' "$SCREEN")" = 1 ] && pass "help lists Enter once" || fail "help lists Enter twice"
keys Escape q
wait_exit 0 "quit from 80x24"

# A corrupted session file: the dashboard starts and says so on screen
# (the start-up hint used to overwrite the message).
printf '{"schema": 3' >"$T_TMP/bad-session.json"
start 100 30 QLENS_SESSION="$T_TMP/bad-session.json"
wait_for 'session file: .*bad-session.json: offset [0-9]+: JSON syntax error' "a corrupted session file is named at start"
keys q
wait_exit 0 "quit after a corrupted session file"
t_done
