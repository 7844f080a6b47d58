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
wait_for 'cancelling|baseline: cancelled' "cancel is acknowledged at once (or the job already stopped)" 2
wait_for 'baseline: cancelled' "then the job ends" 30
keys P
wait_for 'evaluating chunk [0-9]+/[0-9]+, [0-9]+ s left \| c cancels' "time left" 20
# The jobs panel (J): a second job queues behind the running one instead of
# being refused; the panel lists both with phase and step; a waiting job
# cancelled never starts; the running one says "cancelling" at once.
keys 4 A
wait_for 'queued: all layers .* \(starts after 1 job' "a second job queues" 3
keys J
wait_for '^running [0-9]+% +float baseline PPL +evaluating chunk [0-9]+/[0-9]+' "panel: the running job, its phase and step" 5
wait_for '^waiting #1 +all layers .*starts after 1 job' "panel: the waiting job" 3
keys Down c
wait_for 'removed from the queue: all layers' "a waiting job is cancelled" 3
wait_for '^cancelled +all layers .*cancelled before it started' "... and listed as never started" 3
keys Up c
wait_for '^cancell(ing|ed) +float baseline PPL' "the running job says cancelling at once" 2
wait_for '^cancelled +float baseline PPL' "then it ends, listed as cancelled" 30
keys Escape
wait_for 'No runs yet|runs of' "Esc closes the panel" 3
keys P
wait_for 'evaluating chunk [0-9]+/[0-9]+' "the baseline again" 20
# A calibrated method behind it: the panel names the phase inside the
# block (calibrating / quantizing which linears), from src/qrun's on_phase.
keys 3 :
type_text "method gptq"
keys Enter 4 A J
wait_for 'quantizing block [0-9]+/[0-9]+ \((calibrating|quantizing) blk\.[0-9]+\.' "panel: block i/N and the linears in work" 60
keys q q
n=50; while [ "$n" -gt 0 ] && [ ! -f "$T_TMP/rc" ]; do sleep 0.1; n=$((n - 1)); done
[ -f "$T_TMP/rc" ] && [ "$(cat "$T_TMP/rc")" = 0 ] && pass "q q quits during a job (exit 0)" ||
    fail "q q did not quit"
t_done
