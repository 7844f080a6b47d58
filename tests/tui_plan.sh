#!/bin/sh
# Plan view (issue 10 item 5) on stories260K, without colour (NO_COLOR:
# the heatmap's ramp characters are on the captured screen): the empty
# view says what S does; candidates typed with ':'; S measures every
# tensor x candidate on the worker (progress in the status bar); the
# heatmap, legend, plan strip and Pareto plot show; +/- move the budget on
# a 1/8-bit grid and the plan follows (at the cheapest budget every tensor
# takes 2 bits); A applies and measures the plan; Ctrl-C-like cancel (c)
# keeps the finished cells, and a second dashboard (80x24) reuses them
# from the cache ($HOME/.cache/qlens, HOME is the test's folder).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux_lib.sh"
start 120 40 NO_COLOR=1
wait_for 'blk\.0\.attn_q' "dashboard starts"
keys 7
wait_for 'No sensitivity yet\.  S measures' "empty Plan view says what S does"
wait_for '7 Plan' "the Plan tab"
keys :
type_text "rtn:2:32,nope:3"
keys Enter
wait_for "candidate 'nope:3'" "a bad candidate list is refused, naming the candidate"
keys :
type_text "rtn:2:32,rtn:8:32"
keys Enter
wait_for 'candidates rtn:2:32,rtn:8:32: S measures them' "candidates set"
keys S
wait_for 'sensitivity cell [0-9]+/70' "S runs on the worker with progress" 60
wait_for 'sensitivity: 70 cells measured, 0 from the cache' "every cell measured" 300
wait_for '^Mixed precision: 35 tensors x 2 candidates, 4 chunks x 512 tokens' "header"
wait_for '^tensor +1 rtn:2:32 +2 rtn:8:32 +layer q k v o g u d' "heatmap and strip headers"
wait_for '^blk\.0\.attn_q +[ .:=+*#%@-]{2} ?[ >][0-9]\.[0-9]{2}e-0[0-9] +[ .:=+*#%@-]{2}[ >][0-9]\.[0-9]{2}e-0[0-9]' "a heatmap row: ramp cells and KL values"
wait_for '^KL \(log\) [0-9.]+e-0[0-9] +\.:-=\+\*#%@ ' "legend with the ramp"
wait_for 'bits/weight \(x\) vs KL \(y, log\)' "Pareto plot"
wait_for '^budget 5\.675 b/w \(\+/-, 2\.5[0-9]\.\.8\.7[0-9]\)  plan [0-9.]+ b/w, predicted KL' "budget halfway, plan predicted"
keys -
wait_for '^budget 5\.500 b/w' "- lowers the budget by 1/8 bit (on the grid)"
keys + +
wait_for '^budget 5\.750 b/w' "+ raises it"
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do keys -; done
wait_for '^budget 2\.5[0-9]{2} b/w' "the budget stops at the cheapest plan"
wait_for '    0 2 2 2 2 2 2 2 *$' "cheapest plan: every tensor of layer 0 at 2 bits"
wait_for '    4 2 2 2 2 2 2 2 *$' "and of layer 4"
absent '  [0-4]( [0-9])* 8( [0-9])* *$' "no 8-bit tensor at the cheapest budget"
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do keys +; done
wait_for '^budget 4\.625 b/w' "16 steps up: 4.625 bits/weight"
wait_for '  [0-4]( [28])* 8( [28])* *$' "a mixed plan: 8-bit tensors"
wait_for '  [0-4]( [28])* 2( [28])* *$' "beside 2-bit ones"
keys j l
wait_for '^blk\.0\.attn_k x rtn:8:32: KL [0-9.]+e-0[0-9] .* -> plan with it: [0-9.]+ b/w' "cursor cell and its configuration"
keys A
wait_for 'plan measured: 4\.[0-9]+ b/w, KL [0-9.]+ \(predicted [0-9.]+\), PPL [0-9.]+ \(float [0-9.]+\)' "A measures the plan" 300
wait_for '  measured [0-9.]+$' "the measured KL beside the prediction"
keys +
wait_for 'measured [0-9.]+ \(older plan; A measures\)' "changing the budget marks the measurement old"
# cancel keeps the finished cells
keys :
type_text "rtn:3:32"
keys Enter S
wait_for 'sensitivity cell ([5-9]|[1-3][0-9])/35' "a second measurement runs" 120
keys c
wait_for 'sensitivity cancelled: [0-9]+ of 35 cells done \(kept in the cache\)' "c cancels it" 60
wait_for 'INCOMPLETE' "the view says the table is incomplete"
wait_for 'the sensitivity is incomplete \(cancelled\): S measures the missing cells' "no plan from an incomplete table"
keys q
wait_gone 'q again quits' 5
# a second dashboard, at 80x24: reopening is served by the cache; the
# narrow heatmap numbers its columns (as the plot's uniform points)
start 80 24 NO_COLOR=1
wait_for 'blk\.0\.attn_q' "dashboard starts again"
keys 7 :
type_text "rtn:2:32,rtn:8:32"
keys Enter S
wait_for 'sensitivity: 0 cells measured, 70 from the cache' "reopened: every cell from the cache" 120
keys :
type_text "rtn:2:32,rtn:8:32,rtn:3:32"
keys Enter S
wait_for 'sensitivity: [0-9]+ cells measured, (7[1-9]|[89][0-9]|10[0-4]) from the cache' "the cancelled run's cells reused" 300
wait_for '^tensor +1   2   3   layer q k v o g u d' "narrow heatmap: numbered columns, the strip beside"
wait_for '^blk\.0\.attn_q +([ .:=+*#%@-]{2}[ >] ){3} +0( [238]){7} *$' "narrow row: ramp cells, the plan strip"
keys q
t_done
