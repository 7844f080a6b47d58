#!/bin/sh
# Layers view: the jump prompt and `n` (issue 13, item 7: `n` used to
# forget the text and report `no tensor name contains ""`).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux_lib.sh"
start 120 40
wait_for 'blk\.0\.attn_q' "dashboard starts"
keys /
wait_for 'jump to: _' "the jump prompt opens"
type_text attn_q; keys Enter
keys n
sleep 0.3
absent 'no tensor name contains' "n repeats the jump without an error"
keys Enter
wait_for '^blk\.1\.attn_q ' "n moved to the next match (blk.1.attn_q)"
keys Escape n n
sleep 0.3
keys Enter
wait_for '^blk\.3\.attn_q ' "n again: blk.3.attn_q"
keys Escape f
wait_for 'filter: _' "the filter prompt opens"
type_text ffn_down; keys Enter
wait_for 'filter "ffn_down": 5 tensors' "filter shows the count"
keys q
t_done
