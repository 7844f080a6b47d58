/* view_layers: the table of every tensor (rows from ui/vm_layers.c), its
 * filter and jump prompts, and the calibration pass ('C') whose
 * activation statistics become columns of the table. */
#define _XOPEN_SOURCE_EXTENDED 1
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui/draw.h"
#include "ui/tui_int.h"

struct layers_state {
    int col0;             /* first column after the name (Left/Right)     */
    int more;             /* columns hidden: 1 to the right, 2 to the left */
};

static struct layers_state *st(struct tui *t) { return t->vs[UV_LAYERS]; }

/* The columns shown: the name, then from the first scrolled-to column
 * (Left/Right move it) as many as fit in width w; the name column grows
 * when there is room.  Returns the count written to cols[]. */
static int fit_cols(struct tui *t, int w, int *cols, int *name_w)
{
    const struct vm_layers *v = &t->lay;
    int all = vl_cols[VL_NAME].width + 1;
    for (int c = 1; c < vm_layers_ncols(v); c++)
        all += vl_cols[c].width + 1;
    if (all <= w) /* everything fits (say, after a resize): no scrolling */
        st(t)->col0 = 1;
    int col0 = st(t)->col0;
    int n = vm_layers_ncols(v), used = vl_cols[VL_NAME].width + 1, k = 1;
    *name_w = vl_cols[VL_NAME].width;
    cols[0] = VL_NAME;
    for (int c = col0 > 0 ? col0 : 1; c < n; c++) {
        if (used + vl_cols[c].width + 1 > w)
            break;
        used += vl_cols[c].width + 1;
        cols[k++] = c;
    }
    if (cols[k - 1] == n - 1 && w - used > 0)
        *name_w += (w - used) / 2 > 12 ? 12 : (w - used) / 2;
    return k;
}

static int col_w(int c, int name_w)
{
    return c == VL_NAME ? name_w : vl_cols[c].width;
}

static void draw_header(const struct vm_layers *v, int y, const int *cols, int ncols, int name_w,
                        int w)
{
    draw_fill(y, 0, w, A_BOLD | A_UNDERLINE);
    int x = 0;
    for (int i = 0; i < ncols; i++) {
        int k = cols[i], cw = col_w(k, name_w);
        char title[32];
        const char *arrow = k == v->sort_col ? (v->sort_desc ? "v" : "^") : "";
        snprintf(title, sizeof title, "%s%s", vl_cols[k].title, arrow);
        int len = (int)strlen(title);
        int off = vl_cols[k].right && len < cw ? cw - len : 0;
        draw_text(y, x + off, cw, title, A_BOLD | A_UNDERLINE);
        x += cw + 1;
    }
}

static void draw_row(const struct tui *t, int i, int y, const int *cols, int ncols, int name_w)
{
    const struct vm_layers *v = &t->lay;
    int g = vm_layers_line_group(v, i);
    int diff = g >= 0 ? v->groups[g].difficulty : v->rows[v->line[i]].difficulty;
    int sel = i == v->sel;
    int attr = sel ? draw_attr(DP_SEL) : draw_difficulty_attr(diff);
    if (g >= 0)
        attr |= A_BOLD;
    if (sel)
        draw_fill(y, 0, t->w, attr);
    /* The activation columns carry the activations' own difficulty (a
     * kurtosis of 79 is extreme whatever the weights are); on a header,
     * that of the group's largest activation kurtosis. */
    char ak[64], *end;
    vm_layers_cell(v, i, VL_A_KURT, ak, sizeof ak);
    double akv = strtod(ak, &end);
    int adiff = diff >= 0 && end != ak ? vm_layers_kurt_level(akv) : diff;
    int x = 0;
    for (int j = 0; j < ncols; j++) {
        int k = cols[j], cw = col_w(k, name_w), act = k >= VL_A_STD;
        char cell[64];
        vm_layers_cell(v, i, k, cell, sizeof cell);
        /* Without colour the level is a text mark on the kurtosis. */
        if (draw.theme == DT_MONO && (k == VL_KURT || k == VL_A_KURT) && cell[0]) {
            static const char *const mark[] = {"", "+", "!", "!!"};
            int d = k == VL_KURT ? diff : adiff;
            size_t l = strlen(cell);
            snprintf(cell + l, sizeof cell - l, "%s", d >= 0 && d <= 3 ? mark[d] : "");
        }
        int len = (int)strlen(cell);
        int off = vl_cols[k].right && len < cw ? cw - len : 0;
        int ca = act && !sel && adiff != diff ? draw_difficulty_attr(adiff) | (g >= 0 ? (int)A_BOLD : 0) : attr;
        draw_text(y, x + off, cw, cell, ca);
        x += cw + 1;
    }
}

static void draw_legend(struct tui *t, int y)
{
    int x = draw_text(y, 0, t->w, "kurtosis: ", A_NORMAL);
    int mono = draw.theme == DT_MONO; /* the marks on the kurtosis, then */
    x += draw_text(y, x, t->w - x, "<4 easy ", draw_difficulty_attr(0));
    x += draw_text(y, x, t->w - x, mono ? "4-10 moderate+ " : "4-10 moderate ", draw_difficulty_attr(1));
    x += draw_text(y, x, t->w - x, mono ? "10-50 hard! " : "10-50 hard ", draw_difficulty_attr(2));
    x += draw_text(y, x, t->w - x, mono ? ">=50 extreme!! " : ">=50 extreme ", draw_difficulty_attr(3));
    x += draw_text(y, x, t->w - x, "not quantized", draw_difficulty_attr(-1));
    char extra[64] = "";
    if (st(t)->more)
        snprintf(extra, sizeof extra, "  Left/Right: columns");
    else if (t->lay.grouped)
        snprintf(extra, sizeof extra, "  headers: max of group");
    else
        snprintf(extra, sizeof extra, "  flat, by %s", vl_cols[t->lay.sort_col].title);
    if (!t->lay.filter[0] && (int)strlen(extra) <= t->w - x) /* whole or not at all */
        draw_text(y, x, t->w - x, extra, A_NORMAL);
    if (t->lay.filter[0])
        draw_textf(y, x, t->w - x, A_BOLD, "  filter \"%s\": %d of %d", t->lay.filter,
                   t->lay.n_vis, t->lay.n_rows);
}

static void layers_draw(struct tui *t, int y0, int h)
{
    struct layers_state *ls = st(t);
    struct vm_layers *v = &t->lay;
    int cols[VL__NCOL], name_w, ncols = fit_cols(t, t->w, cols, &name_w);
    if (cols[ncols - 1] < vm_layers_ncols(v) - 1) /* room for the '>' mark */
        ncols = fit_cols(t, t->w - 2, cols, &name_w);
    ls->more = (cols[ncols - 1] < vm_layers_ncols(v) - 1) | (ncols > 1 && cols[1] > 1) << 1;
    draw_header(v, y0, cols, ncols, name_w, t->w);
    /* Arrows in the header say that Left/Right show more columns. */
    if (ls->more & 1)
        draw_text(y0, t->w - 2, 2, " >", A_BOLD | A_REVERSE);
    if (ls->more & 2)
        draw_text(y0, name_w - 1, 2, "< ", A_BOLD | A_REVERSE);
    int rows = h - 2;
    t->list_y0 = y0 + 1;
    t->list_h = rows;
    vm_layers_move(v, 0, rows); /* keep the selection visible after a resize */
    for (int k = 0; k < rows && v->top + k < v->n_lines; k++)
        draw_row(t, v->top + k, y0 + 1 + k, cols, ncols, name_w);
    if (v->n_vis == 0)
        draw_text(y0 + 1, 1, t->w - 1, "(no tensor matches the filter; f then Enter clears it)",
                  A_BOLD);
    draw_legend(t, y0 + h - 1);
}

static void fold(struct tui *t, int g)
{
    struct vm_layers *v = &t->lay;
    if (!v->grouped) {
        tui_msg(t, 0, "the list is flat while sorted by %s; s back to Tensor shows groups",
                vl_cols[v->sort_col].title);
        return;
    }
    if (g >= 0)
        vm_layers_toggle(v, g);
}

static void open_selected(struct tui *t)
{
    const struct vl_row *r = vm_layers_selected(&t->lay);
    if (!r) {
        fold(t, vm_layers_line_group(&t->lay, t->lay.sel));
        return;
    }
    tui_select_tensor(t, r->tensor);
    tui_show(t, UV_TENSOR);
}

/* Activation statistics of the 'C' pass go into the Layers rows: each
 * linear gets the statistics of its input site. */
static void acts_to_layers(struct tui *t)
{
    for (int i = 0; i < t->m.n_tensors; i++) {
        int k = jobs_acts_index(&t->acts, &t->m.tensors[i]);
        if (k >= 0)
            vm_layers_set_act(&t->lay, i, &t->acts.st[k]);
    }
}

static void calibrate(struct tui *t)
{
    if ((worker_busy(&t->job) && t->job.kind == JOB_CALIB) || jobq_has_kind(&t->jq, JOB_CALIB)) {
        tui_msg(t, 0, "a calibration pass is running or waiting already (J shows the jobs)");
        return;
    }
    struct jobs_ctx *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->kind = JOB_CALIB;
    j->data = &t->data;
    jobs_acts_free(&t->acts);
    j->acts = &t->acts;
    tui_start_job(t, j, UV_LAYERS, "calibration (activation statistics)");
}

static void layers_job_done(struct tui *t, struct jobs_ctx *j, int rc)
{
    (void)j;
    if (rc == 0) {
        t->acts.have = 1;
        acts_to_layers(t);
        tui_msg(t, 0, t->w < 120 ? "calibration done: activation columns in Layers (Right), w: map"
                                  : "calibration done: activation columns in Layers, w shows the map");
    } else {
        tui_msg(t, rc != QERR_CANCEL, "calibration: %s",
                rc == QERR_CANCEL ? "cancelled" : t->job.err.msg);
    }
}

static void layers_prompt_done(struct tui *t, enum ui_act a, const char *s)
{
    if (a == UA_FILTER) {
        vm_layers_filter(&t->lay, s);
        tui_msg(t, 0, s[0] ? "filter \"%s\": %d tensors" : "filter cleared%s: %d tensors",
                s, t->lay.n_vis);
    } else if (a == UA_SEARCH) {
        if (vm_layers_search(&t->lay, s)) {
            vm_layers_move(&t->lay, 0, t->list_h);
            tui_select_tensor(t, vm_layers_selected(&t->lay)->tensor);
        } else {
            tui_msg(t, 1, "no tensor name contains \"%s\"", s);
        }
    }
}

static int layers_act(struct tui *t, enum ui_act a, int shown)
{
    if (a == UA_CALIBRATE) {
        calibrate(t);
        return 1;
    }
    if (!shown)
        return 0;
    struct layers_state *ls = st(t);
    struct vm_layers *v = &t->lay;
    int page = t->list_h > 1 ? t->list_h : 10;
    int ncols = vm_layers_ncols(v);
    switch (a) {
    case UA_UP: vm_layers_move(v, -1, page); break;
    case UA_DOWN: vm_layers_move(v, 1, page); break;
    case UA_PGUP: vm_layers_move(v, -page, page); break;
    case UA_PGDN: vm_layers_move(v, page, page); break;
    case UA_HOME: vm_layers_move(v, -v->n_vis, page); break;
    case UA_END: vm_layers_move(v, v->n_vis, page); break;
    case UA_LEFT:
    case UA_RIGHT: {
        int c = ls->col0 > 0 ? ls->col0 : 1;
        if (a == UA_RIGHT && (ls->more & 1)) /* stop once the last column shows */
            c++;
        else if (a == UA_LEFT)
            c--;
        ls->col0 = c < 1 ? 1 : c >= ncols ? ncols - 1 : c;
        break;
    }
    case UA_OPEN:
        open_selected(t);
        if (t->view == UV_TENSOR)
            return 1;
        break;
    case UA_FOLD: {
        const struct vl_row *r = vm_layers_selected(v);
        fold(t, r ? r->gi : vm_layers_line_group(v, v->sel));
        break;
    }
    case UA_FOLD_ALL:
        if (!v->grouped)
            fold(t, -1);
        else
            tui_msg(t, 0, vm_layers_toggle_all(v) ? "all groups folded (Z unfolds)"
                                                  : "all groups unfolded");
        break;
    case UA_SORT_NEXT:
    case UA_SORT_PREV: {
        int c = (v->sort_col + (a == UA_SORT_NEXT ? 1 : ncols - 1)) % ncols;
        /* Numbers sort largest first: that is where the trouble is. */
        vm_layers_sort(v, c, c >= VL_STD);
        tui_msg(t, 0, "sorted by %s", vl_cols[c].title);
        break;
    }
    case UA_SORT_REV: vm_layers_sort(v, v->sort_col, !v->sort_desc); break;
    case UA_FILTER: tui_prompt(t, UV_LAYERS, a, "filter"); return 1;
    case UA_SEARCH: tui_prompt(t, UV_LAYERS, a, "jump to"); return 1;
    case UA_SEARCH_NEXT:
        if (!v->search[0])
            tui_msg(t, 1, "nothing to repeat yet: / jumps to a name");
        else if (!vm_layers_search(v, v->search))
            tui_msg(t, 1, "no tensor name contains \"%s\"", v->search);
        break;
    default: return 0;
    }
    vm_layers_move(v, 0, page);
    const struct vl_row *r = vm_layers_selected(v);
    if (r)
        tui_select_tensor(t, r->tensor);
    return 1;
}

static void layers_click(struct tui *t, int row, int col, int dbl)
{
    struct vm_layers *v = &t->lay;
    int i = v->top + row;
    if (i < 0 || i >= v->n_lines)
        return;
    int was = v->sel;
    vm_layers_move(v, i - v->sel, t->list_h);
    const struct vl_row *r = vm_layers_selected(v);
    if (r)
        tui_select_tensor(t, r->tensor);
    if (dbl || was == i) /* a second click on the selected row opens it */
        open_selected(t);
}

static int layers_init(struct tui *t)
{
    t->vs[UV_LAYERS] = calloc(1, sizeof(struct layers_state));
    return t->vs[UV_LAYERS] ? 0 : -1;
}

static void layers_free(struct tui *t)
{
    free(t->vs[UV_LAYERS]);
    t->vs[UV_LAYERS] = NULL;
}

const struct view_ops view_layers_ops = {
    .name = "Layers",
    .min_w = 40,
    .min_h = 4,
    .init = layers_init,
    .free = layers_free,
    .draw = layers_draw,
    .act = layers_act,
    .click = layers_click,
    .prompt_done = layers_prompt_done,
    .job_done = layers_job_done,
};
