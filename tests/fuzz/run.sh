#!/bin/sh
# run: each libFuzzer harness for SECONDS on its corpus; fails on a crash.
#
#   sh tests/fuzz/run.sh BUILD SECONDS [HARNESS...]
#
# The corpus grows in BUILD/corpus/<harness> (seeded by seeds.sh), a crash
# input is saved as BUILD/crash/<harness>-crash-*; the last line per harness
# gives the executions reached ("Done N runs in S second(s)").  The timeout
# per input is generous (60 s): on a loaded shared machine an ASan run of a
# 64 KiB input can stall for seconds without hanging.
BUILD=${1:-build-fuzz}
SECS=${2:-20}
shift 2 2>/dev/null || shift $#
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2
[ -n "$QLENS_SHARED" ] || { [ -d ../shared ] && QLENS_SHARED=$(cd ../shared && pwd) && export QLENS_SHARED; }
names=${*:-$(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||')}
mkdir -p "$BUILD/crash" "$BUILD/log"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
fail=0
for h in $names; do
    case $h in
        gguf) dict=gguf.dict ;;
        filter) dict=filter.dict ;;
        demo) dict=demo.dict ;;
        llama2c | tok_llama2c | encode) dict= ;;
        *) dict=json.dict ;;
    esac
    mkdir -p "$BUILD/corpus/$h"
    log="$BUILD/log/$h.log"
    # big seeds (real models) are read whole; mutations stay under 64 KiB
    if "$BUILD/fuzz/fuzz_$h" -max_total_time="$SECS" -timeout=60 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 ${dict:+-dict=tests/fuzz/$dict} \
        -artifact_prefix="$BUILD/crash/$h-" "$BUILD/corpus/$h" >"$log" 2>&1; then
        runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
        echo "ok   fuzz_$h: ${runs:-?} executions in ${SECS} s, no crash"
    else
        fail=$((fail + 1))
        echo "FAIL fuzz_$h (log $log):"
        grep -E 'ERROR|runtime error|SUMMARY|Test unit written' "$log" | head -20
    fi
done
[ "$fail" = 0 ]
