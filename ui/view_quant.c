/* view_quant: live quantization of the current tensor: settings by single
 * keys, error report, |W - Ŵ| heatmap, histogram of Ŵ with the grid.
 * RTN-class methods on tensors up to SYNC_MAX values run inside the key
 * handler (one frame); the rest run on the worker with progress. */
#define _XOPEN_SOURCE_EXTENDED 1
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui/draw.h"
#include "ui/tui_int.h"
#include "ui/view_quant.h"
#include "ui/view_tensor.h"
#include "ui/vm_hist.h"
#include "ui/vm_map.h"
#include "ui/wpin.h"

#define SYNC_MAX (4 << 20)

struct tui_quant {
    struct wpin w;                /* the current tensor's floats, pinned
                                     while shown (live apply, W map, grid) */
    struct vm_quant cur;          /* settings + the result shown         */
    int stale;                    /* settings or tensor changed           */
    int preparing;                /* result buffers being made ready in
                                     slices before a live apply          */
    int pin_prep;                 /* B's buffers being made ready (idle)  */
    int applied;                  /* this frame quantized (sync apply)    */
    struct jobs_site_calib site;  /* calibration of the current site      */
    struct vm_map emap;           /* |W - Ŵ| heatmap                      */
    struct vm_map kmap;           /* weights kept in float, same grid     */
    struct vm_hist qhist;         /* histogram of Ŵ                       */
    int qhist_for;                /* result generation the hist shows     */
    int gen;                      /* bumps with every new result          */
    int emap_gen;                 /* result generation the error map shows */
    /* A/B (v, p): W, Wq of the current run (A) and of a pinned run (B)
     * side by side, their errors under them, all on one colour scale */
    int ab;                       /* 1: the A/B maps instead of |W - Wq|  */
    struct vm_quant pin;          /* the pinned run B (its own copy)      */
    int pin_gen;                  /* bumps when B changes                 */
    int ab_drawn;                 /* gen + pin_gen the followers show     */
    struct vm_map wmap, amap, bmap, berr, bkmap; /* follow emap's view   */
};

static struct tui_quant *st(struct tui *t) { return t->vs[UV_QUANT]; }

/* The error map points into q->cur.err: forget it whenever the result's
 * buffers may have been freed or replaced. */
static void emap_reset(struct tui_quant *q)
{
    vm_map_set(&q->emap, NULL, 0, 0);
    q->emap.gw = 0;
    vm_map_set(&q->kmap, NULL, 0, 0);
    q->kmap.gw = 0;
    q->qhist.x = NULL; /* the histogram of Wq reads q->cur.wq in steps */
    q->qhist.n = q->qhist.done = 0;
    q->gen++;
}

static int is_linear_like(const struct qtensor *qt)
{
    return qt->ndim == 2 && (qrole_is_linear(qt->role) || qt->role == QR_TOK_EMBD);
}

/* Start (or run at once) the quantization of the current tensor. */
static void quant_refresh(struct tui *t)
{
    struct tui_quant *q = st(t);
    if (!q->stale || t->ti < 0)
        return;
    struct qtensor *qt = &t->m.tensors[t->ti];
    q->preparing = 0; /* set again below while the live path prepares */
    if (!is_linear_like(qt)) {
        q->stale = 0;
        vm_quant_clear(&q->cur);
        emap_reset(q);
        snprintf(q->cur.msg, sizeof q->cur.msg, "%s is not a weight matrix; quantizers leave it in float",
                 qt->name);
        q->cur.rc = QERR_ARG;
        return;
    }
    if (!vm_quant_needs_calib(&q->cur) && qt->nelem <= SYNC_MAX) {
        /* fresh memory is written in slices over frames first; the
         * apply runs on the frame after the last slice */
        q->preparing = !vm_quant_ready(&q->cur, qt->nelem);
        if (q->preparing) {
            if (vm_quant_prepare(&q->cur, qt->nelem, TUI_TOUCH_MS) < 0) {
                q->preparing = q->stale = 0;
                vm_quant_clear(&q->cur);
                q->cur.rc = QERR_NOMEM;
                snprintf(q->cur.msg, sizeof q->cur.msg, "out of memory for the result of %s",
                         qt->name);
            }
            return; /* still stale: the next frame continues */
        }
        vm_quant_apply(&q->cur, t->ti, wpin_get(&q->w, qt), qtensor_rows(qt), qtensor_cols(qt),
                       NULL, NULL);
        q->applied = 1;
        q->stale = 0;
        emap_reset(q);
        return;
    }
    if (worker_busy(&t->job))
        return; /* retried when the running job ends */
    struct jobs_ctx *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->kind = JOB_QUANT;
    j->quiet = 1; /* follows a key or a finished job: keep its message */
    j->data = &t->data;
    j->ti = t->ti;
    j->site = &q->site;
    vm_quant_init(&j->q);
    j->q.method = q->cur.method;
    j->q.bits = q->cur.bits;
    j->q.group = q->cur.group;
    j->q.sym = q->cur.sym;
    j->q.opt_step = q->cur.opt_step;
    char label[96];
    vm_quant_describe(&q->cur, label, sizeof label);
    q->stale = 0;
    tui_start_job(t, j, UV_QUANT, label);
}

static void quant_job_done(struct tui *t, struct jobs_ctx *j, int rc)
{
    struct tui_quant *q = st(t);
    char now[160], then[160];
    vm_quant_describe(&q->cur, now, sizeof now);
    vm_quant_describe(&j->q, then, sizeof then);
    if (strcmp(now, then) || j->ti != t->ti) {
        /* Settings or tensor changed while it ran (another result may be
         * on screen already): drop it and run the current ones. */
        vm_quant_free(&j->q);
        q->stale = 1;
        return;
    }
    if (rc == 0 || j->q.rc < 0) {
        vm_quant_take_result(&q->cur, &j->q);
        emap_reset(q);
    }
    if (rc < 0) {
        q->cur.rc = rc;
        snprintf(q->cur.msg, sizeof q->cur.msg, "%s", t->job.err.msg);
    }
    vm_quant_free(&j->q);
}

static void draw_report(struct tui *t, int y, const struct vm_quant *vq)
{
    const struct quant_report *r = &vq->rep;
    char oe[32];
    if (r->out_err >= 0)
        snprintf(oe, sizeof oe, "%.4g", r->out_err);
    else
        snprintf(oe, sizeof oe, "n/a");
    /* Two layouts: the long one reads better, the short one keeps every
     * number whole at 80 columns (a cut "bits/weight 4.3" reads as 4). */
    char a[256], b[256];
    snprintf(a, sizeof a, "MSE %.4g  SQNR %.2f dB  max err %.4g  rel |dW|_F %.4g  bits/weight %.3f",
             r->mse, r->sqnr_db, r->max_abs_err, r->rel_fro, r->bits_per_weight);
    if ((int)strlen(a) > t->w)
        snprintf(a, sizeof a, "SQNR %.2f dB  b/w %.3f  MSE %.3g  max err %.3g  rel|dW| %.3g",
                 r->sqnr_db, r->bits_per_weight, r->mse, r->max_abs_err, r->rel_fro);
    snprintf(b, sizeof b,
             "outliers kept %ld (%.3f%%)  float input features %d  output err %s  %.1f ms  [%.60s]",
             r->n_outliers, 100 * r->outlier_frac, r->n_outlier_features, oe, vq->ms, vq->desc);
    if ((int)strlen(b) > t->w)
        snprintf(b, sizeof b, "output err %s  outliers kept %ld (%.3f%%)  float in-features %d  %.1f ms",
                 oe, r->n_outliers, 100 * r->outlier_frac, r->n_outlier_features, vq->ms);
    draw_text(y, 0, t->w, a, A_NORMAL);
    draw_text(y + 1, 0, t->w, b, A_NORMAL);
}

/* One colour scale for every run of a tensor, so runs compare by colour:
 * log |W - Ŵ| from AbsMax(W) / 4096 (below a 12-bit step) to AbsMax(W)
 * (an error as large as the largest weight). */
static void emap_scale(struct tui *t, struct vm_map *mp)
{
    const struct vl_row *r = vm_layers_row(&t->lay, t->ti);
    double a = r && r->st_state == VL_ST_OK && r->st.absmax > 0 && isfinite(r->st.absmax)
                   ? r->st.absmax : 0;
    mp->fix_hi = (float)a;
    mp->fix_lo = (float)(a / 4096);
}

/* Legend: the colour ramp, the fixed scale, the kept-weight mark. */
static int draw_emap_legend(struct tui *t, int y, const struct vm_map *mp)
{
    struct tui_quant *q = st(t);
    int x = 0, nl = draw.nlev;
    for (int l = 0; l < nl && x < t->w; l++)
        draw_heat1(y, x++, l, 0, 0);
    float lo, hi;
    vm_map_scale(mp, &lo, &hi);
    char kept[64] = "";
    if (q->cur.kept)
        snprintf(kept, sizeof kept, "; %s = kept in float (%ld)",
                 draw.theme == DT_MONO ? "X" : "red", q->cur.rep.n_outliers);
    return x + draw_textf(y, x, t->w - x, A_NORMAL, " %.2g..%.3g log |W-Wq|, one scale per tensor%s",
                          lo, hi, kept);
}

static void draw_emap(struct tui *t, int y0, int rows)
{
    struct tui_quant *q = st(t);
    struct vm_map *mp = &q->emap;
    if (mp->x != q->cur.err) {
        vm_map_set(mp, q->cur.err, q->cur.rows, q->cur.cols);
        mp->gw = 0;
    }
    mp->mark = INFINITY; /* colour is the error; marks are kept weights */
    emap_scale(t, mp);
    if (q->cur.kept && q->kmap.x != q->cur.kept) {
        vm_map_set(&q->kmap, q->cur.kept, q->cur.rows, q->cur.cols);
        q->kmap.gw = 0;
    }
    /* a new result in the same buffer is computed afresh */
    view_tensor_heatmap(mp, q->cur.kept ? &q->kmap : NULL, q->emap_gen != q->gen, y0, 0, rows,
                        t->w);
    q->emap_gen = q->gen;
    char cur[160];
    vm_map_cursor_text(mp, cur, sizeof cur);
    int x = draw_emap_legend(t, y0 + rows, mp);
    if (x + 3 + (int)strlen(cur) <= t->w) /* the cursor whole or on the map's title */
        draw_textf(y0 + rows, x, t->w - x, A_NORMAL, " | %s", cur);
}

/* Point follower f at x (same shape as the master m) and give it m's
 * grid, viewport, cursor and fixed colour scale; force recomputes (new
 * data in the same buffer). */
static void ab_follow(struct vm_map *f, const float *x, const struct vm_map *m, int force)
{
    if (f->x != x || force) {
        vm_map_set(f, x, m->rows, m->cols);
        f->gw = 0;
    }
    f->mark = INFINITY; /* only kept weights are marked */
    f->fix_lo = m->fix_lo;
    f->fix_hi = m->fix_hi;
    vm_map_follow(f, m);
    f->cur_r = m->cur_r;
    f->cur_c = m->cur_c;
}

static int pin_shown(struct tui *t)
{
    struct tui_quant *q = st(t);
    return q->pin.wq && q->pin.ti == t->ti && q->pin.rows == q->cur.rows &&
           q->pin.cols == q->cur.cols;
}

/* A against B, one number per line, in the first panel of the error row
 * (value columns narrow to fit 80 columns). */
static void draw_ab_table(struct tui *t, int y, int x, int w, int h)
{
    struct tui_quant *q = st(t);
    const struct quant_report *a = &q->cur.rep, *b = &q->pin.rep;
    int pb = pin_shown(t), vw = (w - 8) / 2 - 1;
    vw = vw < 6 ? 6 : vw > 11 ? 11 : vw;
    draw_textf(y, x, w, A_BOLD, "%-7s %*s %*s", "", vw, "A", vw, pb ? "B" : "B: none");
    const char *names[] = {"bits/w", "SQNR dB", "max err", "MSE", "rel|dW|", "kept"};
    double va[] = {a->bits_per_weight, a->sqnr_db, a->max_abs_err, a->mse, a->rel_fro,
                   (double)a->n_outliers};
    double vb[] = {b->bits_per_weight, b->sqnr_db, b->max_abs_err, b->mse, b->rel_fro,
                   (double)b->n_outliers};
    for (int i = 0; i < 6 && i + 1 < h; i++) {
        char sa[32], sb[32] = "";
        int dg = vw < 9 ? 3 : 4; /* "0.0008781" needs 9 columns */
        snprintf(sa, sizeof sa, "%.*g", dg, va[i]);
        if (pb)
            snprintf(sb, sizeof sb, "%.*g", dg, vb[i]);
        draw_textf(y + 1 + i, x, w, A_NORMAL, "%-7s %*s %*s", names[i], vw, sa, vw, sb);
    }
}

/* One scale for all of them: log |x| from AbsMax(W)/4096 to AbsMax(W)
 * (emap_scale) colours W, Wq(A), Wq(B) and both errors. */
static void draw_ab_legend(struct tui *t, int y)
{
    struct tui_quant *q = st(t);
    int x = 0;
    for (int l = 0; l < draw.nlev && x < t->w; l++)
        draw_heat1(y, x++, l, 0, 0);
    float lo, hi;
    vm_map_scale(&q->emap, &lo, &hi);
    char kept[96] = "";
    if (q->cur.kept || (pin_shown(t) && q->pin.kept))
        snprintf(kept, sizeof kept, "; %s = kept in float (A %ld, B %ld)",
                 draw.theme == DT_MONO ? "X" : "red", q->cur.rep.n_outliers,
                 pin_shown(t) ? q->pin.rep.n_outliers : 0L);
    char cur[160];
    vm_map_cursor_text(&q->emap, cur, sizeof cur);
    draw_textf(y, x, t->w - x, A_NORMAL, " %.2g..%.3g log |x|, one scale for W, Wq and |W-Wq|%s | %s",
               lo, hi, kept, cur);
}

/* A/B: row 1 W | Wq A | Wq B, row 2 the comparison | |W-Wq| A | |W-Wq| B;
 * the A error map is the master (keys move it), the others follow. */
static void draw_ab(struct tui *t, int y0, int rows)
{
    struct tui_quant *q = st(t);
    struct qtensor *qt = &t->m.tensors[t->ti];
    int pw = (t->w - 2) / 3, mr = (rows - 3) / 2, pb = pin_shown(t);
    int xa = pw + 1, xb = 2 * pw + 2;
    if (mr < 1 || pw < 8)
        return;
    struct vm_map *mp = &q->emap;
    if (mp->x != q->cur.err) {
        vm_map_set(mp, q->cur.err, q->cur.rows, q->cur.cols);
        mp->gw = 0;
    }
    mp->mark = INFINITY;
    emap_scale(t, mp);
    if (q->cur.kept && q->kmap.x != q->cur.kept) {
        vm_map_set(&q->kmap, q->cur.kept, q->cur.rows, q->cur.cols);
        q->kmap.gw = 0;
    }
    int ye = y0 + 2 + mr;
    view_tensor_heatmap(mp, q->cur.kept ? &q->kmap : NULL, q->emap_gen != q->gen, ye, xa, mr, pw);
    int force = q->ab_drawn != q->gen + 1000 * q->pin_gen;
    q->emap_gen = q->gen;
    q->ab_drawn = q->gen + 1000 * q->pin_gen;
    char d[200];
    draw_text(y0, 0, pw, "W (float)", A_BOLD);
    ab_follow(&q->wmap, wpin_get(&q->w, qt), mp, force);
    view_tensor_heatmap(&q->wmap, NULL, 0, y0 + 1, 0, mr, pw);
    snprintf(d, sizeof d, "A: %.2f b/w %s", q->cur.rep.bits_per_weight, q->cur.desc);
    draw_text(y0, xa, pw, d, A_BOLD);
    ab_follow(&q->amap, q->cur.wq, mp, force);
    view_tensor_heatmap(&q->amap, q->cur.kept ? &q->kmap : NULL, 0, y0 + 1, xa, mr, pw);
    draw_textf(ye - 1, xa, pw, A_BOLD, "|W - Wq| A: max %.3g", q->cur.rep.max_abs_err);
    draw_ab_table(t, ye - 1, 0, pw, mr + 1);
    if (pb) {
        snprintf(d, sizeof d, "B: %.2f b/w %s", q->pin.rep.bits_per_weight, q->pin.desc);
        draw_text(y0, xb, t->w - xb, d, A_BOLD);
        if (q->pin.kept)
            ab_follow(&q->bkmap, q->pin.kept, mp, force);
        ab_follow(&q->bmap, q->pin.wq, mp, force);
        view_tensor_heatmap(&q->bmap, q->pin.kept ? &q->bkmap : NULL, 0, y0 + 1, xb, mr, pw);
        ab_follow(&q->berr, q->pin.err, mp, force);
        view_tensor_heatmap(&q->berr, q->pin.kept ? &q->bkmap : NULL, 0, ye, xb, mr, pw);
        draw_textf(ye - 1, xb, t->w - xb, A_BOLD, "|W - Wq| B: max %.3g", q->pin.rep.max_abs_err);
    } else {
        draw_wrap(y0 + 1, xb, t->w - xb, mr, "B: none pinned. p pins the run shown as B; then "
                  "change the method or bits and compare A with B here.", A_BOLD);
    }
    draw_ab_legend(t, ye + mr);
}

static void draw_qhist(struct tui *t, int y0, int h, const struct stats *s)
{
    struct tui_quant *q = st(t);
    double a = s->absmax > 0 ? s->absmax : 1;
    if (q->qhist_for != q->gen || q->qhist.nbins != t->w) {
        /* The frame that quantized already spent its time: bin from the
         * next frame on. */
        vm_hist_begin(&q->qhist, q->cur.wq, (size_t)(q->cur.rows * q->cur.cols), -a, a, t->w);
        q->qhist_for = q->gen;
    } else {
        vm_hist_step(&q->qhist, TUI_STEP_VALUES);
    }
    /* The grid of the scale under the error map's cursor: with RTN the
     * values of Wq in that group sit exactly on the marks. */
    struct qtensor *qt = &t->m.tensors[t->ti];
    struct vq_scope sc;
    vm_quant_scope(&q->cur, q->cur.rows, q->cur.cols, q->emap.cur_r, q->emap.cur_c, &sc);
    float lev[512];
    int n = vm_quant_grid_scope(&q->cur, wpin_get(&q->w, qt), q->cur.cols, &sc, s->min, s->max,
                                lev, 512);
    vm_hist_set_grid(&q->qhist, lev, n);
    char where[96], title[200];
    vm_quant_scope_text(&sc, where, sizeof where);
    snprintf(title, sizeof title, "log histogram of Wq; marks: grid %s", where);
    view_tensor_draw_hist(t, &q->qhist, y0, h, t->w, title);
}

/* Does the result on screen belong to the current settings and tensor?
 * (Not while a change waits for the worker.) */
static int result_current(struct tui *t)
{
    struct tui_quant *q = st(t);
    struct quant_spec spec;
    struct qerr err;
    char d[160];
    if (q->cur.rc < 0 || !q->cur.wq || q->cur.ti != t->ti || vm_quant_spec(&q->cur, &spec, &err) < 0)
        return 0;
    quant_spec_format(&spec, d, sizeof d);
    return !strcmp(d, q->cur.desc);
}

/* B's buffers are made ready on the frames after a result (a slice per
 * frame), so the frame of p only copies into memory already touched;
 * not while B holds a run of another, smaller tensor (kept), and not
 * for tensors quantized on the worker (their copy is the frame's). */
static void prepare_pin(struct tui *t, int current)
{
    struct tui_quant *q = st(t);
    int64_t n = q->cur.rows * q->cur.cols;
    q->pin_prep = 0;
    if (q->applied) { /* that frame's work is done: B's on the next ones */
        q->applied = 0;
        q->pin_prep = current && !vm_quant_ready(&q->pin, n);
        return;
    }
    if (!current || n > SYNC_MAX || vm_quant_ready(&q->pin, n) ||
        (q->pin.ti >= 0 && q->pin.cap < n))
        return;
    q->pin_prep = vm_quant_prepare(&q->pin, n, TUI_TOUCH_MS) > 0;
}

static void quant_draw(struct tui *t, int y0, int h)
{
    struct tui_quant *q = st(t);
    if (t->ti < 0)
        return;
    quant_refresh(t);
    struct qtensor *qt = &t->m.tensors[t->ti];
    char desc[160], bpw[48] = "";
    vm_quant_describe(&q->cur, desc, sizeof desc);
    int current = result_current(t);
    if (current) /* "2 bit" says little: SpQR g16 stores 5.5 bits per weight */
        snprintf(bpw, sizeof bpw, " = %.2f bits/weight", q->cur.rep.bits_per_weight);
    draw_textf(y0, 0, t->w, A_BOLD, "%s %lldx%lld  |  %s%s%s", qt->name,
               (long long)qtensor_rows(qt), (long long)qtensor_cols(qt), desc, bpw,
               vm_quant_needs_calib(&q->cur) ? "  (calibrated on tinystories-calib)" : "");
    if (worker_busy(&t->job) && t->job.kind == JOB_QUANT) {
        draw_textf(y0 + 2, 2, t->w - 2, A_BOLD, "quantizing on the worker thread: %d%%  (c cancels)",
                   atomic_load(&t->job.permille) / 10);
        return;
    }
    if (q->preparing) {
        draw_textf(y0 + 2, 2, t->w - 2, A_BOLD, "quantizing: preparing %.0f MB for the result "
                   "(%d%%)", (double)q->cur.cap * 9 / 1e6,
                   (int)(100 * q->cur.touched / (q->cur.cap ? q->cur.cap : 1)));
        return;
    }
    if (q->cur.rc < 0 || q->cur.ti != t->ti || !q->cur.wq) {
        draw_textf(y0 + 2, 2, t->w - 2, draw_attr(DP_ERR), "%s",
                   q->cur.msg[0] ? q->cur.msg : "no result yet");
        return;
    }
    draw_report(t, y0 + 1, &q->cur);
    if (!current) /* the numbers are of other settings: say so, never mix */
        draw_textf(y0 + 2, 0, t->w, draw_attr(DP_ERR) | A_BOLD,
                   "STALE: these numbers are for %s; the new settings run when the job "
                   "ends (c cancels it)", q->cur.desc);
    int hist_h = h >= 24 ? 8 : h >= 14 ? 5 : 3;
    int map_rows = h - 3 - 1 - hist_h;
    if (map_rows >= 1 && q->ab)
        draw_ab(t, y0 + 3, map_rows);
    else if (map_rows >= 1)
        draw_emap(t, y0 + 3, map_rows);
    prepare_pin(t, current);
    const struct vl_row *r = vm_layers_row(&t->lay, t->ti);
    if (r && r->st_state == VL_ST_OK) /* its range is the tensor's AbsMax */
        draw_qhist(t, y0 + h - hist_h, hist_h, &r->st);
    else if (r)
        draw_text(y0 + h - hist_h, 0, t->w, r->st_state == VL_ST_FAILED ? r->st_err
                  : "histogram: once the statistics are in", A_DIM);
}

static int quant_map_act(struct tui *t, enum ui_act a)
{
    struct tui_quant *q = st(t);
    struct vm_map *mp = &q->emap;
    if (a == UA_BACK) {
        tui_show(t, UV_LAYERS);
        return 1;
    }
    if (mp->x != q->cur.err || !mp->x || q->cur.ti != t->ti)
        return 0; /* no valid result on screen yet */
    switch (a) {
    case UA_UP: vm_map_move(mp, -1, 0); return 1;
    case UA_DOWN: vm_map_move(mp, 1, 0); return 1;
    case UA_LEFT: vm_map_move(mp, 0, -1); return 1;
    case UA_RIGHT: vm_map_move(mp, 0, 1); return 1;
    case UA_ZOOM_IN: vm_map_zoom(mp, 1); return 1;
    case UA_ZOOM_OUT: vm_map_zoom(mp, -1); return 1;
    case UA_HOME: mp->cur_r = mp->cur_c = 0; vm_map_move(mp, 0, 0); return 1;
    default: return 0;
    }
}

/* p pins the result shown as B (and shows A/B); v toggles the A/B maps. */
static int quant_ab_act(struct tui *t, enum ui_act a)
{
    struct tui_quant *q = st(t);
    if (a == UA_QUANT_AB) {
        q->ab = !q->ab;
        q->emap_gen = -1; /* relaid out at the other size */
        tui_msg(t, 0, q->ab ? "A/B: W, Wq (A: current) and Wq (B: pinned) on one scale; p pins"
                            : "error map |W - Wq|; v shows A/B");
        return 1;
    }
    if (!result_current(t)) {
        tui_msg(t, 1, "nothing to pin yet: wait for the result of the current settings");
        return 1;
    }
    if (vm_quant_copy_result(&q->pin, &q->cur) < 0) {
        tui_msg(t, 1, "out of memory for a copy of the result");
        return 1;
    }
    q->pin_gen++;
    q->ab = 1;
    q->emap_gen = -1;
    tui_msg(t, 0, "B = %s; change the settings and compare (v: error map only)", q->pin.desc);
    return 1;
}

/* Settings keys act in the Tensor view too (the grid overlay follows). */
static int quant_act(struct tui *t, enum ui_act a, int shown)
{
    struct tui_quant *q = st(t);
    if (shown && quant_map_act(t, a))
        return 1;
    if (shown && (a == UA_QUANT_PIN || a == UA_QUANT_AB))
        return quant_ab_act(t, a);
    switch (a) {
    case UA_METHOD_NEXT: vm_quant_next_method(&q->cur); break;
    case UA_METHOD_PREV: vm_quant_prev_method(&q->cur); break;
    case UA_QUANT_COMMAND: tui_prompt(t, UV_QUANT, a, "set (method spqr, bits 2, group 16)"); return 1;
    case UA_BITS_UP: vm_quant_add_bits(&q->cur, 1); break;
    case UA_BITS_DOWN: vm_quant_add_bits(&q->cur, -1); break;
    case UA_GROUP_NEXT: vm_quant_next_group(&q->cur); break;
    case UA_SYM_TOGGLE: vm_quant_toggle_sym(&q->cur); break;
    case UA_OPTION_NEXT: vm_quant_next_option(&q->cur); break;
    default: return 0;
    }
    char d[160];
    vm_quant_describe(&q->cur, d, sizeof d);
    tui_msg(t, 0, "quantizer: %s", d);
    q->stale = 1;
    if (t->view == UV_QUANT)
        quant_refresh(t);
    return 1;
}

static void quant_prompt_done(struct tui *t, enum ui_act a, const char *s)
{
    struct tui_quant *q = st(t);
    struct qerr err;
    qerr_clear(&err);
    if (a != UA_QUANT_COMMAND || !s[0])
        return;
    if (vm_quant_command(&q->cur, s, &err) < 0) {
        tui_msg(t, 1, "%s", err.msg);
        return;
    }
    char d[160];
    vm_quant_describe(&q->cur, d, sizeof d);
    tui_msg(t, 0, "quantizer: %s", d);
    q->stale = 1;
    if (t->view == UV_QUANT)
        quant_refresh(t);
}

/* The old tensor's pin goes (the budget may free its copy): the W map
 * forgets it; the results (wq, err) are the view's own buffers. */
static void quant_tensor_changed(struct tui *t)
{
    struct tui_quant *q = st(t);
    wpin_drop(&q->w);
    vm_map_set(&q->wmap, NULL, 0, 0);
    q->wmap.gw = 0;
    q->stale = 1;
    if (t->view == UV_QUANT)
        quant_refresh(t);
}

/* Leaving: the pin goes; shown again, the draw pins anew and the W map
 * follows the pointer (ab_follow compares it). */
static void quant_leave(struct tui *t)
{
    wpin_drop(&st(t)->w);
}

static int quant_pending(struct tui *t)
{
    struct tui_quant *q = st(t);
    return q->preparing || q->pin_prep || vm_map_pending(&q->emap) ||
           vm_hist_pending(&q->qhist);
}

static int quant_init(struct tui *t)
{
    struct tui_quant *q = calloc(1, sizeof *q);
    if (!q)
        return -1;
    vm_quant_init(&q->cur);
    q->stale = 1;
    q->site.site = -1;
    vm_map_init(&q->emap);
    vm_map_init(&q->kmap);
    vm_map_init(&q->wmap);
    vm_map_init(&q->amap);
    vm_map_init(&q->bmap);
    vm_map_init(&q->berr);
    vm_map_init(&q->bkmap);
    vm_quant_init(&q->pin);
    vm_hist_init(&q->qhist);
    q->qhist_for = -1;
    t->vs[UV_QUANT] = q;
    return 0;
}

static void quant_free(struct tui *t)
{
    struct tui_quant *q = st(t);
    if (!q)
        return;
    wpin_drop(&q->w);
    vm_quant_free(&q->cur);
    jobs_site_free(&q->site);
    vm_map_free(&q->emap);
    vm_map_free(&q->kmap);
    vm_map_free(&q->wmap);
    vm_map_free(&q->amap);
    vm_map_free(&q->bmap);
    vm_map_free(&q->berr);
    vm_map_free(&q->bkmap);
    vm_quant_free(&q->pin);
    vm_hist_free(&q->qhist);
    free(q);
    t->vs[UV_QUANT] = NULL;
}

void view_quant_describe(struct tui *t, char *buf, int cap)
{
    vm_quant_describe(&st(t)->cur, buf, cap);
}

int view_quant_spec(struct tui *t, struct quant_spec *spec, struct qerr *err)
{
    return vm_quant_spec(&st(t)->cur, spec, err);
}

void view_quant_scope(struct tui *t, int64_t rows, int64_t cols, int64_t r, int64_t c,
                      struct vq_scope *sc)
{
    vm_quant_scope(&st(t)->cur, rows, cols, r, c, sc);
}

int view_quant_grid(struct tui *t, const float *w, const struct vq_scope *sc,
                    const struct stats *s, float *lev, int cap)
{
    if (t->ti < 0)
        return 0;
    struct qtensor *qt = &t->m.tensors[t->ti];
    return vm_quant_grid_scope(&st(t)->cur, w, qtensor_cols(qt), sc, s->min, s->max, lev, cap);
}

const struct view_ops view_quant_ops = {
    .name = "Quant",
    .min_w = 50,
    .min_h = 8,
    .init = quant_init,
    .free = quant_free,
    .draw = quant_draw,
    .act = quant_act,
    .prompt_done = quant_prompt_done,
    .job_done = quant_job_done,
    .tensor_changed = quant_tensor_changed,
    .leave = quant_leave,
    .pending = quant_pending,
};
