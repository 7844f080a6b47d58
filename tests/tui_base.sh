#!/bin/sh
# Screen test of `qlens --base FILE MODEL`: the Layers view gains the error
# columns against the base (relative Frobenius error, SQNR, bits/weight),
# the Tensor view's 'w' cycles to the |W - W_base| map; a base that cannot
# be opened is refused before the screen starts; off a terminal the same
# comparison prints as `qlens diff`.  Bounded waits only.
. "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null 2>&1 || { fail "tmux not installed"; t_done; }
TM="tmux -L qlens-base-$$ -f /dev/null"
trap 'tmux -L qlens-base-$$ kill-server 2>/dev/null; tmux -L qlens-base2-$$ kill-server 2>/dev/null; rm -rf "$T_TMP"' EXIT
SCREEN="$T_TMP/screen"
cap() { $TM capture-pane -p >"$SCREEN" 2>/dev/null; }
wait_for() {
    n=$(( ${3:-10} * 10 ))
    while [ "$n" -gt 0 ]; do
        cap
        if grep -qE -- "$1" "$SCREEN"; then pass "$2"; return 0; fi
        sleep 0.1; n=$((n - 1))
    done
    fail "$2 (no /$1/ on screen)"; sed 's/^/  | /' "$SCREEN" | head -45
    return 1
}
keys() { $TM send-keys "$@"; }
BIN=$QLENS_SHARED/models/stories260K.bin

# A model that differs from the base: RTN 4-bit, saved dequantized as GGUF.
"$QLENS_BIN" quant "$BIN" --method rtn --bits 4 --group 32 --chunks 1 --save-gguf "$T_TMP/rtn.gguf" >/dev/null 2>&1 \
    && pass "RTN copy written" || fail "RTN copy"
"$QLENS_BIN" diff "$BIN" "$T_TMP/rtn.gguf" --csv >"$T_TMP/diff.csv"
want_rel=$(awk -F, '$1 ~ /blk.0.attn_q"?$/ { printf "%.4g", $11 }' "$T_TMP/diff.csv")

$TM new-session -d -x 160 -y 40 \
    "cd '$T_TMP' && env QLENS_SHARED='$QLENS_SHARED' QLENS_SESSION='$T_TMP/s.json' '$QLENS_BIN' --base '$BIN' '$T_TMP/rtn.gguf'; echo \$? >'$T_TMP/rc'; sleep 30"
wait_for 'B\.RelErr +B\.SQNR +Bits/w' "Layers view: base columns"
wait_for "blk\\.0\\.attn_q .* $want_rel +[0-9.]+ +32" "attn_q: relative error as qlens diff computes it ($want_rel)"
wait_for 'blk\.0\.attn_norm .* 0 +300 +32' "attn_norm: exact against the base"
keys s s s s s s s s s s s
wait_for 'B\.RelErr[v^]' "sort by the base error"
wait_for "flat, by B.RelErr" "flat list by B.RelErr"
keys 2
wait_for 'weights [0-9]+x[0-9]+' "Tensor view: weight map"
keys w
wait_for '\|W - W_base\| [0-9]+x[0-9]+' "w: the error map against the base"
keys w
wait_for 'weights [0-9]+x[0-9]+|no activations' "w again: leaves the error map"
keys q
sleep 0.5
[ "$(cat "$T_TMP/rc" 2>/dev/null)" = 0 ] && pass "quit, exit 0" || fail "exit code $(cat "$T_TMP/rc" 2>/dev/null)"

# A base that cannot be opened: refused with its name, before the screen.
$TM kill-server 2>/dev/null
TM="tmux -L qlens-base2-$$ -f /dev/null"
$TM new-session -d -x 100 -y 20 \
    "'$QLENS_BIN' --base '$T_TMP/missing.gguf' '$BIN'; echo rc=\$?; sleep 30"
wait_for 'base model: .*missing\.gguf' "missing base named"
wait_for 'rc=3' "missing base: exit 3"

# Off a terminal: the comparison as a table.
"$QLENS_BIN" --base "$BIN" "$T_TMP/rtn.gguf" </dev/null >"$T_TMP/out" 2>&1
grep -qE '^blk\.0\.attn_q +64x64 +F32 +F32 ' "$T_TMP/out" && pass "off a terminal: the diff table" || fail "off a terminal"
"$QLENS_BIN" --base "$BIN" </dev/null >/dev/null 2>&1
[ $? = 2 ] && pass "off a terminal without MODEL: usage error" || fail "off a terminal without MODEL"
t_done
