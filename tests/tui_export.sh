#!/bin/sh
# Screen export from the dashboard (key E): the files land in the current
# directory as qlens-screen-N.{txt,ans,svg,html}; the text matches the
# screen tmux shows, the ANSI file has colours, the SVG/XHTML are
# well-formed and draw the half-block heatmap as rectangles.
. "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null 2>&1 || { fail "tmux not installed"; t_done; }
TM="tmux -L qlens-export-$$ -f /dev/null"
trap '$TM kill-server 2>/dev/null; rm -rf "$T_TMP"' EXIT
SCREEN="$T_TMP/screen"
mkdir -p "$T_TMP/out"
$TM new-session -d -x 110 -y 34 \
    "cd '$T_TMP/out' && env TERM=tmux-256color QLENS_SHARED='$QLENS_SHARED' HOME='$T_TMP' '$QLENS_BIN'; echo \$? >'$T_TMP/rc'; sleep 30"
$TM set-option -g status off >/dev/null 2>&1
cap() { $TM capture-pane -p >"$SCREEN" 2>/dev/null; }
wait_for() {
    n=$(( ${3:-10} * 10 ))
    while [ "$n" -gt 0 ]; do
        cap
        if grep -qE -- "$1" "$SCREEN"; then pass "$2"; return 0; fi
        sleep 0.1; n=$((n - 1))
    done
    fail "$2 (no /$1/ on screen)"; sed 's/^/  | /' "$SCREEN" | head -40
    return 1
}
keys() { $TM send-keys "$@"; }

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
n=50; while [ "$n" -gt 0 ] && [ ! -f "$T_TMP/rc" ]; do sleep 0.1; n=$((n - 1)); done
[ "$(cat "$T_TMP/rc" 2>/dev/null)" = 0 ] && pass "quits" || fail "did not quit cleanly"
t_done
