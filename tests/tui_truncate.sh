#!/bin/sh
# Screen test: the model file is truncated by another process while the
# dashboard has it mapped.  The next read past the new end used to kill the
# dashboard with SIGBUS (exit 135); now the status bar says so, the job that
# read zeros reports an error instead of a perplexity, and q still quits.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux_lib.sh"

cp "$QLENS_SHARED/models/stories260K.bin" "$T_TMP/m.bin"
cp "$QLENS_SHARED/models/tok512.bin" "$T_TMP/tok512.bin"
START_ARGS="'$T_TMP/m.bin'" start 160 40 QLENS_SESSION="$T_TMP/s.json"
wait_for 'blk\.0\.attn_q' "dashboard opens the copy"
: >"$T_TMP/m.bin"
keys P # the float baseline perplexity reads every weight
wait_for 'm\.bin: the file was truncated while open \(now 0 bytes' "status bar: truncated while open" 60
# the job stops by itself (no 'c' pressed) and leaves no row
wait_gone 'c cancels' 30
absent 'c cancels' "the baseline job stops"
keys 4
wait_for '^0 runs of m on' "Runs view: no perplexity computed on zeros"
wait_for 'truncated while open' "the message stays"
keys q
wait_exit 0 "q quits normally"
t_done
