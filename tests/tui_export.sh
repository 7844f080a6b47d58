#!/bin/sh
# Screen export from the dashboard (key E): the files land in the current
# directory as qlens-screen-N.{txt,ans,svg,html}; the text matches the
# screen tmux shows, the ANSI file has colours, the SVG/XHTML are
# well-formed and draw the half-block heatmap as rectangles.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux_lib.sh"
mkdir -p "$T_TMP/out"
START_DIR=$T_TMP/out start 110 34 TERM=tmux-256color

wait_for 'blk\.0\.attn_q' "dashboard up"
keys 2
wait_for 'Tensor' "Tensor view with its outlier map" 
sleep 1
cap
cp "$SCREEN" "$T_TMP/before"
keys E
wait_for 'screen saved: qlens-screen-1\.\{txt,ans,svg,html\}' "E says where it wrote the screen"
O=$T_TMP/out/qlens-screen-1
for e in txt ans svg html; do
    [ -s "$O.$e" ] && pass "wrote $e" || fail "no $O.$e"
done
# the text file is the screen as it was (tmux trims trailing blanks too)
if diff "$T_TMP/before" "$O.txt" >"$T_TMP/diff"; then pass "text export equals the screen"
else fail "text export differs from the screen"; head -20 "$T_TMP/diff"; fi
grep -q "$(printf '\033')\[0;38;5;" "$O.ans" && pass "ANSI export has 256-colour codes" || fail "no colours in ANSI"
grep -c '▀' "$O.txt" >/dev/null && pass "screen has half-block cells" || fail "no half blocks on screen"
n=$(grep -o '<rect' "$O.svg" | wc -l)
[ "$n" -gt 200 ] && pass "SVG draws cells as $n rects" || fail "SVG has only $n rects"
if command -v xmllint >/dev/null 2>&1; then
    xmllint --noout "$O.svg" && pass "SVG well-formed" || fail "SVG malformed"
    xmllint --noout "$O.html" && pass "XHTML well-formed" || fail "XHTML malformed"
fi
keys E
wait_for 'screen saved: qlens-screen-2' "a second export does not overwrite the first"
keys q
wait_exit 0 "quits"
t_done
