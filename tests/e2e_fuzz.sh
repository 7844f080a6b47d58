#!/bin/sh
# End-to-end: every input that once crashed a fuzz harness (or tripped a
# sanitizer) replays cleanly through the harness's entry point, built by the
# regular compiler (and by `make asan` under ASan + UBSan); the CLI turns the
# import crashes into exit 1 with a message naming the field.  A hang is a
# failure too (timeout), not a stuck test run.
. tests/lib.sh
: "${QLENS_BUILD:=$(pwd)/build}"

for d in tests/fuzz/regress/*/; do
    h=$(basename "$d")
    bin="$QLENS_BUILD/tests/fuzz/replay_$h"
    [ -n "$(ls "$d")" ] || continue
    if [ ! -x "$bin" ]; then fail "replay_$h not built"; continue; fi
    expect_rc 0 "fuzz regressions of $h replay ($(ls "$d" | wc -l) inputs)" -- timeout 300 "$bin" "$d"
done

R=tests/fuzz/regress/import
expect_rc 1 "import: group_size 1e999 is refused" -- "$QLENS_BIN" results import "$R/group-inf.json" --into "$T_TMP/s.json"
expect_grep "group-inf.json: group_size: must be in 1\.\.2147483647 \(found inf\)" "$T_TMP/err" "import: group_size message names file and field"
expect_rc 1 "import: bits.w 1e300 is refused" -- "$QLENS_BIN" results import "$R/bits-1e300.json" --into "$T_TMP/s.json"
expect_grep "bits.w: must be in 1\.\.64 \(found 1e\+300\)" "$T_TMP/err" "import: bits.w message"
# a GGUF that claims 1,048,577 blocks (found by fuzz_gguf as an 84 s
# timeout: the fused-tensor split looped over the claimed layers)
G=tests/fuzz/regress/gguf/block-count-1M.gguf
expect_rc 1 "gguf: a block count far beyond the tensors is refused" -- timeout 60 "$QLENS_BIN" info "$G"
expect_grep "block-count-1M\.gguf: required tensor blk\.0\.[a-z_]+ is missing" "$T_TMP/err" "gguf: the message names the file and the missing tensor"
t_done
