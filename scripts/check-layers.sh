#!/bin/sh
# Layer rule (ARCHITECTURE.md): analysis/ includes nothing above it; quant/ only
# analysis/; src/ never curses; analysis/ and quant/ never print or exit.
bad=0
fail() { echo "check-layers: $*" >&2; bad=1; }
hits=$(grep -nE '#include *[<"](n?curses|ncursesw/)' analysis/*.[ch] quant/*.[ch] src/*.[ch] cli/*.[ch] 2>/dev/null)
[ -n "$hits" ] && fail "curses below ui/:
$hits"
hits=$(grep -nE '#include *"(src|ui|quant)/' analysis/*.[ch] 2>/dev/null)
[ -n "$hits" ] && fail "analysis/ includes a higher layer:
$hits"
hits=$(grep -nE '#include *"(src|ui)/' quant/*.[ch] 2>/dev/null)
[ -n "$hits" ] && fail "quant/ includes a higher layer:
$hits"
hits=$(grep -nE '#include *"(ui|cli)/' src/*.[ch] 2>/dev/null | grep -v '^src/main.c')
[ -n "$hits" ] && fail "src/ includes ui/ or cli/ (only main.c may):
$hits"
hits=$(grep -nE '(^|[^_a-z])(exit|abort|printf|puts|perror)\s*\(|f?printf\s*\(\s*std(out|err)|fputs\s*\([^;]*std(out|err)' analysis/*.c quant/*.c 2>/dev/null | grep -v snprintf)
[ -n "$hits" ] && fail "analysis/ or quant/ prints or exits:
$hits"
# The two faces of the core never include each other: ui/ (dashboard) and
# the command files in cli/.
hits=$(grep -nE '#include *"(src/cli|cli/)' ui/*.[ch] 2>/dev/null)
[ -n "$hits" ] && fail "ui/ includes a command file (use src/pipeline.h, src/paths.h):
$hits"
if [ -d cli ]; then
    hits=$(grep -nE '#include *"ui/' cli/*.[ch] 2>/dev/null | grep -v '^cli/main.c')
    [ -n "$hits" ] && fail "cli/ includes ui/ (only main.c may):
$hits"
fi
# The dashboard's frame knows views only through the view table
# (ui/views.h, ui/view.h): no view id and no view function in ui/tui.c.
hits=$(grep -nE '\bUV_[A-Z]+\b|\bview_[a-z]+_' ui/tui.c 2>/dev/null | grep -vE '\bUV__COUNT\b' | grep -vE 'view_ops')
[ -n "$hits" ] && fail "ui/tui.c names a view (use ui_views[]):
$hits"
# View files export view_<prefix>_* only (everything else static).
for f in ui/view_*.c; do
    [ -f "$f" ] || continue
    p=$(basename "$f" .c)
    hits=$(grep -nE '^[a-z][a-z_ ]*[ *]([a-z_][a-z0-9_]*)\(' "$f" | grep -vE '^[0-9]+:static ' |
           grep -vE "[ *]${p}_[a-z0-9_]*\(")
    [ -n "$hits" ] && fail "$f exports a name without the ${p}_ prefix:
$hits"
done
[ $bad = 0 ] && echo "check-layers: ok"
exit $bad
