#!/bin/sh
# End-to-end: qlens report on stories260K with real quantization runs and a
# calibration text; the XHTML and the Markdown's SVG files are well-formed
# XML (xmllint); headless Chromium opens the report, with a checker script
# injected into a copy: no console or load error, no network request, every
# figure rendered with a non-empty box, no two texts of a figure overlapping;
# a screenshot goes to $QLENS_BUILD/report-screenshot.png.  Bad input: a
# malformed runs file is left out with a note; a missing --out is a usage
# error; an unwritable path leaves no file.
. "$(dirname "$0")/lib.sh"
Q=$QLENS_BIN
root=$(cd "$(dirname "$0")/.." && pwd)
B=${QLENS_BUILD:-$root/build}
CAL=$QLENS_SHARED/data/tinystories-calib.txt

expect_rc 0 "report --help" -- "$Q" report --help
expect_rc 2 "report without --out" -- "$Q" report
expect_grep "out FILE is required" "$T_TMP/err" "missing --out is named"
expect_rc 2 "report --format pdf" -- "$Q" report --out "$T_TMP/x" --format pdf
expect_rc 2 "report --top junk" -- "$Q" report --out "$T_TMP/x" --top 3x
expect_rc 3 "unwritable --out" -- "$Q" report --out "$T_TMP/nodir/r.html"
[ ! -e "$T_TMP/nodir/r.html" ] && pass "no file after a failed write" || fail "a file was left"

# real runs: a small sweep on the default model
expect_rc 0 "sweep for the runs" -- "$Q" sweep --methods rtn,gptq --bits 4,2 --chunks 2 \
    --calib-chunks 2 --out "$T_TMP/runs.json"
printf '{"schema": "qlens-results/1", "results": [' >"$T_TMP/bad.json"
expect_rc 0 "report html" -- "$Q" report --out "$T_TMP/r.html" --runs "$T_TMP/runs.json" \
    --calib "$CAL" --chunks 2 --results papers --results "$T_TMP/bad.json"
expect_grep "left out: results store .*bad.json" "$T_TMP/err" "malformed store is named on stderr"
expect_grep "Left out:.*bad.json" "$T_TMP/r.html" "and in the report"
expect_grep "GPTQ w2 g128" "$T_TMP/r.html" "runs table has the sweep's rows"
expect_grep 'id="runs-ppl"' "$T_TMP/r.html" "Pareto plot"
expect_grep 'id="a-kurt"' "$T_TMP/r.html" "activation charts with --calib"
expect_grep "Comparison with Jin et al" "$T_TMP/r.html" "Jin et al. Table 3 comparison"
if xmllint --noout "$T_TMP/r.html" 2>"$T_TMP/xml"; then pass "XHTML is well-formed XML"
else fail "XHTML not well-formed"; head "$T_TMP/xml"; fi

mkdir -p "$T_TMP/md"
expect_rc 0 "report md" -- "$Q" report --format md --out "$T_TMP/md/r.md" --top 1 --runs "$T_TMP/runs.json"
n=$(ls "$T_TMP"/md/r-fig*.svg 2>/dev/null | wc -l)
[ "$n" -ge 7 ] && pass "md: $n SVG files" || fail "md: only $n SVG files"
bad=0
for f in "$T_TMP"/md/r-fig*.svg; do xmllint --noout "$f" 2>>"$T_TMP/xml" || bad=1; done
[ $bad = 0 ] && pass "every SVG file is well-formed" || { fail "malformed SVG"; head "$T_TMP/xml"; }
expect_grep '^!\[.*\]\(r-fig1\.svg\)' "$T_TMP/md/r.md" "md links its figures beside it"

# ---- the browser --------------------------------------------------------
CHROME=$(command -v chromium || command -v chromium-browser)
if [ -z "$CHROME" ]; then
    fail "chromium is not installed (scripts/deps.sh installs it: sh scripts/deps.sh)"
    t_done
fi
chrome() { # URL, extra args...
    url=$1; shift
    ud=$(mktemp -d "$T_TMP/ud.XXXXXX")
    timeout 90 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$ud" "$@" "$url"
}
if ! chrome about:blank --dump-dom >"$T_TMP/blank" 2>"$T_TMP/chrome-err" ||
   ! grep -q "<html" "$T_TMP/blank"; then
    echo "SKIP: chromium cannot run here:"; tail -5 "$T_TMP/chrome-err"
    t_done
fi
# the copy: an error collector first thing in <head>, the checker at the end
sed -e 's|<head>|<head><script>window.__qlensErrors=[];window.addEventListener("error",function(e){window.__qlensErrors.push(String(e.message\|\|e.target.outerHTML))},true);(function(c){console.error=function(){window.__qlensErrors.push([].join.call(arguments," "));c.apply(console,arguments)}})(console.error);</script>|' \
    -e "s|</body>|<script>$(grep -v '^ *//' "$root/tests/report_check.js" | tr '\n' ' ' | sed 's/[|&]/\\&/g')</script></body>|" \
    "$T_TMP/r.html" >"$T_TMP/check.html"
chrome "file://$T_TMP/check.html" --enable-logging=stderr --v=0 --dump-dom \
    >"$T_TMP/dom" 2>"$T_TMP/chrome-err"
res=$(sed -n 's/.*id="qlens-check">QLENS-CHECK \(.*\) QLENS-END.*/\1/p' "$T_TMP/dom")
if [ -z "$res" ]; then
    fail "checker produced no result"; tail -20 "$T_TMP/chrome-err"; t_done
fi
echo "browser: $res"
nfig=$(grep -o '<svg xmlns' "$T_TMP/r.html" | wc -l)
echo "$res" | grep -q "\"figures\":$nfig," && pass "browser sees all $nfig figures" || fail "figure count"
echo "$res" | grep -q '"empty":\[\]' && pass "every figure and text has a box" || fail "empty boxes"
echo "$res" | grep -q '"small":\[\]' && pass "every figure has its elements" || fail "figures without elements"
echo "$res" | grep -q '"overlaps":\[\]' && pass "no overlapping texts in any figure" || fail "overlapping texts"
echo "$res" | grep -q '"errors":\[\]' && pass "no console or load error" || fail "errors in the browser"
echo "$res" | grep -q '"resources":0' && pass "no network or file request" || fail "the report loads resources"
if grep -E "Uncaught|:CONSOLE.*[Ee]rror" "$T_TMP/chrome-err" | grep -v "dbus" >"$T_TMP/cons"; then
    fail "console errors"; head "$T_TMP/cons"
else pass "no console error on stderr"; fi

rm -f "$B/report-screenshot.png"
chrome "file://$T_TMP/r.html" --window-size=1100,2600 --screenshot="$B/report-screenshot.png" \
    >/dev/null 2>"$T_TMP/chrome-err"
if [ -s "$B/report-screenshot.png" ] && head -c 4 "$B/report-screenshot.png" | grep -q PNG; then
    pass "screenshot $B/report-screenshot.png"
else fail "no screenshot"; tail -5 "$T_TMP/chrome-err"; fi
t_done
