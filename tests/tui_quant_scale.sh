#!/bin/sh
# Quant view, issue 13 item 1: the error map keeps one colour scale for
# every run of a tensor (runs compare by colour), shows a legend, and
# marks the weights SpQR kept in float.  A/B (p pins the run shown as B,
# v toggles): W, Wq of A and of B side by side with both errors, all on
# the one scale, A against B in numbers, kept weights counted for each.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux_lib.sh"
scale() { grep -oE '[0-9.e+-]+\.\.[0-9.e+-]+ log \|W-Wq\|, one scale per tensor' "$SCREEN" | head -1; }
start 120 40
wait_for 'blk\.0\.attn_q' "dashboard starts"
keys /; type_text blk.1.ffn_down; keys Enter 3
wait_for 'RTN 4 bit.*' "RTN 4-bit on blk.1.ffn_down"
wait_for 'log \|W-Wq\|, one scale per tensor' "error map legend with its scale"
s1=$(scale)
e1=$(grep -oE 'max err [0-9.e-]+' "$SCREEN")
keys B B
wait_for 'RTN 2 bit' "RTN 2-bit"
wait_for 'log \|W-Wq\|' "legend again"
sleep 0.3; cap
s2=$(scale)
e2=$(grep -oE 'max err [0-9.e-]+' "$SCREEN")
[ -n "$s1" ] && [ "$s1" = "$s2" ] && pass "same colour scale at 4 and 2 bits ($s1)" ||
    fail "colour scale changed between runs: '$s1' vs '$s2'"
[ "$e1" != "$e2" ] && pass "while the max error differs ($e1 / $e2)" || fail "max error did not change ($e1)"
# SpQR (calibrates on the worker): its kept outliers are marked.
keys m m m
wait_for 'SpQR' "SpQR selected"
wait_for 'red = kept in float \([1-9][0-9]*\)' "kept outliers marked and counted in the legend" 30
s3=$(scale)
[ "$s3" = "$s1" ] && pass "SpQR on the same scale" || fail "SpQR scale '$s3' differs from '$s1'"
keys p
wait_for '^W \(float\) +A: [0-9.]+ b/w SpQR w2 .* B: [0-9.]+ b/w SpQR w2' "p pins SpQR as B and shows W, A and B"
keys M M M
wait_for 'A: [0-9.]+ b/w RTN w2 g128 .*B: [0-9.]+ b/w SpQR w2' "A follows the settings, B stays"
wait_for '^kept +0 +[1-9][0-9]* *' "A against B in numbers: SpQR kept outliers, RTN none"
wait_for '^SQNR dB +[0-9.]+ +[0-9.]+ ' "SQNR of both"
wait_for 'log \|x\|, one scale for W, Wq and \|W-Wq\|; red = kept in float \(A 0, B [1-9][0-9]*\)' \
    "one legend for the five maps; B's kept weights marked"
s4=$(grep -oE '[0-9.e+-]+\.\.[0-9.e+-]+ log \|x\|, one scale' "$SCREEN" | head -1 | sed 's/ log.*//')
[ "${s1% log*}" = "$s4" ] && pass "A/B on the tensor's scale ($s4)" || fail "A/B scale '$s4' vs '$s1'"
n=$(grep -cE '▀.* ▀.* ▀' "$SCREEN")
[ "$n" -ge 8 ] && pass "three maps side by side ($n rows)" || fail "side-by-side maps on $n rows"
keys v
wait_for 'log \|W-Wq\|, one scale per tensor' "v goes back to the error map"
absent 'B: [0-9.]+ b/w' "no A/B there"
keys v
wait_for 'B: [0-9.]+ b/w SpQR' "v again: B is still pinned"
keys q
t_done
