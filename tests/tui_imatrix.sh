#!/bin/sh
# Screen test of the Imatrix view: `qlens --imatrix FILE MODEL` with
# llama.cpp's own imatrix of the shared ggml-types model: per entry the
# total, kurtosis and top channels equal an independent reading of the
# file (Python, legacy format); the channel heatmap puts the strongest
# channel at the top level; sorting; `o` opens a qlens-written imatrix and
# names a bad one; an imatrix for another model is refused before the
# screen starts; `I` computes one on the worker equal to `qlens imatrix`'s;
# off a terminal the same as `qlens imatrix --show`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux_lib.sh"
G="$QLENS_SHARED/reference/ggml-types"
# wait_exit SECONDS: until the dashboard of the current session has exited
wait_exit() {
    n=$(( $1 * 10 ))
    while [ ! -s "$T_TMP/rc" ] && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
}
IMX="$G/model.imatrix"
M="$G/model-f32.gguf"
[ -f "$IMX" ] && [ -f "$M" ] || { fail "shared ggml-types model or imatrix missing"; t_done; }

# expect FILE: the expected rows, straight from a legacy imatrix file
expect() {
python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
n, = struct.unpack_from('<i', d, 0); o = 4
for _ in range(n):
    ln, = struct.unpack_from('<i', d, o); o += 4
    name = d[o:o + ln].decode(); o += ln
    ncall, nval = struct.unpack_from('<2i', d, o); o += 8
    v = [x / ncall for x in struct.unpack_from('<%df' % nval, d, o)]; o += 4 * nval
    tot = sum(v); m = tot / nval
    m2 = sum((x - m) ** 2 for x in v) / nval; m4 = sum((x - m) ** 4 for x in v) / nval
    top = max(range(nval), key=lambda j: v[j])
    print(name.replace('.weight', ''), nval, '%.5g' % tot, '%.2f' % (m4 / m2 ** 2), '%.3f' % (100 * v[top] / tot), top)
PY
}
expect "$IMX" >"$T_TMP/expect"
[ "$(wc -l <"$T_TMP/expect")" = 7 ] && pass "reference read of the imatrix (7 entries)" || fail "reference read"

START_ARGS="--imatrix '$IMX' '$M'"
start 120 36 NO_COLOR=1 QLENS_ASCII=1
wait_for 'model-f32.gguf' "dashboard open with --imatrix" 20
keys 6
wait_for "model.imatrix: 7 entries \(7 in this model\), 16 chunks" "Imatrix view: entries, chunks, all in the model"
while read -r name cols tot kurt share top; do
    wait_for "^$name +$cols +$tot +[0-9.]+ +$kurt +$share +$top:" "$name: total $tot, kurtosis $kurt, top channel $top ($share%)" 3
done <"$T_TMP/expect"
wait_for "blk\.0\.ffn_down: 512 channels, 1 cell = 1 channel" "heatmap of the selected entry"
keys j j j
wait_for "blk\.0\.attn_v: 256 channels" "the heatmap follows the selection"
cap
row=$(grep -E '^ +0 ' "$SCREEN" | head -1)
c=$(printf '%s' "$row" | cut -c$((9 + 101 + 1)))
[ "$c" = "@" ] && pass "channel 101 (36% of attn_v's importance) at the top heat level" ||
    fail "channel 101 cell is '$c': $row"
keys s
wait_for "sorted by total" "s: sort by total"
cap
first=$(sed -n 4p "$SCREEN" | awk '{print $1}')
case "$first" in blk.0.ffn_up|blk.0.ffn_gate) pass "largest total first ($first)" ;; *) fail "first row '$first'" ;; esac
keys s
wait_for "sorted by kurtosis" "s: sort by kurtosis"
cap
first=$(sed -n 4p "$SCREEN" | awk '{print $1}')
case "$first" in blk.0.attn_q|blk.0.attn_k|blk.0.attn_v) pass "most kurtotic first ($first)" ;; *) fail "first row '$first'" ;; esac
keys r
wait_for "sorted by kurtosis \(reversed\)" "r: reversed"

# o: another file, a qlens-written one; then a bad one
"$QLENS_BIN" imatrix "$M" "$QLENS_SHARED/data/tinystories-calib.txt" -o "$T_TMP/q.imatrix" --chunks 2 --ctx 64 >/dev/null 2>&1 &&
    pass "qlens imatrix on the same model" || fail "qlens imatrix"
keys o
wait_for "imatrix file" "o opens the file prompt"
type_text "q.imatrix"
keys Enter
wait_for "q.imatrix: 7 entries \(7 in this model\), 2 chunks" "a qlens-written imatrix shown"
printf 'garbage' >"$T_TMP/bad.imatrix"
keys o
type_text "bad.imatrix"
keys Enter
wait_for "bad.imatrix" "a bad file is named in the status bar"
wait_for "q.imatrix: 7 entries" "and the loaded matrix stays"
keys q
wait_exit 20 # its exit code must not land in the next session's rc file

# another model's imatrix: refused before the screen starts
START_ARGS="--imatrix '$IMX' '$QLENS_SHARED/models/stories260K.gguf'"
start 100 20
wait_exit 30
rc=$(cat "$T_TMP/rc" 2>/dev/null)
cap
[ -n "$rc" ] && [ "$rc" != 0 ] && grep -q "model.imatrix" "$SCREEN" && pass "imatrix for another model refused (exit $rc): $(grep -m1 model.imatrix "$SCREEN" | cut -c1-90)" ||
    fail "another model's imatrix: rc '$rc'"

# I: computed on the worker from the calibration text, as qlens imatrix does
B="$QLENS_SHARED/models/stories260K.bin"
"$QLENS_BIN" imatrix "$B" "$QLENS_SHARED/data/tinystories-calib.txt" -o "$T_TMP/s.imatrix" --ctx 512 --chunks 16 >/dev/null 2>&1 &&
    pass "qlens imatrix on stories260K (16 chunks of 512)" || fail "qlens imatrix on stories260K"
expect "$T_TMP/s.imatrix" | grep -E '^blk\.(0\.attn_q|0\.ffn_down|1\.attn_output) ' >"$T_TMP/expect_s"
START_ARGS="'$B'"
start 120 36 NO_COLOR=1 QLENS_ASCII=1
wait_for 'stories260K.bin' "dashboard open" 20
keys 6
wait_for "No importance matrix loaded" "empty Imatrix view says how to get one"
keys I
wait_for "importance matrix: 35 entries" "I computes one on the worker" 60
wait_for "computed in the dashboard \(512-token chunks\): 35 entries \(35 in this model\), 16 chunks" "header names the pass"
while read -r name cols tot kurt share top; do
    wait_for "^$name +$cols +$tot +[0-9.]+ +$kurt +$share +$top:" "computed $name = qlens imatrix's (total $tot, kurtosis $kurt)" 3
done <"$T_TMP/expect_s"
keys q

# off a terminal: qlens imatrix --show
"$QLENS_BIN" --imatrix "$IMX" </dev/null >"$T_TMP/show" 2>&1
grep -q "7 entries, 16 chunks" "$T_TMP/show" && pass "off a terminal: the --show table" || fail "off-terminal output"
t_done
