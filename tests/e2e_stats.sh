#!/bin/sh
# End-to-end: `qlens stats` streaming and its results cache.  Rows of an F16
# model equal those of its F32 twin's converted values; the second run is
# served by the cache with byte-identical output (text, JSON, CSV); a
# damaged cache file is reported and replaced; --no-cache writes nothing;
# JSON and CSV stay valid documents; a changed model is measured again.
. "$(dirname "$0")/lib.sh"
Q=$QLENS_BIN
GEN=$QLENS_BUILD/tests/tool_genmodel
C=$T_TMP/cache-e2e
export QLENS_CACHE_DIR=$C
F16=$T_TMP/m16.gguf
"$GEN" --format gguf --dim 96 --hidden 160 --layers 2 --heads 4 --vocab 300 --ctx 64 \
    --dtype f16 "$F16" >/dev/null 2>&1 && pass "generated an F16 model" || fail "tool_genmodel"

# ---- first run measures, second run reads the cache ----
for fmt in "" --json --csv; do
    rm -rf "$C"
    expect_rc 0 "stats $fmt (measured)" -- "$Q" stats "$F16" $fmt
    cp "$T_TMP/out" "$T_TMP/first"
    ls "$C"/stats/stats-*.bin >/dev/null 2>&1 && pass "stats $fmt: cache file written" \
        || fail "stats $fmt: no cache file under $C/stats"
    expect_rc 0 "stats $fmt (cached)" -- "$Q" stats "$F16" $fmt
    cmp -s "$T_TMP/out" "$T_TMP/first" && pass "stats $fmt: cached output identical" \
        || fail "stats $fmt: cached output differs"
    [ ! -s "$T_TMP/err" ] && pass "stats $fmt: a good cache is silent" || fail "stats $fmt: stderr $(cat "$T_TMP/err")"
done
expect_rc 0 "stats --json again" -- "$Q" stats "$F16" --json
python3 -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if len(j['tensors']) > 10 and 'error' not in j else 1)" \
    "$T_TMP/out" && pass "stats --json: a valid document" || fail "stats --json: not valid JSON"

# ---- a damaged cache file: a note, the same numbers, replaced ----
"$Q" stats "$F16" > "$T_TMP/first" 2>/dev/null
f=$(ls "$C"/stats/stats-*.bin | head -1)
printf 'not a cache' > "$f"
expect_rc 0 "stats with a corrupt cache" -- "$Q" stats "$F16"
expect_grep 'results cache .* ignored' "$T_TMP/err" "corrupt cache: a note on stderr"
cmp -s "$T_TMP/out" "$T_TMP/first" && pass "corrupt cache: same output" || fail "corrupt cache: output differs"
expect_rc 0 "stats after the corrupt cache" -- "$Q" stats "$F16"
[ ! -s "$T_TMP/err" ] && pass "corrupt cache: replaced" || fail "corrupt cache: still reported"

# ---- a changed model is measured again ----
touch -d '2001-01-01' "$F16"
expect_rc 0 "stats on a changed model" -- "$Q" stats "$F16"
expect_grep 'ignored \(the model file changed' "$T_TMP/err" "changed model: stale note"
cmp -s "$T_TMP/out" "$T_TMP/first" && pass "changed model: measured again, same values" || fail "changed model: output differs"

# ---- --no-cache ----
rm -rf "$C"
expect_rc 0 "stats --no-cache" -- "$Q" stats "$F16" --no-cache
[ ! -e "$C" ] && pass "--no-cache writes no cache" || fail "--no-cache created $C"
cmp -s "$T_TMP/out" "$T_TMP/first" && pass "--no-cache: same output" || fail "--no-cache: output differs"

# ---- per channel: measured (not cached), the same with and without the cache ----
expect_rc 0 "stats --per-channel cols" -- "$Q" stats "$F16" --per-channel cols --csv
cp "$T_TMP/out" "$T_TMP/cols"
expect_rc 0 "stats --per-channel cols (cache present)" -- "$Q" stats "$F16" --per-channel cols --csv
cmp -s "$T_TMP/out" "$T_TMP/cols" && pass "per-channel: same output" || fail "per-channel: output differs"
t_done
