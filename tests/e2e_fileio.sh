#!/bin/sh
# End-to-end: what qlens does with files that are not what they seem and with
# outputs that fail (README, Reliability): write errors on standard output,
# saving onto symlinks / devices / FIFOs, reading non-regular or endless
# files, imports that would break a store, non-finite weights.
. "$(dirname "$0")/lib.sh"
Q=$QLENS_BIN
S=$QLENS_SHARED
D=$S/data
SMALL="--ctx 64 --chunks 2 --calib-ctx 64 --calib-chunks 2"

# --- a full standard output is an I/O error (exit 3), for every command --
full_stdout() { # NAME CMD...: stdout on /dev/full must give exit 3 and a message
    name=$1; shift
    "$@" >/dev/full 2>"$T_TMP/err"; rc=$?
    if [ "$rc" = 3 ] && grep -q "standard output: write error" "$T_TMP/err"; then pass "$name > /dev/full: exit 3"
    else fail "$name > /dev/full: exit $rc, wanted 3 with a message"; sed 's/^/  err: /' "$T_TMP/err" | head -5; fi
}
if [ -w /dev/full ]; then
    full_stdout "--version" "$Q" --version
    full_stdout "--help" "$Q" --help
    full_stdout "info" "$Q" info
    full_stdout "info --json" "$Q" info --json
    full_stdout "stats --json" "$Q" stats --json
    full_stdout "stats --csv" "$Q" stats --csv
    full_stdout "tokenize" "$Q" tokenize hello
    full_stdout "ppl" "$Q" ppl "$D/tinystories-eval.txt" --ctx 64 --chunks 2
    full_stdout "quant" "$Q" quant --method rtn --bits 8 $SMALL
    full_stdout "results list" "$Q" results list
    full_stdout "correlate" "$Q" correlate --all --where 'method=GPTQ|SpQR,bits=3..4'
else
    pass "no /dev/full here: write-error checks skipped"
fi
t_done
