#!/bin/sh
# End-to-end: a model file truncated by another process while a command has
# it mapped.  Reading past the new end used to kill ppl / quant / stats with
# SIGBUS (exit 135, no message); now the command exits 1 naming the file.
#
# Deterministic: the command is stopped (SIGSTOP) as soon as the copy shows
# up in its /proc/PID/maps, the copy is truncated, and the command resumes;
# every tensor is read after that point.
. tests/lib.sh
M="$QLENS_SHARED/models/stories260K.bin"
TXT="$QLENS_SHARED/data/tinystories-eval.txt"

# truncate_during NAME CMD...: run CMD on $T_TMP/m.bin, truncate it once mapped
truncate_during() {
    name=$1; shift
    cp "$M" "$T_TMP/m.bin"
    cp "$QLENS_SHARED/models/tok512.bin" "$T_TMP/tok512.bin"
    "$@" >"$T_TMP/out" 2>"$T_TMP/err" &
    pid=$!
    i=0
    while [ $i -lt 3000 ] && kill -0 $pid 2>/dev/null && ! grep -q "$T_TMP/m.bin" "/proc/$pid/maps" 2>/dev/null; do
        i=$((i + 1)); sleep 0.01
    done
    kill -STOP $pid 2>/dev/null
    if grep -q "$T_TMP/m.bin" "/proc/$pid/maps" 2>/dev/null; then
        : >"$T_TMP/m.bin" # truncate to 0 bytes: every page is past the end
        kill -CONT $pid
        wait $pid; rc=$?
        if [ "$rc" = 1 ]; then pass "$name: exit 1 after the truncation"; else
            fail "$name: exit $rc after the truncation (wanted 1)"; sed 's/^/  err: /' "$T_TMP/err" | head; fi
        expect_grep "m\.bin: the file was truncated while open \(now 0 bytes, was 1056540\)" "$T_TMP/err" \
            "$name: message names the file"
    else
        kill -CONT $pid 2>/dev/null; wait $pid
        fail "$name: the model was never mapped"
    fi
}

truncate_during "ppl" "$QLENS_BIN" ppl "$T_TMP/m.bin" "$TXT" --ctx 64 --chunks 200
truncate_during "quant" "$QLENS_BIN" quant "$T_TMP/m.bin" --method rtn --bits 4 --eval "$TXT" --ctx 64 --chunks 50
# (stats reads the model in a fraction of a second: tests/check_model.c
# covers the reads themselves)
t_done
