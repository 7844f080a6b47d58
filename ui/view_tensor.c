/* view_tensor: statistics, outlier map, histogram with the quantizer grid,
 * per-channel AbsMax profile, activation map (after calibration).
 * Numbers come from ui/vm_map.c, ui/vm_hist.c and the layer rows. */
#define _XOPEN_SOURCE_EXTENDED 1
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/mdiff.h"
#include "ui/draw.h"
#include "ui/tui_int.h"
#include "ui/view_quant.h"
#include "ui/view_tensor.h"
#include "ui/vm_hist.h"
#include "ui/vm_map.h"
#include "ui/wpin.h"

struct tensor_state {
    struct wpin w;        /* the current tensor's floats, pinned while
                             shown (map, histogram, profile, grid)       */
    struct vm_map map;
    struct vm_hist hist;
    const float *hist_x;  /* values the histogram was built from          */
    float *prof;          /* per-channel AbsMax (rows or cols), prof_n     */
    int64_t prof_n;
    int prof_mode;        /* 0 off, 1 rows (output channels), 2 columns    */
    int prof_ti, prof_for;
    double mark_k;        /* outlier mark at k*std                         */
    int act_map;          /* show the activation token x channel map       */
    int map_cols;         /* screen columns of the map (clicks)            */
    int err_map;          /* show |W - W_base| (qlens --base)              */
    float *err;           /* |W - W_base| of tensor err_ti, or NULL        */
    int err_ti;
};

static struct tensor_state *st(struct tui *t) { return t->vs[UV_TENSOR]; }

/* The current tensor's floats, pinned (NULL: cannot be converted). */
static const float *weights(struct tui *t)
{
    return wpin_get(&st(t)->w, &t->m.tensors[t->ti]);
}

/* Point mp at the activation (tokens, channels) matrix feeding the current
 * tensor; 0 when none was captured. */
static int act_matrix(struct tui *t, struct vm_map *mp)
{
    const struct jobs_acts *a = &t->acts;
    int k = t->ti >= 0 ? jobs_acts_index(a, &t->m.tensors[t->ti]) : -1;
    if (k < 0 || !a->x[k])
        return 0;
    if (mp->x != a->x[k]) {
        vm_map_set(mp, a->x[k], a->rows, a->dim[k]);
        mp->gw = 0;
    }
    return 1;
}

/* Point mp at |W - W_base| of the current tensor (computed once per
 * tensor); 0 when the base has no tensor of this name and shape. */
static int err_matrix(struct tui *t, struct vm_map *mp)
{
    struct tensor_state *ts = st(t);
    struct qtensor *qt = &t->m.tensors[t->ti];
    if (!t->base || t->ti < 0)
        return 0;
    if (!ts->err || ts->err_ti != t->ti) {
        struct qerr err;
        float *e = realloc(ts->err, (size_t)qt->nelem * sizeof *e);
        if (!e)
            return 0;
        ts->err = e;
        ts->err_ti = -1;
        if (mdiff_absdiff(t->base, t->ti, e, &err) < 0) {
            tui_msg(t, 1, "%s", err.msg);
            return 0;
        }
        ts->err_ti = t->ti;
    }
    if (mp->x != ts->err) {
        vm_map_set(mp, ts->err, qtensor_rows(qt), qtensor_cols(qt));
        mp->gw = 0;
    }
    return 1;
}

static double act_std(struct tui *t)
{
    int k = t->ti >= 0 ? jobs_acts_index(&t->acts, &t->m.tensors[t->ti]) : -1;
    return k >= 0 ? t->acts.st[k].std : 0;
}

/* The scale scope under the weight map's cursor (the whole tensor while
 * the map shows activations: their cursor is a token, not a weight). */
static void cursor_scope(struct tui *t, struct vq_scope *sc)
{
    struct tensor_state *ts = st(t);
    struct qtensor *qt = &t->m.tensors[t->ti];
    int64_t rows = qtensor_rows(qt), cols = qtensor_cols(qt);
    int w = !ts->act_map && ts->w.t == qt && ts->map.x && ts->map.x == ts->w.x;
    view_quant_scope(t, rows, cols, w ? ts->map.cur_r : 0, w ? ts->map.cur_c : 0, sc);
    if (!w)
        *sc = (struct vq_scope){VQS_TENSOR, 0, rows, 0, cols};
}

/* Short enough for 80 columns with a 128-wide group. */
static void grid_title(struct tui *t, char *buf, int cap)
{
    char d[160], where[96] = "(per-tensor scale)";
    view_quant_describe(t, d, sizeof d);
    if (t->ti >= 0) {
        struct vq_scope sc;
        cursor_scope(t, &sc);
        vm_quant_scope_text(&sc, where, sizeof where);
    }
    snprintf(buf, (size_t)cap, "log histogram; %.100s grid %s", d, where);
}

static void draw_stats(struct tui *t, int y, const struct qtensor *qt, const struct stats *s)
{
    char shape[64];
    size_t o = 0;
    for (int d = 0; d < qt->ndim; d++)
        o += (size_t)snprintf(shape + o, sizeof shape - o, d ? "x%lld" : "%lld",
                              (long long)qt->shape[d]);
    draw_textf(y, 0, t->w, A_BOLD, "%s  %s %s  n=%llu%s", qt->name, shape, qdtype_name(qt->dtype),
               (unsigned long long)s->n,
               s->n_nonfinite ? "  NON-FINITE VALUES PRESENT" : "");
    draw_textf(y + 1, 0, t->w, A_NORMAL,
               "mean %.4g  std %.4g  min %.4g  max %.4g  AbsMax %.4g  AbsMax/std %.3g",
               s->mean, s->std, s->min, s->max, s->absmax, s->absmax_over_std);
    char line[256];
    snprintf(line, sizeof line,
             "kurt %.4g (excess %.4g)  skew %.3g  >3sd %.3f%%  >6sd %.4f%%  |x|>%g %.4f%%", s->kurt,
             s->exkurt, s->skew, 100 * s->frac_k3, 100 * s->frac_k6, s->abs_thresh,
             100 * s->frac_abs);
    if ((int)strlen(line) > t->w) /* narrow: no excess kurtosis (it is kurt - 3) */
        snprintf(line, sizeof line, "kurt %.4g  skew %.3g  >3sd %.3f%%  >6sd %.4f%%  |x|>%g %.4f%%",
                 s->kurt, s->skew, 100 * s->frac_k3, 100 * s->frac_k6, s->abs_thresh,
                 100 * s->frac_abs);
    draw_text(y + 2, 0, t->w, line, A_NORMAL);
}

/* The header while the tensor's statistics are still being computed on
 * the loading thread (ui/statsload.h), or when they failed. */
static void draw_no_stats(struct tui *t, int y, const struct qtensor *qt, const struct vl_row *r)
{
    char shape[64];
    qtensor_shape_str(qt, "x", shape, sizeof shape);
    draw_textf(y, 0, t->w, A_BOLD, "%s  %s %s  n=%lld", qt->name, shape, qdtype_name(qt->dtype),
               (long long)qt->nelem);
    if (r && r->st_state == VL_ST_FAILED)
        draw_textf(y + 1, 0, t->w, draw_attr(DP_ERR) | A_BOLD, "statistics failed: %s", r->st_err);
    else
        draw_textf(y + 1, 0, t->w, A_BOLD, "statistics: computing (this tensor next; %d of %d "
                   "tensors done)", t->lay.n_stats, t->lay.n_rows);
}

/* Is grid cell i marked: a kept weight in marks, else above k*std? */
static int heat_mark(const struct vm_map *mp, const struct vm_map *marks, int i)
{
    if (marks)
        return marks->x && marks->cell && i < marks->gw * marks->gh && marks->cell[i] > 0;
    return mp->cell[i] > mp->mark;
}

void view_tensor_heatmap(struct vm_map *mp, struct vm_map *marks, int fresh, int y0, int x0,
                         int rows, int cols)
{
    int rpc = draw_heat_rows_per_char();
    /* The grid is the screen, or the matrix when it is smaller: then each
     * value fills several cells instead of leaving the screen black. */
    int gw = mp->cols > 0 && mp->cols < cols ? (int)mp->cols : cols;
    int gh = mp->rows > 0 && mp->rows < rows * rpc ? (int)mp->rows : rows * rpc;
    mp->budget = TUI_STEP_VALUES;
    if (mp->gw != gw || mp->gh != gh)
        vm_map_layout(mp, gw, gh);
    else if (fresh)
        vm_map_compute(mp);
    else
        vm_map_step(mp);
    if (marks && marks->x)
        vm_map_follow(marks, mp);
    int nl = draw.nlev, sh = rows * rpc;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            int j = (int)((long)c * gw / cols);
            if (rpc == 2) {
                int ia = (int)((long)(2 * r) * gh / sh), ib = (int)((long)(2 * r + 1) * gh / sh);
                int a = ia * mp->gw + j, b = ib * mp->gw + j;
                draw_heat2(y0 + r, x0 + c, vm_map_level(mp, mp->cell[a], nl), heat_mark(mp, marks, a),
                           vm_map_level(mp, mp->cell[b], nl), heat_mark(mp, marks, b),
                           vm_map_is_cursor(mp, ia, j) || vm_map_is_cursor(mp, ib, j));
            } else {
                int ia = (int)((long)r * gh / sh), a = ia * mp->gw + j;
                draw_heat1(y0 + r, x0 + c, vm_map_level(mp, mp->cell[a], nl), heat_mark(mp, marks, a),
                           vm_map_is_cursor(mp, ia, j));
            }
        }
}

/* The map: one or two heat cells per character; clicks move its cursor. */
static void draw_map(struct tui *t, int y0, int x0, int rows, int cols)
{
    view_tensor_heatmap(&st(t)->map, NULL, 0, y0, x0, rows, cols);
    t->list_y0 = y0;
    t->list_h = rows;
    st(t)->map_cols = cols;
}

/* The value under screen cell (row, col) of the map becomes the cursor. */
static void tensor_click(struct tui *t, int row, int col, int dbl)
{
    struct vm_map *mp = &st(t)->map;
    int rpc = draw_heat_rows_per_char(), cols = st(t)->map_cols;
    if (mp->gw < 1 || mp->gh < 1 || cols < 1 || t->list_h < 1)
        return;
    int i = (int)((long)row * rpc * mp->gh / (t->list_h * rpc));
    int j = (int)((long)col * mp->gw / cols);
    mp->cur_r = mp->r0 + (int64_t)i * mp->bh;
    mp->cur_c = mp->c0 + (int64_t)j * mp->bw;
    vm_map_move(mp, 0, 0);
    if (dbl) /* a double click zooms in there */
        vm_map_zoom(mp, 1);
}

static void draw_map_info(struct tui *t, int y, const char *what)
{
    struct vm_map *mp = &st(t)->map;
    char cur[160], line[400];
    vm_map_cursor_text(mp, cur, sizeof cur);
    snprintf(line, sizeof line,
             "%s %lldx%lld, %lldx%lld per cell, log colour %.3g..%.3g, %s > %g*std = %.3g | %s",
             what, (long long)mp->rows, (long long)mp->cols, (long long)mp->bh, (long long)mp->bw,
             mp->lo, mp->hi, draw.theme == DT_MONO ? "X" : "red", st(t)->mark_k, mp->mark, cur);
    if ((int)strlen(line) > t->w) /* narrow: the cursor (what moves) first */
        snprintf(line, sizeof line, "%s | %s %lldx%lld, %lldx%lld/cell, %s > %g*std", cur, what,
                 (long long)mp->rows, (long long)mp->cols, (long long)mp->bh, (long long)mp->bw,
                 draw.theme == DT_MONO ? "X" : "red", st(t)->mark_k);
    draw_text(y, 0, t->w, line, A_NORMAL);
}

/* The histogram of the n values x (the weights, or the activations the
 * map shows), whose statistics are s. */
static void ensure_hist(struct tui *t, const float *x, size_t n, const struct stats *s, int nbins)
{
    struct tensor_state *ts = st(t);
    if (!x)
        return;
    double a = s->absmax > 0 ? s->absmax : 1;
    if (ts->hist.nbins != nbins || ts->hist.lo != -a || ts->hist.hi != a || ts->hist_x != x) {
        vm_hist_begin(&ts->hist, x, n, -a, a, nbins);
        ts->hist_x = x;
    }
    vm_hist_step(&ts->hist, TUI_STEP_VALUES);
    /* The current quantizer's grid of the scale under the map's cursor. */
    struct vq_scope sc;
    cursor_scope(t, &sc);
    float lev[512];
    int nl = ts->act_map ? 0 : view_quant_grid(t, ts->w.x, &sc, s, lev, 512); /* a weight grid */
    vm_hist_set_grid(&ts->hist, lev, nl);
}

/* Bars of h rows (eighths), grid points as marks on the axis row. */
void view_tensor_draw_hist(struct tui *t, const struct vm_hist *hs, int y0, int h, int w,
                    const char *title)
{
    draw_textf(y0, 0, w, A_BOLD, "%s", title);
    int maxh8 = (h - 2) * 8, ybot = y0 + h - 2;
    for (int b = 0; b < hs->nbins && b < w; b++) {
        int hh = vm_hist_height(hs, b, maxh8);
        draw_vbar(ybot, b, hh, draw_attr(hs->grid[b] ? DP_GRID : DP_PLOT));
        if (hs->grid[b])
            draw_text(ybot + 1, b, 1, draw.utf8 ? "\u2534" : "|", draw_attr(DP_GRID));
    }
    char lo[32], hi[32];
    snprintf(lo, sizeof lo, "%.3g", hs->lo);
    snprintf(hi, sizeof hi, "%.3g", hs->hi);
    draw_text(ybot + 1, 0, w, lo, A_DIM);
    draw_text(ybot + 1, w - (int)strlen(hi), (int)strlen(hi), hi, A_DIM);
}

static void ensure_profile(struct tui *t, struct qtensor *qt)
{
    struct tensor_state *ts = st(t);
    if (ts->prof && ts->prof_ti == t->ti && ts->prof_for == ts->prof_mode)
        return;
    const float *x = weights(t);
    int64_t rows = qtensor_rows(qt), cols = qtensor_cols(qt);
    int64_t n = ts->prof_mode == 1 ? rows : cols;
    float *p = realloc(ts->prof, (size_t)(n > 0 ? n : 1) * sizeof *p);
    if (!p || !x)
        return;
    ts->prof = p;
    ts->prof_n = n;
    if (ts->prof_mode == 1)
        vm_absmax_rows(x, rows, cols, p);
    else
        vm_absmax_cols(x, rows, cols, p);
    ts->prof_ti = t->ti;
    ts->prof_for = ts->prof_mode;
}

/* "#12 4.33, #40 3.9, #7 3.1": the three channels with the largest
 * AbsMax (where the outlier features are). */
static void top_channels(const float *p, int64_t n, char *buf, int cap)
{
    int64_t best[3] = {-1, -1, -1};
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++)
            if (best[k] < 0 || p[i] > p[best[k]]) {
                for (int j = 2; j > k; j--)
                    best[j] = best[j - 1];
                best[k] = i;
                break;
            }
    int o = 0;
    buf[0] = '\0';
    for (int k = 0; k < 3 && best[k] >= 0 && o < cap; k++)
        o += snprintf(buf + o, (size_t)(cap - o), "%s#%lld %.4g", k ? ", " : "", (long long)best[k],
                      p[best[k]]);
}

/* AbsMax per channel, max-pooled to the width (peaks survive). */
static void draw_profile(struct tui *t, struct qtensor *qt, int y0, int h, int w)
{
    struct tensor_state *ts = st(t);
    ensure_profile(t, qt);
    if (!ts->prof || w < 1)
        return;
    float pool[1024];
    int m = w < 1024 ? w : 1024;
    if (ts->prof_n < m)
        m = (int)ts->prof_n;
    vm_maxpool(ts->prof, ts->prof_n, pool, m);
    float mx = 0;
    for (int i = 0; i < m; i++)
        mx = pool[i] > mx ? pool[i] : mx;
    char top[96];
    top_channels(ts->prof, ts->prof_n, top, sizeof top);
    draw_textf(y0, 0, w, A_BOLD, "AbsMax per %s (%lld, max-pooled to %d columns); largest: %s",
               ts->prof_mode == 1 ? "row" : "column", (long long)ts->prof_n, m, top);
    int maxh8 = (h - 1) * 8;
    const struct vl_row *r = vm_layers_row(&t->lay, t->ti);
    double std = r ? r->st.std : 0;
    for (int i = 0; i < m; i++) {
        int hh = mx > 0 ? (int)lround(pool[i] / mx * maxh8) : 0;
        int hot = pool[i] > ts->mark_k * std;
        draw_vbar(y0 + h - 1, i, hh, draw_attr(hot ? DP_MARK : DP_PLOT));
    }
}

static void tensor_draw(struct tui *t, int y0, int h)
{
    struct tensor_state *ts = st(t);
    if (t->ti < 0) {
        draw_text(y0, 0, t->w, "no tensor selected", A_BOLD);
        return;
    }
    struct qtensor *qt = &t->m.tensors[t->ti];
    const struct vl_row *r = vm_layers_row(&t->lay, t->ti);
    int hist_h = h >= 24 ? 9 : h >= 16 ? 6 : 4;
    int map_rows = h - 3 - 1 - hist_h;
    const char *what = "weights";
    /* With the activation map everything above and below it describes
     * the activations: statistics, histogram, outlier mark. */
    int act = ts->act_map && act_matrix(t, &ts->map);
    const struct stats *s = &r->st;
    if (act) {
        what = "activations (token x channel)";
        s = &t->acts.st[jobs_acts_index(&t->acts, qt)];
    } else if (ts->err_map && err_matrix(t, &ts->map)) {
        what = "|W - W_base|";
    } else if (ts->map.x != weights(t) || !ts->map.x) {
        /* pinned anew after a leave: the same pointer is the same copy */
        vm_map_set(&ts->map, weights(t), qtensor_rows(qt), qtensor_cols(qt));
        ts->map.gw = 0;
    }
    int have = act || (r && r->st_state == VL_ST_OK);
    if (have)
        draw_stats(t, y0, qt, s);
    else /* computed in the background (or failed): say so, never zeros */
        draw_no_stats(t, y0, qt, r);
    if (act)
        draw_textf(y0, 0, t->w, A_BOLD, "activations into %s: %lldx%lld (tokens x channels); "
                   "statistics over every calibration token%s", qt->name, (long long)ts->map.rows,
                   (long long)ts->map.cols, s->n_nonfinite ? "  NON-FINITE VALUES PRESENT" : "");
    ts->map.mark = have ? ts->mark_k * (act ? act_std(t) : r->st.std) : HUGE_VAL;
    if (ts->err_map && ts->map.x == ts->err)
        ts->map.mark = HUGE_VAL; /* no outlier mark on an error map */
    if (map_rows >= 1 && !ts->map.x) /* the float copy could not be made */
        draw_textf(y0 + 3, 0, t->w, draw_attr(DP_ERR) | A_BOLD,
                   "cannot convert %s (%s, %lld values) to float: out of memory or no decoder; "
                   "no map or histogram", qt->name, qdtype_name(qt->dtype), (long long)qt->nelem);
    else if (map_rows >= 1) {
        draw_map(t, y0 + 3, 0, map_rows, t->w);
        draw_map_info(t, y0 + 3 + map_rows, what);
    }
    int yh = y0 + h - hist_h;
    if (!have) {
        draw_text(yh, 0, t->w, "histogram: once the statistics are in", A_DIM);
    } else if (ts->prof_mode) {
        draw_profile(t, qt, yh, hist_h, t->w);
    } else {
        if (act)
            ensure_hist(t, ts->map.x, (size_t)(ts->map.rows * ts->map.cols), s, t->w);
        else
            ensure_hist(t, weights(t), (size_t)qt->nelem, s, t->w);
        char title[160];
        grid_title(t, title, sizeof title);
        if (act)
            snprintf(title, sizeof title, "log histogram of the activations shown");
        if (vm_hist_pending(&ts->hist)) {
            size_t l = strlen(title);
            snprintf(title + l, sizeof title - l, "  (binning %d%%)",
                     (int)(100.0 * ts->hist.done / (ts->hist.n ? ts->hist.n : 1)));
        }
        view_tensor_draw_hist(t, &ts->hist, yh, hist_h, t->w, title);
    }
}

static int tensor_act(struct tui *t, enum ui_act a, int shown)
{
    if (!shown)
        return 0;
    struct tensor_state *ts = st(t);
    struct vm_map *mp = &ts->map;
    int page = mp->gh > 2 ? mp->gh / 2 : 1;
    switch (a) {
    case UA_UP: vm_map_move(mp, -1, 0); return 1;
    case UA_DOWN: vm_map_move(mp, 1, 0); return 1;
    case UA_LEFT: vm_map_move(mp, 0, -1); return 1;
    case UA_RIGHT: vm_map_move(mp, 0, 1); return 1;
    case UA_PGUP: vm_map_move(mp, -page, 0); return 1;
    case UA_PGDN: vm_map_move(mp, page, 0); return 1;
    case UA_HOME: mp->cur_r = mp->cur_c = 0; vm_map_move(mp, 0, 0); return 1;
    case UA_END: mp->cur_r = mp->rows; mp->cur_c = mp->cols; vm_map_move(mp, 0, 0); return 1;
    case UA_ZOOM_IN: vm_map_zoom(mp, 1); return 1;
    case UA_ZOOM_OUT: vm_map_zoom(mp, -1); return 1;
    case UA_MARK_K_UP: ts->mark_k += 1; return 1;
    case UA_MARK_K_DOWN: if (ts->mark_k > 1) ts->mark_k -= 1; return 1;
    case UA_PROFILE: ts->prof_mode = (ts->prof_mode + 1) % 3; return 1;
    case UA_BACK: tui_show(t, UV_LAYERS); return 1;
    case UA_ACT_MAP: /* weights -> |W - W_base| (with --base) -> activations */
        ts->map.gw = 0;
        if (!ts->act_map && !ts->err_map && t->base) {
            ts->err_map = 1;
            if (!err_matrix(t, mp))
                ts->err_map = 0;
            return 1;
        }
        ts->err_map = 0;
        ts->act_map = !ts->act_map;
        if (ts->act_map && !act_matrix(t, mp)) {
            ts->act_map = 0;
            tui_msg(t, 1, "no activations for this tensor yet: C runs a calibration pass");
        }
        return 1;
    default: return 0; /* quantizer keys: the Quant view */
    }
}

/* The draw pins the new tensor when shown: moving through the list of a
 * 7B model costs no float copy per row, and the old tensor's copy is
 * released (the budget may free it).  Nothing may read the old floats:
 * the map and histogram forget them. */
static void tensor_changed(struct tui *t)
{
    struct tensor_state *ts = st(t);
    wpin_drop(&ts->w);
    vm_map_set(&ts->map, NULL, 0, 0);
    ts->map.gw = 0; /* force a layout on the next draw */
    ts->hist.x = NULL;
    ts->hist.n = ts->hist.done = 0;
    ts->hist_x = NULL;
}

/* Leaving: the pin goes, the map and histogram stay; shown again, the
 * draw pins the tensor anew and keeps them when the copy is the same
 * (still cached), else recomputes them (pointer compare).  Their
 * pending steps run only while shown, so the old pointer is never read. */
static void tensor_leave(struct tui *t)
{
    wpin_drop(&st(t)->w);
}

static int tensor_pending(struct tui *t)
{
    return vm_map_pending(&st(t)->map) || vm_hist_pending(&st(t)->hist);
}

static int tensor_init(struct tui *t)
{
    struct tensor_state *ts = calloc(1, sizeof *ts);
    if (!ts)
        return -1;
    ts->prof_ti = -1;
    ts->mark_k = 6;
    vm_map_init(&ts->map);
    vm_hist_init(&ts->hist);
    t->vs[UV_TENSOR] = ts;
    return 0;
}

static void tensor_free(struct tui *t)
{
    struct tensor_state *ts = st(t);
    if (!ts)
        return;
    wpin_drop(&ts->w);
    vm_map_free(&ts->map);
    free(ts->err);
    vm_hist_free(&ts->hist);
    free(ts->prof);
    free(ts);
    t->vs[UV_TENSOR] = NULL;
}

const struct view_ops view_tensor_ops = {
    .name = "Tensor",
    .min_w = 50,
    .min_h = 8,
    .init = tensor_init,
    .free = tensor_free,
    .draw = tensor_draw,
    .act = tensor_act,
    .click = tensor_click,
    .tensor_changed = tensor_changed,
    .leave = tensor_leave,
    .pending = tensor_pending,
};
