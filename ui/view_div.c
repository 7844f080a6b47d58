/* view_div: the drill-down from a run to its layers (Enter in the Runs
 * view): how far the quantized model's activations are from the float
 * model's, per block through the depth and per tensor, computed as a job
 * (src/mdiv.h through ui/jobs.c) for the run's configuration, context and
 * chunk count.  Tensors are listed where the error enters first (local
 * relative error, the quantized tensor on the float input).  Rows from
 * ui/vm_div.c. */
#define _XOPEN_SOURCE_EXTENDED 1
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui/draw.h"
#include "ui/tui_int.h"
#include "ui/view_div.h"
#include "ui/vm_div.h"

struct tui_div {
    struct vm_div vm;
    struct jobs_run want;   /* the run being computed                    */
    int busy;
};

static struct tui_div *st(struct tui *t) { return t->vs[UV_DIV]; }

static int same_run(const struct jobs_run *a, const struct jobs_run *b)
{
    return !strcmp(a->spec, b->spec) && a->n_ctx == b->n_ctx && a->n_chunks == b->n_chunks;
}

int view_div_open(struct tui *t, const struct jobs_run *run)
{
    struct tui_div *d = st(t);
    struct quant_spec spec;
    int act, kv, ch;
    struct qerr err;
    qerr_clear(&err);
    if (mdiv_parse_config(run->spec, &spec, &act, &kv, &ch, &err) < 0) {
        tui_msg(t, 1, "%s", err.msg);
        return -1;
    }
    tui_show(t, UV_DIV);
    if (d->vm.have && same_run(&d->vm.run, run)) {
        tui_msg(t, 0, "divergence of %s (computed before)", run->spec);
        return 0;
    }
    if (tui_job_busy(t))
        return -1;
    struct jobs_ctx *j = calloc(1, sizeof *j);
    if (!j || !(j->div = calloc(1, sizeof *j->div))) {
        free(j);
        tui_msg(t, 1, "out of memory");
        return -1;
    }
    j->kind = JOB_DIVERGENCE;
    j->data = &t->data;
    j->run = *run;
    d->want = *run;
    d->busy = 1;
    char label[128];
    snprintf(label, sizeof label, "divergence of %.100s", run->spec);
    return tui_start_job(t, j, UV_DIV, label);
}

static void div_job_done(struct tui *t, struct jobs_ctx *j, int rc)
{
    struct tui_div *d = st(t);
    d->busy = 0;
    if (rc < 0)
        tui_msg(t, rc != QERR_CANCEL, "divergence: %s",
                rc == QERR_CANCEL ? "cancelled" : t->job.err.msg);
    else if (vm_div_set(&d->vm, &j->run, j->div) < 0)
        tui_msg(t, 1, "divergence: out of memory");
    else {
        const struct mdiv_row *top = d->vm.n ? &d->vm.r.rows[d->vm.order[0]] : NULL;
        tui_msg(t, 0, "divergence of %s: KL mean %.4f; %s %s", j->run.spec, d->vm.r.kld.mean,
                d->vm.r.kl_attrib ? "most KL comes from" : "most error enters at",
                top ? top->name : "-");
    }
    if (j->div)
        mdiv_free(j->div);
    free(j->div);
    j->div = NULL;
}

/* ---- drawing ---- */

static void hbar(int y, int x, int w, double v, double mx, int role)
{
    int n8 = mx > 0 && v > 0 ? (int)lround(v / mx * w * 8) : 0;
    static const char *const part[] = {"", "\u258f", "\u258e", "\u258d", "\u258c", "\u258b",
                                       "\u258a", "\u2589"};
    int attr = draw_attr(role);
    for (int k = 0; k < w && n8 > 0; k++, n8 -= 8) {
        if (draw.utf8)
            draw_text(y, x + k, 1, n8 >= 8 ? "\u2588" : part[n8], attr);
        else
            draw_text(y, x + k, 1, n8 >= 8 ? "#" : "+", attr);
    }
}

/* Vertical bars per block: A (accumulated) and L (local) rel mean of the
 * residual stream after the block; returns the rows used. */
static int draw_depth(struct tui *t, int y0, int rows)
{
    struct vm_div *v = &st(t)->vm;
    int L = v->r.n_layers, cw = (t->w - 8) / (L ? L : 1);
    cw = cw > 6 ? 6 : cw;
    double mx = vm_div_block_max(v);
    draw_textf(y0, 0, t->w, A_BOLD, "Residual stream after each block: rel mean, %s",
               cw >= 3 ? "left bar accumulated, right bar local" : "accumulated");
    int hb = rows - 2;
    if (hb < 1 || cw < 1)
        return 1;
    for (int l = 0; l < L; l++) {
        const struct mdiv_row *b = &v->r.rows[mdiv_row_index(l, QR_OTHER)];
        int x = 8 + l * cw;
        int ha = mx > 0 ? (int)lround(b->s[MDIV_ACC].rel_mean / mx * hb * 8) : 0;
        draw_vbar(y0 + hb, x, ha, draw_attr(DP_PLOT));
        if (cw >= 3) {
            int hl = mx > 0 ? (int)lround(b->s[MDIV_LOCAL].rel_mean / mx * hb * 8) : 0;
            draw_vbar(y0 + hb, x + 1, hl, draw_attr(DP_PLOT2));
        }
        if (cw >= 3 || l % 5 == 0)
            draw_textf(y0 + hb + 1, x, cw >= 3 ? cw : 5, A_DIM, "%d", l);
    }
    draw_textf(y0 + 1, 0, 7, A_DIM, "%.3g", mx);
    draw_text(y0 + hb + 1, 0, 7, "block", A_DIM);
    return rows;
}

/* Bar column: the KL contribution when that is the order, else the rel
 * mean of the order's mode (local for depth order). */
static double bar_value(const struct vm_div *v, const struct mdiv_row *r)
{
    if (v->sort == VD_KL)
        return r->kl_delta;
    return r->s[v->sort == VD_ACC ? MDIV_ACC : MDIV_LOCAL].rel_mean;
}

static void draw_table(struct tui *t, int y0, int h)
{
    struct vm_div *v = &st(t)->vm;
    int nw = 22, bw = t->w - nw - 46;
    double mx = v->sort == VD_KL ? vm_div_kl_max(v)
              : vm_div_max(v, v->sort == VD_ACC ? MDIV_ACC : MDIV_LOCAL);
    const char *mark = v->desc ? "v" : "^";
    draw_fill(y0, 0, t->w, A_BOLD | A_UNDERLINE);
    draw_textf(y0, 0, t->w, A_BOLD | A_UNDERLINE, "%-*s %8s%1s %5s %8s%1s %8s%1s %8s  %s", nw,
               "Tensor", "dKL", v->sort == VD_KL ? mark : "", "%KL", "Local",
               v->sort == VD_LOCAL ? mark : "", "Acc", v->sort == VD_ACC ? mark : "", "Cos acc",
               v->sort == VD_KL ? "KL contribution" : v->sort == VD_ACC ? "accumulated rel"
                                                                       : "local rel");
    t->list_y0 = y0 + 1;
    t->list_h = h - 1;
    vm_div_move(v, 0, h - 1);
    for (int k = 0; k < h - 1 && v->top + k < v->n; k++) {
        int i = v->top + k, y = y0 + 1 + k;
        const struct mdiv_row *r = &v->r.rows[v->order[i]];
        int attr = i == v->sel ? draw_attr(DP_SEL) : (int)A_NORMAL;
        if (i == v->sel)
            draw_fill(y, 0, t->w, attr);
        char dkl[16] = "-", pct[16] = "-";
        if (!isnan(r->kl_delta)) {
            snprintf(dkl, sizeof dkl, "%+.5f", r->kl_delta);
            snprintf(pct, sizeof pct, "%.1f", v->r.kld.mean > 0 ? 100 * r->kl_delta / v->r.kld.mean : 0.0);
        }
        draw_textf(y, 0, t->w, attr, "%-*s %9s %5s %9.5f %9.5f %8.5f%s", nw, r->name, dkl, pct,
                   r->s[MDIV_LOCAL].rel_mean, r->s[MDIV_ACC].rel_mean, r->s[MDIV_ACC].cos_mean,
                   r->quantized ? "" : " (W float)");
        if (bw >= 4)
            hbar(y, t->w - bw, bw, bar_value(v, r), mx, DP_PLOT);
    }
}

static void div_draw(struct tui *t, int y0, int h)
{
    struct tui_div *d = st(t);
    struct vm_div *v = &d->vm;
    if (d->busy && !v->have) {
        draw_textf(y0, 0, t->w, A_BOLD, "Computing the divergence of %s ...", d->want.spec);
        draw_wrap(y0 + 2, 2, t->w - 3, h - 2, "The float and the quantized model run side by "
                  "side on the run's evaluation chunks; the status bar shows the progress and "
                  "c cancels.", A_NORMAL);
        return;
    }
    if (!v->have) {
        draw_wrap(y0 + 1, 2, t->w - 3, h - 1,
                  "No divergence yet. In the Runs view (4), select a quantized run and press "
                  "Enter: the float and the quantized model run side by side on the run's "
                  "evaluation chunks, and this view shows, per block and per tensor, how far "
                  "the quantized activations are from the float ones and where the error enters.",
                  A_BOLD);
        return;
    }
    draw_textf(y0, 0, t->w, A_BOLD, "%s%s vs float: KL mean %.4f, top-1 %.1f %%  (n_ctx %d, %d "
               "chunks, %zu tokens)", d->busy ? "[computing another run] " : "", v->run.spec,
               v->r.kld.mean, 100 * v->r.top1, v->r.n_ctx, v->r.n_chunks, v->r.n_scored);
    int dh = h / 3 < 4 ? (h >= 12 ? 4 : 0) : h / 3 > 9 ? 9 : h / 3;
    int y = y0 + 1;
    if (dh)
        y += draw_depth(t, y, dh);
    draw_textf(y, 0, t->w, A_DIM, "Tensors by %s, %s. dKL = KL - KL with its float weights; "
               "rel = |y_q - y_f| / |y_f| of its output%s", vm_div_sort_name(v->sort),
               v->desc ? "largest first" : "smallest first",
               v->r.kl_attrib ? "" : " (dKL: models up to 20M parameters)");
    draw_table(t, y + 1, y0 + h - y - 1);
}

static int div_act(struct tui *t, enum ui_act a, int shown)
{
    if (!shown)
        return 0;
    struct vm_div *v = &st(t)->vm;
    int page = t->list_h > 1 ? t->list_h : 10;
    switch (a) {
    case UA_UP: vm_div_move(v, -1, page); return 1;
    case UA_DOWN: vm_div_move(v, 1, page); return 1;
    case UA_PGUP: vm_div_move(v, -page, page); return 1;
    case UA_PGDN: vm_div_move(v, page, page); return 1;
    case UA_HOME: vm_div_move(v, -v->n, page); return 1;
    case UA_END: vm_div_move(v, v->n, page); return 1;
    case UA_SORT_NEXT: case UA_SORT_PREV: {
        if (!v->have)
            return 0;
        int s = vm_div_next_sort(v, a == UA_SORT_NEXT ? 1 : -1);
        vm_div_sort(v, s, s != VD_DEPTH);
        tui_msg(t, 0, "tensors sorted by %s", vm_div_sort_name(s));
        return 1;
    }
    case UA_SORT_REV:
        if (!v->have)
            return 0;
        vm_div_sort(v, v->sort, !v->desc);
        return 1;
    case UA_OPEN: { /* the tensor in the Tensor view */
        if (!v->have || v->n == 0)
            return 0;
        int ti = qmodel_find(&t->m, v->r.rows[v->order[v->sel]].name);
        if (ti < 0)
            return 0;
        tui_select_tensor(t, ti);
        tui_show(t, UV_TENSOR);
        return 1;
    }
    default: return 0;
    }
}

static void div_click(struct tui *t, int row, int col, int dbl)
{
    struct vm_div *v = &st(t)->vm;
    (void)col;
    vm_div_move(v, v->top + row - v->sel, t->list_h);
    if (dbl)
        div_act(t, UA_OPEN, 1);
}

static int div_init(struct tui *t)
{
    struct tui_div *d = calloc(1, sizeof *d);
    if (!d)
        return -1;
    vm_div_init(&d->vm);
    t->vs[UV_DIV] = d;
    return 0;
}

static void div_free(struct tui *t)
{
    struct tui_div *d = st(t);
    if (!d)
        return;
    vm_div_free(&d->vm);
    free(d);
    t->vs[UV_DIV] = NULL;
}

const struct view_ops view_div_ops = {
    .name = "Divergence",
    .min_w = 60,
    .min_h = 8,
    .init = div_init,
    .free = div_free,
    .draw = div_draw,
    .act = div_act,
    .click = div_click,
    .job_done = div_job_done,
};
