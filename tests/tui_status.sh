#!/bin/sh
# Status line, issue 13 item 8: a long message is shortened in the middle
# (the file name stays), messages expire, a key that does nothing in this
# view says where it acts.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux_lib.sh"
mkdir -p "$T_TMP/a-rather-long-directory-name/for-the-session-file"
START_ARGS=""
start 80 24 "QLENS_SESSION='$T_TMP/a-rather-long-directory-name/for-the-session-file/session.json'"
wait_for 'blk\.0\.attn_q' "dashboard starts at 80x24"
keys w
wait_for 'w does nothing in the Layers view \(it acts in Tensor\)' "an unused key says where it acts"
keys Q
wait_for 'Q: no such key' "an unbound key says so"
keys P
wait_for '^float \(F32 weights\): PPL [0-9.]+.*\.\.\..*/session\.json *$' "a long path is cut in the middle, its file name stays" 60
sleep 1; cap
grep -q 'session\.json' "$SCREEN" && pass "message still there after a second" || fail "message gone too early"
n=150; gone=0
while [ "$n" -gt 0 ]; do cap; grep -q 'session\.json' "$SCREEN" || { gone=1; break; }; sleep 0.1; n=$((n - 1)); done
[ "$gone" = 1 ] && pass "the message expires" || fail "the message never expires"
keys q
t_done
