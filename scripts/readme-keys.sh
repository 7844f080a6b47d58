#!/bin/sh
# Regenerate the README key list (between <!-- keys:begin --> and
# <!-- keys:end -->) from the one key table: `qlens --print-keys`.
# tests/tui_keys.sh fails when the two differ.
set -e
bin=${1:-build/qlens}
keys=$(mktemp) out=$(mktemp)
trap 'rm -f "$keys" "$out"' EXIT
"$bin" --print-keys >"$keys"
awk -v k="$keys" '
    /<!-- keys:end -->/ { skip = 0 }
    !skip { print }
    /<!-- keys:begin -->/ { while ((getline l < k) > 0) print l; skip = 1 }
' README.md >"$out"
cat "$out" >README.md
