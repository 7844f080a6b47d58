#!/bin/sh
# Long jobs, issue 13 item 9: the status bar names the phase with its step
# count and the time left; cancel answers at once; q during a job asks
# before quitting.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux_lib.sh"
start 120 40
wait_for 'blk\.0\.attn_q' "dashboard starts"
keys P
wait_for 'float baseline PPL +[0-9]+% .* evaluating chunk [0-9]+/[0-9]+' "phase and step count in the status bar" 20
keys q
wait_for 'is running: q again quits and cancels it' "q during a job asks first" 3
sleep 0.3
[ -f "$T_TMP/rc" ] && fail "the dashboard quit on one q" || pass "still running after one q"
keys Down
wait_for 'still running: float baseline PPL' "another key keeps the job" 3
keys c
wait_for 'cancelling' "cancel is acknowledged at once" 2
wait_for 'baseline: cancelled' "then the job ends" 30
keys P
wait_for 'evaluating chunk [0-9]+/[0-9]+, [0-9]+ s left \| c cancels' "time left" 20
keys q q
n=50; while [ "$n" -gt 0 ] && [ ! -f "$T_TMP/rc" ]; do sleep 0.1; n=$((n - 1)); done
[ -f "$T_TMP/rc" ] && [ "$(cat "$T_TMP/rc")" = 0 ] && pass "q q quits during a job (exit 0)" ||
    fail "q q did not quit"
t_done
