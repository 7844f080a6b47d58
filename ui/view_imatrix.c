/* view_imatrix: a llama.cpp importance matrix (qlens --imatrix FILE
 * [MODEL], or `o` to open one): per entry the total importance, the
 * kurtosis of the importance over the input channels, the share of the
 * top channel and the top channels; below, the channel heatmap of the
 * selected entry (log scale, one cell = the largest of its channels).
 * Rows come from ui/vm_imatrix.c. */
#define _XOPEN_SOURCE_EXTENDED 1
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui/draw.h"
#include "ui/jobs.h"
#include "ui/tui_int.h"
#include "ui/vm_imatrix.h"

struct tui_imx {
    struct vm_imatrix vm;
    int sel, top;
};

static struct tui_imx *st(struct tui *t) { return t->vs[UV_IMATRIX]; }

/* "12:31% 40:8.2% ..." the top channels and their share of the total. */
static void top_text(const struct vm_imx_row *r, char *buf, size_t cap, int k)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < r->n_top && i < k && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%lld:%.3g%%", i ? " " : "",
                              (long long)r->top[i],
                              r->total > 0 ? 100 * r->top_val[i] / r->total : 0.0);
}

static void draw_table(struct tui *t, int y0, int h)
{
    struct tui_imx *s = st(t);
    struct vm_imatrix *v = &s->vm;
    draw_textf(y0, 0, t->w, A_BOLD, "%-24s %6s %11s %10s %8s %7s  %s", "entry", "cols", "total",
               "mean", "kurt", "top %", "top channels (channel:share of total)");
    t->list_y0 = y0 + 1;
    t->list_h = h - 1;
    if (s->sel < s->top)
        s->top = s->sel;
    if (s->sel >= s->top + t->list_h)
        s->top = s->sel - t->list_h + 1;
    for (int i = 0; i < t->list_h && s->top + i < v->n; i++) {
        const struct vm_imx_row *r = &v->rows[s->top + i];
        char top[160];
        top_text(r, top, sizeof top, 4);
        int attr = s->top + i == s->sel ? draw_attr(DP_SEL) : r->in_model ? (int)A_NORMAL
                                                                          : draw_attr(DP_DIM);
        draw_fill(y0 + 1 + i, 0, t->w, attr);
        draw_textf(y0 + 1 + i, 0, t->w, attr, "%-24.24s %6lld %11.5g %10.4g %8.2f %7.3f  %s",
                   r->e->name, (long long)(r->e->n * r->e->n_mat), r->total, r->mean,
                   r->kurtosis, 100 * r->max_share, top);
    }
}

/* The selected entry's channels as a heatmap: rows of cells, each cell
 * `per` channels, the whole entry in the rows available. */
static void draw_heat(struct tui *t, int y0, int h)
{
    struct tui_imx *s = st(t);
    const struct vm_imx_row *r = &s->vm.rows[s->sel];
    int64_t n = r->e->n * r->e->n_mat;
    int lw = 9, cw = t->w - lw, rows = h - 2;
    if (cw < 4 || rows < 1)
        return;
    int64_t cells = (int64_t)cw * rows, per = (n + cells - 1) / cells;
    per = per < 1 ? 1 : per;
    int64_t line = per * cw;
    char top[256];
    top_text(r, top, sizeof top, VM_IMX_TOP);
    draw_textf(y0, 0, t->w, A_BOLD, "%s: %lld channels, 1 cell = %lld channel%s (largest, log "
               "scale %.3g .. %.3g)", r->e->name, (long long)n, (long long)per,
               per > 1 ? "s" : "", r->min_pos, r->max);
    draw_textf(y0 + 1, 0, t->w, A_NORMAL, "top: %s", top);
    int *lev = malloc((size_t)cw * sizeof *lev);
    if (!lev)
        return;
    for (int y = 0; y < rows - 1 && (int64_t)y * line < n; y++) {
        vm_imatrix_cells(r, (int64_t)y * line, per, cw, draw.nlev, lev);
        draw_textf(y0 + 2 + y, 0, lw, draw_attr(DP_DIM), "%7lld ", (long long)(y * line));
        for (int x = 0; x < cw; x++)
            if (lev[x] >= 0)
                draw_heat1(y0 + 2 + y, lw + x, lev[x], 0, 0);
    }
    free(lev);
}

static void imx_draw(struct tui *t, int y0, int h)
{
    struct tui_imx *s = st(t);
    struct vm_imatrix *v = &s->vm;
    t->list_h = 0;
    if (!v->loaded) {
        draw_wrap(y0 + 1, 2, t->w - 4, h - 1,
                  "No importance matrix loaded. Start the dashboard with qlens --imatrix FILE "
                  "[MODEL] (llama.cpp's legacy or GGUF imatrix, or one from qlens imatrix), "
                  "press o and type a file name, or press I to compute one on the calibration "
                  "text.", A_NORMAL);
        return;
    }
    if (s->sel >= v->n)
        s->sel = v->n ? v->n - 1 : 0;
    draw_textf(y0, 0, t->w, A_BOLD, "%s: %d entries (%d in this model), %lld chunks%s%s; "
               "sorted by %s%s", v->path, v->n, v->n_in_model, (long long)v->im.chunks,
               v->im.dataset[0] ? ", " : "", v->im.dataset, vm_imatrix_sort_name(v->sort),
               v->rev ? " (reversed)" : "");
    if (v->n == 0)
        return;
    int th = (h - 1) / 2 > 3 ? (h - 1) / 2 : h - 1;
    draw_table(t, y0 + 1, th);
    if (h - 1 - th >= 3)
        draw_heat(t, y0 + 1 + th, h - 1 - th);
}

static void sel_move(struct tui *t, int to)
{
    struct tui_imx *s = st(t);
    int n = s->vm.n;
    s->sel = to < 0 ? 0 : to >= n ? (n ? n - 1 : 0) : to;
}

/* Keep the selected entry selected across a re-sort. */
static void resort(struct tui *t)
{
    struct tui_imx *s = st(t);
    const struct qimatrix_entry *e = s->vm.n ? s->vm.rows[s->sel].e : NULL;
    vm_imatrix_sort(&s->vm);
    for (int i = 0; i < s->vm.n; i++)
        if (s->vm.rows[i].e == e)
            s->sel = i;
    tui_msg(t, 0, "sorted by %s%s", vm_imatrix_sort_name(s->vm.sort),
            s->vm.rev ? " (reversed)" : "");
}

/* I: the calibration pass on the worker; job_done shows the result. */
static void compute(struct tui *t)
{
    if (tui_job_busy(t))
        return;
    struct jobs_ctx *j = calloc(1, sizeof *j);
    struct qimatrix *im = calloc(1, sizeof *im);
    if (!j || !im) {
        free(j);
        free(im);
        tui_msg(t, 1, "out of memory");
        return;
    }
    j->kind = JOB_IMATRIX;
    j->data = &t->data;
    j->imx = im;
    tui_start_job(t, j, UV_IMATRIX, "importance matrix (calibration pass)");
}

static void imx_job_done(struct tui *t, struct jobs_ctx *j, int rc)
{
    struct tui_imx *s = st(t);
    struct qerr err;
    qerr_clear(&err);
    char label[400];
    if (!j->imx)
        return;
    snprintf(label, sizeof label, "computed in the dashboard (%d-token chunks)", t->data.n_ctx);
    if (rc == 0 && vm_imatrix_take(&s->vm, j->imx, label, &t->m, &err) == 0) {
        s->sel = s->top = 0;
        tui_msg(t, 0, "importance matrix: %d entries", s->vm.n);
    } else {
        tui_msg(t, rc != QERR_CANCEL, "importance matrix: %s", rc == QERR_CANCEL ? "cancelled"
                                                      : rc ? t->job.err.msg : err.msg);
        qimatrix_free(j->imx);
    }
    free(j->imx);
    j->imx = NULL;
}

static int imx_act(struct tui *t, enum ui_act a, int shown)
{
    struct tui_imx *s = st(t);
    int page = t->list_h > 1 ? t->list_h : 10;
    if (!shown)
        return 0;
    switch (a) {
    case UA_UP: sel_move(t, s->sel - 1); return 1;
    case UA_DOWN: sel_move(t, s->sel + 1); return 1;
    case UA_PGUP: sel_move(t, s->sel - page); return 1;
    case UA_PGDN: sel_move(t, s->sel + page); return 1;
    case UA_HOME: sel_move(t, 0); return 1;
    case UA_END: sel_move(t, s->vm.n - 1); return 1;
    case UA_SORT_NEXT:
    case UA_SORT_PREV:
        s->vm.sort = (s->vm.sort + (a == UA_SORT_NEXT ? 1 : VM_IMX_SORT__COUNT - 1)) %
                     VM_IMX_SORT__COUNT;
        resort(t);
        return 1;
    case UA_SORT_REV: s->vm.rev = !s->vm.rev; resort(t); return 1;
    case UA_IMX_OPEN: tui_prompt(t, UV_IMATRIX, a, "imatrix file"); return 1;
    case UA_IMX_COMPUTE: compute(t); return 1;
    default: return 0;
    }
}

static void imx_prompt_done(struct tui *t, enum ui_act a, const char *s)
{
    struct tui_imx *v = st(t);
    struct qerr err;
    qerr_clear(&err);
    if (a != UA_IMX_OPEN || !s[0])
        return;
    struct qimatrix im;
    if (qimatrix_read(&im, s, &err) < 0) {
        tui_msg(t, 1, "%s", err.msg);
        return;
    }
    if (qimatrix_check(&im, s, &t->m, &err) < 0 ||
        vm_imatrix_take(&v->vm, &im, s, &t->m, &err) < 0) {
        qimatrix_free(&im);
        tui_msg(t, 1, "%s", err.msg);
        return;
    }
    v->sel = v->top = 0;
    tui_msg(t, 0, "%s: %d entries", s, v->vm.n);
}

static void imx_click(struct tui *t, int row, int col, int dbl)
{
    struct tui_imx *s = st(t);
    (void)col;
    (void)dbl;
    sel_move(t, s->top + row);
}

static int imx_init(struct tui *t)
{
    struct tui_imx *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    t->vs[UV_IMATRIX] = s;
    s->vm.sort = VM_IMX_SORT_FILE;
    if (t->imx_start) { /* qlens --imatrix FILE: read and checked already */
        struct qerr err;
        qerr_clear(&err);
        if (vm_imatrix_take(&s->vm, t->imx_start, t->imx_start_path, &t->m, &err) < 0) {
            tui_msg(t, 1, "%s", err.msg);
            qimatrix_free(t->imx_start);
        }
        free(t->imx_start);
        t->imx_start = NULL;
    }
    return 0;
}

static void imx_free(struct tui *t)
{
    struct tui_imx *s = st(t);
    if (!s)
        return;
    vm_imatrix_free(&s->vm);
    free(s);
    t->vs[UV_IMATRIX] = NULL;
}

const struct view_ops view_imatrix_ops = {
    .name = "Imatrix",
    .min_w = 40,
    .min_h = 4,
    .init = imx_init,
    .free = imx_free,
    .draw = imx_draw,
    .act = imx_act,
    .click = imx_click,
    .prompt_done = imx_prompt_done,
    .job_done = imx_job_done,
};
