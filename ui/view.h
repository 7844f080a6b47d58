/* view: the operations of one dashboard view (htop's PanelClass, tig's
 * view_ops).  The frame (ui/tui.c) knows views only through ui_views[],
 * built from the one list in ui/views.h; each view file exports its
 * `view_<prefix>_ops` and, when another view needs it, view_<prefix>_*
 * helpers.  Views keep their own state in t->vs[UV_<ID>] (allocated by
 * init).  Only init, draw and act are required; the rest may be NULL. */
#ifndef QLENS_UI_VIEW_H
#define QLENS_UI_VIEW_H

#include "ui/keys.h"

struct tui;
struct jobs_ctx;

struct view_ops {
    const char *name;     /* tab name ("Layers")                          */
    int min_w, min_h;     /* smallest body (columns, rows) it can draw    */
    /* Allocate the view's state; <0 on out of memory. */
    int (*init)(struct tui *t);
    void (*free)(struct tui *t);
    /* Draw into rows [y0, y0+h) of the screen. */
    void (*draw)(struct tui *t, int y0, int h);
    /* Handle action a; shown is 1 when this view is on screen, 0 when the
     * shown view and the frame passed on it (keys a view serves from
     * every view, such as starting its jobs).  Returns 1 when handled. */
    int (*act)(struct tui *t, enum ui_act a, int shown);
    /* Click on row `row` (column `col` of the screen) of the area the
     * view declared clickable when drawing (t->list_y0 / list_h). */
    void (*click)(struct tui *t, int row, int col, int dbl);
    /* The prompt this view opened (tui_prompt) was confirmed with s. */
    void (*prompt_done)(struct tui *t, enum ui_act a, const char *s);
    /* The job this view started (tui_start_job) ended with rc (<0: its
     * error is in t->job.err); called on the main thread.  The frame
     * frees j afterwards; the view frees what j owns. */
    void (*job_done)(struct tui *t, struct jobs_ctx *j, int rc);
    /* The current tensor (t->ti) changed. */
    void (*tensor_changed)(struct tui *t);
    /* Another view is shown instead: release what only the screen
     * needs (the pinned float copy of the tensor, ui/wpin.h). */
    void (*leave)(struct tui *t);
    /* Work left for the following frames while shown (maps and
     * histograms computed in steps): 1 asks for another frame soon. */
    int (*pending)(struct tui *t);
};

/* Every view, in tab order (ui/views.c). */
extern const struct view_ops *const ui_views[UV__COUNT];

#endif
