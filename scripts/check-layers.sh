#!/bin/sh
# Layer rule (DESIGN.md): analysis/ includes nothing above it; quant/ only
# analysis/; src/ never curses; analysis/ and quant/ never print or exit.
bad=0
fail() { echo "check-layers: $*" >&2; bad=1; }
hits=$(grep -nE '#include *[<"](n?curses|ncursesw/)' analysis/*.[ch] quant/*.[ch] src/*.[ch] 2>/dev/null)
[ -n "$hits" ] && fail "curses below ui/:
$hits"
hits=$(grep -nE '#include *"(src|ui|quant)/' analysis/*.[ch] 2>/dev/null)
[ -n "$hits" ] && fail "analysis/ includes a higher layer:
$hits"
hits=$(grep -nE '#include *"(src|ui)/' quant/*.[ch] 2>/dev/null)
[ -n "$hits" ] && fail "quant/ includes a higher layer:
$hits"
hits=$(grep -nE '#include *"ui/' src/*.[ch] 2>/dev/null | grep -v '^src/main.c')
[ -n "$hits" ] && fail "src/ includes ui/ (only main.c may):
$hits"
hits=$(grep -nE '(^|[^_a-z])(exit|abort|printf|puts|perror)\s*\(|f?printf\s*\(\s*std(out|err)|fputs\s*\([^;]*std(out|err)' analysis/*.c quant/*.c 2>/dev/null | grep -v snprintf)
[ -n "$hits" ] && fail "analysis/ or quant/ prints or exits:
$hits"
[ $bad = 0 ] && echo "check-layers: ok"
exit $bad
