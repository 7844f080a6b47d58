# tmux helpers for the dashboard's screen tests (sourced after lib.sh):
# a private server per start, bounded polling waits, key sending.
command -v tmux >/dev/null 2>&1 || { fail "tmux not installed"; t_done; }
tm_n=0
TM="tmux -L qlens-tm-$$-0 -f /dev/null"
trap '$TM kill-server 2>/dev/null; rm -rf "$T_TMP"' EXIT
SCREEN="$T_TMP/screen"
# start W H [ENV...]: `qlens $START_ARGS` in a fresh session, working
# directory $START_DIR (default $T_TMP), HOME $T_TMP, session file
# $T_TMP/session.json (an ENV argument overrides any of these); its exit
# code goes to $T_TMP/rc.
start() {
    w=$1; h=$2; shift 2
    rm -f "$T_TMP/rc"
    $TM kill-server 2>/dev/null
    tm_n=$((tm_n + 1))
    TM="tmux -L qlens-tm-$$-$tm_n -f /dev/null"
    $TM new-session -d -x "$w" -y "$h" \
        "cd '${START_DIR:-$T_TMP}' && env QLENS_SHARED='$QLENS_SHARED' HOME='$T_TMP' QLENS_SESSION='$T_TMP/session.json' $* '$QLENS_BIN' $START_ARGS; echo \$? >'$T_TMP/rc'; sleep 30"
    $TM set-option -g status off >/dev/null 2>&1
}
cap() { $TM capture-pane -p >"$SCREEN" 2>/dev/null; }
# wait_for REGEX NAME [SECONDS]: poll the screen until REGEX shows.
wait_for() {
    n=$(( ${3:-10} * 10 ))
    while [ "$n" -gt 0 ]; do
        cap
        if grep -qE -- "$1" "$SCREEN"; then pass "$2"; return 0; fi
        sleep 0.1; n=$((n - 1))
    done
    fail "$2 (no /$1/ on screen)"
    { head -4 "$SCREEN"; echo ...; tail -3 "$SCREEN"; } | cut -c1-200 | sed 's/^/  | /'
    return 1
}
# absent REGEX NAME: the current screen does not show REGEX.
absent() {
    cap
    if grep -qE -- "$1" "$SCREEN"; then fail "$2 (/$1/ on screen)"; sed 's/^/  | /' "$SCREEN" | head -45
    else pass "$2"; fi
}
keys() { $TM send-keys "$@"; }
# wait_exit RC NAME [SECONDS]: the dashboard ends (default 10 s) with RC.
wait_exit() {
    n=$(( ${3:-10} * 10 ))
    while [ "$n" -gt 0 ] && [ ! -f "$T_TMP/rc" ]; do sleep 0.1; n=$((n - 1)); done
    if [ -f "$T_TMP/rc" ]; then
        rc=$(cat "$T_TMP/rc")
        if [ "$rc" = "${1:-0}" ]; then pass "$2 (exit $rc)"; else fail "$2 (exit $rc, wanted ${1:-0})"; fi
    else
        fail "$2 (still running)"
    fi
}
# type_text TEXT: send TEXT literally (prompt input).
type_text() { $TM send-keys -l -- "$1"; }

# wait_gone PATTERN [SECONDS]: until nothing on screen matches (e.g. a job
# still running, which takes longer under the sanitizers); no check counted.
wait_gone() {
    n=$(( ${2:-60} * 10 ))
    while [ "$n" -gt 0 ]; do
        cap
        grep -qE -- "$1" "$SCREEN" || return 0
        sleep 0.1; n=$((n - 1))
    done
}
