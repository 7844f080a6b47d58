#!/bin/sh
# The README key list must be exactly what the one key table prints
# (`qlens --print-keys`).
. "$(dirname "$0")/lib.sh"
expect_rc 0 "--print-keys runs" -- "$QLENS_BIN" --print-keys
cp "$T_TMP/out" "$T_TMP/keys"
expect_grep '^\| Key \| Views \| Action \|' "$T_TMP/keys" "key list has a header"
expect_grep '^\| `q` \| all \| quit' "$T_TMP/keys" "q quits in every view"
n=$(grep -c '^| `' "$T_TMP/keys")
[ "$n" -ge 30 ] && pass "key list has $n rows" || fail "key list has only $n rows"
for doc in README.md; do
    if ! grep -q '<!-- keys:begin -->' "$doc"; then
        fail "$doc has no <!-- keys:begin --> marker"; continue
    fi
    sed -n '/<!-- keys:begin -->/,/<!-- keys:end -->/p' "$doc" | sed '1d;$d' >"$T_TMP/doc"
    if cmp -s "$T_TMP/doc" "$T_TMP/keys"; then
        pass "$doc key list matches the key table"
    else
        fail "$doc key list differs from 'qlens --print-keys' (regenerate it)"
        diff "$T_TMP/keys" "$T_TMP/doc" | head -10 | sed 's/^/  /'
    fi
done
t_done
