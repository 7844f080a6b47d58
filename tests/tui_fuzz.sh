#!/bin/sh
# Key fuzz of the dashboard: 400 pseudo-random keys (fixed seed) over every
# view, with resizes between 20x8 and 200x60, then q.  The process must
# stay alive and exit 0 (under `make asan` any memory error or leak makes
# the exit code non-zero).  Long jobs are left out except calibration.
. "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null 2>&1 || { fail "tmux not installed"; t_done; }
TM="tmux -L qlens-fuzz-$$ -f /dev/null"
trap '$TM kill-server 2>/dev/null; rm -rf "$T_TMP"' EXIT

$TM new-session -d -x 120 -y 40 \
    "cd '$T_TMP' && env HOME='$T_TMP' QLENS_SHARED='$QLENS_SHARED' '$QLENS_BIN' 2>'$T_TMP/err'; echo \$? >'$T_TMP/rc'; sleep 30"
n=50; while [ "$n" -gt 0 ] && ! $TM capture-pane -p 2>/dev/null | grep -q 'blk\.0'; do sleep 0.1; n=$((n - 1)); done

# One tmux command per key; awk's rand() with a fixed seed picks them.
awk 'BEGIN {
    srand(42)
    n = split("1 2 3 4 5 ? j k l h s S r n z Z b B g a o m w p + - [ ] T v t x y F c d e Up Down Left Right PgUp PgDn Home End Enter Escape Tab BTab BSpace", k, " ")
    split("120x40 20x8 50x11 40x10 80x24 30x12 200x60 60x16", sz, " ")
    for (i = 0; i < 400; i++) {
        if (rand() < 0.03) { split(sz[int(rand() * 8) + 1], wh, "x"); print "resize " wh[1] " " wh[2]; continue }
        if (rand() < 0.005) { print "key C"; continue }
        if (rand() < 0.02) { print "key / a t Enter"; continue }
        print "key " k[int(rand() * n) + 1]
    }
}' | while read -r cmd a b; do
    case "$cmd" in
    resize) $TM resize-window -x "$a" -y "$b" 2>/dev/null ;;
    key) $TM send-keys $a $b 2>/dev/null ;;
    esac
    [ -f "$T_TMP/rc" ] && break
done
sleep 0.5
if [ -f "$T_TMP/rc" ]; then
    fail "dashboard died during the key fuzz (exit $(cat "$T_TMP/rc"))"; head -20 "$T_TMP/err" | sed 's/^/  /'
else
    pass "alive after 400 random keys and resizes"
fi
$TM send-keys c q
n=100; while [ "$n" -gt 0 ] && [ ! -f "$T_TMP/rc" ]; do sleep 0.1; n=$((n - 1)); done
rc=$(cat "$T_TMP/rc" 2>/dev/null)
if [ "$rc" = 0 ]; then pass "quits with exit 0 after the fuzz"; else
    fail "exit after fuzz: '$rc'"; head -20 "$T_TMP/err" | sed 's/^/  /'; fi
t_done
