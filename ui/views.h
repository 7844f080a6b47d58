/* views: THE list of the dashboard's views, in tab order (tig's VIEW_INFO).
 *
 * One line per view: X(ID, prefix).  The line gives the view its id
 * (UV_ID, ui/keys.h) and names the operations the view file exports as
 * `const struct view_ops view_<prefix>_ops` (ui/view.h; the tab name is
 * in the ops).  Adding a view: write ui/view_<prefix>.c with its ops,
 * add its line here, and give its keys rows in ui/keys.c.
 * No curses here: ui/keys.c (tested without a terminal) includes it. */
#ifndef QLENS_UI_VIEWS_H
#define QLENS_UI_VIEWS_H

#define UI_VIEWS(X)   \
    X(LAYERS, layers) \
    X(TENSOR, tensor) \
    X(QUANT, quant)   \
    X(RUNS, runs)     \
    X(CORR, corr)     \
    X(IMATRIX, imatrix) \
    X(PLAN, plan)

#endif
