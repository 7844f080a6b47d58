/* view_runs: perplexity comparison: table, bar chart, size-vs-PPL plot
 * with the Pareto front.  Rows from ui/vm_runs.c. */
#define _XOPEN_SOURCE_EXTENDED 1
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/results.h"
#include "ui/draw.h"
#include "ui/tui_int.h"
#include "ui/view_div.h"
#include "ui/view_quant.h"
#include "ui/view_runs.h"
#include "ui/vm_runs.h"

struct tui_runs {
    struct vm_runs vm;
    int mode;                     /* 0 table, 1 bars, 2 size vs PPL       */
    int col0;                     /* first number column shown (Left/Right) */
    int more;                     /* columns hidden: 1 right, 2 left      */
    int del_armed;                /* d pressed once: the next d deletes   */
    struct jobs_run undo;         /* the last deleted run (u restores)    */
    int have_undo;
};

static struct tui_runs *st(struct tui *t) { return t->vs[UV_RUNS]; }

/* Starts at once or queues behind the running job (the settings are
 * taken now: changing the method afterwards does not change it). */
static int runs_start(struct tui *t, enum job_kind kind)
{
    struct jobs_ctx *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    j->kind = kind;
    j->data = &t->data;
    char label[128];
    if (kind == JOB_APPLY_ALL) {
        struct qerr err;
        if (view_quant_spec(t, &j->spec, &err) < 0) {
            tui_msg(t, 1, "%s", err.msg);
            free(j);
            return -1;
        }
        char d[100];
        view_quant_describe(t, d, sizeof d);
        snprintf(label, sizeof label, "all layers %s + PPL", d);
    } else {
        snprintf(label, sizeof label, "float baseline PPL");
    }
    return tui_start_job(t, j, UV_RUNS, label);
}

int view_runs_add(struct tui *t, const struct jobs_run *run, int say)
{
    struct vm_runs *v = &st(t)->vm;
    if (vm_runs_add(v, run) < 0) {
        tui_msg(t, 1, "%.60s: PPL %.4f, not kept: the session holds %d runs (d deletes one)",
                run->spec, run->ppl, v->n);
        return -1;
    }
    struct qerr err;
    qerr_clear(&err);
    int rc = vm_runs_save(v, &err);
    if (rc < 0)
        tui_msg(t, 1, "session not saved: %s", err.msg);
    else if (say)
        tui_msg(t, 0, "%s: PPL %.4f (%.1f s), saved to %s", run->spec, run->ppl,
                run->seconds, v->path);
    t->runs_gen++; /* the correlation store includes our runs */
    return rc < 0 ? -1 : 0;
}

static void runs_job_done(struct tui *t, struct jobs_ctx *j, int rc)
{
    if (rc < 0) {
        tui_msg(t, rc != QERR_CANCEL, "%s: %s", j->kind == JOB_BASELINE ? "baseline" : "run",
                rc == QERR_CANCEL ? "cancelled" : t->job.err.msg);
        return;
    }
    view_runs_add(t, &j->run, 1);
}

/* The columns shown: the configuration, then from the scrolled-to column
 * (Left/Right) as many as fit; the configuration takes what the numbers
 * leave (at least 16, at most its longest text).  Returns the count. */
static int fit_cols(struct tui *t, int *cols, int *spec_w)
{
    struct tui_runs *r = st(t);
    struct vm_runs *v = &r->vm;
    int longest = 16;
    for (int i = 0; i < v->n; i++)
        longest = (int)strlen(v->r[i].spec) > longest ? (int)strlen(v->r[i].spec) : longest;
    int rest = 0, all = 0;
    for (int k = 1; k < VR__NCOL; k++)
        all += vr_cols[k].width + 1;
    if (16 + 1 + all <= t->w) /* everything fits: no scrolling */
        r->col0 = 1;
    int n = 0;
    cols[n++] = VR_SPEC;
    for (int k = r->col0 > 0 ? r->col0 : 1; k < VR__NCOL; k++) {
        if (16 + 1 + rest + vr_cols[k].width + 1 > t->w)
            break;
        rest += vr_cols[k].width + 1;
        cols[n++] = k;
    }
    int w = t->w - rest - 1;
    *spec_w = w < 16 ? 16 : w > longest ? longest : w;
    r->more = (cols[n - 1] < VR__NCOL - 1) | (r->col0 > 1) << 1;
    return n;
}

static void draw_table(struct tui *t, int y0, int h)
{
    struct vm_runs *v = &st(t)->vm;
    unsigned char front[VM_RUNS_MAX];
    vm_runs_pareto(v, front);
    int cols[VR__NCOL], sw, nc = fit_cols(t, cols, &sw), x = 0;
    draw_fill(y0, 0, t->w, A_BOLD | A_UNDERLINE);
    for (int j = 0; j < nc; j++) {
        int c = cols[j], cw = c == VR_SPEC ? sw : vr_cols[c].width;
        draw_text(y0, x, cw, vr_cols[c].title, A_BOLD | A_UNDERLINE);
        if (c == v->sort_col) /* in the gap after the title: never clipped */
            draw_text(y0, x + (int)strlen(vr_cols[c].title) < x + cw ? x + (int)strlen(vr_cols[c].title) : x + cw,
                      1, v->sort_desc ? "v" : "^", A_BOLD | A_UNDERLINE);
        x += cw + 1;
    }
    if (st(t)->more & 1)
        draw_text(y0, t->w - 2, 2, " >", A_BOLD | A_REVERSE);
    if (st(t)->more & 2)
        draw_text(y0, sw - 1, 2, "< ", A_BOLD | A_REVERSE);
    t->list_y0 = y0 + 1;
    t->list_h = h - 1;
    vm_runs_move(v, 0, h - 1);
    for (int k = 0; k < h - 1 && v->top + k < v->n; k++) {
        int i = v->top + k, y = y0 + 1 + k;
        int attr = i == v->sel ? draw_attr(DP_SEL) : front[i] ? (int)A_BOLD : (int)A_NORMAL;
        if (i == v->sel)
            draw_fill(y, 0, t->w, attr);
        x = 0;
        for (int j = 0; j < nc; j++) {
            int c = cols[j], cw = c == VR_SPEC ? sw : vr_cols[c].width;
            char cell[96];
            vm_runs_cell(v, i, c, cell, sizeof cell);
            draw_text(y, x, cw, cell, attr);
            x += cw + 1;
        }
    }
}

static void draw_bars(struct tui *t, int y0, int h)
{
    struct vm_runs *v = &st(t)->vm;
    /* Log scale from half the best PPL: 7.9, 9.3 and 22.7 stay apart even
     * next to a collapsed run at 50000. */
    double mx = 0, mn = INFINITY;
    for (int i = 0; i < v->n; i++)
        if (v->r[i].ppl > 0 && isfinite(v->r[i].ppl)) {
            mx = v->r[i].ppl > mx ? v->r[i].ppl : mx;
            mn = v->r[i].ppl < mn ? v->r[i].ppl : mn;
        }
    double lo = log(mn / 2), span = mx > 0 ? log(mx) - lo : 0;
    draw_textf(y0, 0, t->w, A_BOLD, "PPL per configuration (log scale from %.3g; bold = Pareto front)",
               mn / 2);
    int lw = 32, bw = t->w - lw - 12;
    for (int i = 0; i < v->n && i < h - 1; i++) {
        int y = y0 + 1 + i;
        draw_text(y, 0, lw - 1, v->r[i].spec, i == v->sel ? draw_attr(DP_SEL) : (int)A_NORMAL);
        double p = v->r[i].ppl;
        int len = span > 0 && p > 0 && isfinite(p) ? (int)lround((log(p) - lo) / span * bw) : 0;
        for (int k = 0; k < len; k++)
            draw_text(y, lw + k, 1, draw.utf8 ? "\u2588" : "#",
                      draw_attr(!strcmp(v->r[i].method, "float") ? DP_EASY : DP_PLOT));
        draw_textf(y, lw + len + 1, t->w - lw - len - 1, A_NORMAL, "%.4f", v->r[i].ppl);
    }
}

/* The legend of the plot: one line per run, its letter first; in rows
 * [y, y + h) of columns [x, x + w); "+N more" when they do not fit. */
static void draw_plot_legend(struct tui *t, int y, int x, int w, int h, const unsigned char *front)
{
    struct vm_runs *v = &st(t)->vm;
    char line[400];
    int shown = v->n <= h ? v->n : h - 1;
    for (int i = 0; i < shown; i++) {
        vm_runs_legend(v, i, front, line, sizeof line);
        draw_text(y + i, x, 1, line, draw_attr(front[i] ? DP_PLOT2 : DP_MARK) | A_BOLD);
        draw_text(y + i, x + 1, w - 1, line + 1, i == v->sel ? draw_attr(DP_SEL) : (int)A_NORMAL);
    }
    if (shown < v->n)
        draw_textf(y + shown, x, w, A_DIM, "+%d more (the table lists them)", v->n - shown);
}

/* Size (x) vs PPL (y) on a braille canvas; Pareto front joined by lines;
 * each run is its letter, keyed to the legend on the right (below on a
 * narrow screen). */
static void draw_plot(struct tui *t, int y0, int h)
{
    struct vm_runs *v = &st(t)->vm;
    double x0 = INFINITY, x1 = -INFINITY, p0 = INFINITY, p1 = -INFINITY;
    for (int i = 0; i < v->n; i++) {
        x0 = fmin(x0, v->r[i].size_mib);
        x1 = fmax(x1, v->r[i].size_mib);
        p0 = fmin(p0, v->r[i].ppl);
        p1 = fmax(p1, v->r[i].ppl);
    }
    if (!(x1 > x0)) { x0 -= 0.5; x1 += 0.5; }
    if (!(p1 > p0)) { p0 -= 0.5; p1 += 0.5; }
    draw_textf(y0, 0, t->w, A_BOLD, "size (MiB, x) vs PPL (y); line = Pareto front (* in the "
               "legend); PPL %.4g..%.4g", p0, p1);
    unsigned char front[VM_RUNS_MAX];
    vm_runs_pareto(v, front);
    /* legend beside the plot when there is room, else under it */
    int lw = t->w >= 100 ? t->w / 3 : 0, below = lw ? 0 : (v->n < (h - 3) / 2 ? v->n : (h - 3) / 2);
    struct draw_canvas c;
    int cw = t->w - 10 - lw, ch = h - 3 - below;
    if (ch < 2 || draw_canvas_init(&c, cw, ch) < 0)
        return;
    int px[VM_RUNS_MAX], py[VM_RUNS_MAX];
    for (int i = 0; i < v->n; i++) {
        px[i] = (int)lround((v->r[i].size_mib - x0) / (x1 - x0) * (c.pw - 1));
        py[i] = (int)lround((p1 - v->r[i].ppl) / (p1 - p0) * (c.ph - 1));
    }
    /* join front points in size order */
    int last = -1;
    for (int pass = 0; pass < v->n; pass++) {
        int best = -1;
        for (int i = 0; i < v->n; i++)
            if (front[i] && (last < 0 || px[i] > px[last] || (px[i] == px[last] && i > last)) &&
                (best < 0 || px[i] < px[best]))
                best = i;
        if (best < 0 || best == last)
            break;
        if (last >= 0)
            draw_canvas_line(&c, px[last], py[last], px[best], py[best], DP_PLOT2);
        last = best;
    }
    draw_canvas_blit(&c, y0 + 1, 8);
    for (int i = v->n - 1; i >= 0; i--) { /* the first rows on top */
        char l[2] = {vm_runs_letter(i), 0};
        draw_text(y0 + 1 + py[i] * c.h / c.ph, 8 + px[i] * c.w / c.pw, 1, l,
                  draw_attr(front[i] ? DP_PLOT2 : DP_MARK) | A_BOLD |
                      (i == v->sel ? (int)A_REVERSE : 0));
    }
    draw_textf(y0 + 1, 0, 8, A_DIM, "%.4g", p1);
    draw_textf(y0 + ch, 0, 8, A_DIM, "%.4g", p0);
    draw_textf(y0 + ch + 1, 8, cw, A_DIM, "%-10.4g%*s%.4g MiB", x0, cw - 24, "", x1);
    if (lw)
        draw_plot_legend(t, y0 + 1, t->w - lw + 1, lw - 1, h - 1, front);
    else
        draw_plot_legend(t, y0 + ch + 2, 0, t->w, below, front);
    draw_canvas_free(&c);
}

static void runs_draw(struct tui *t, int y0, int h)
{
    struct vm_runs *v = &st(t)->vm;
    static const char *const modes[] = {"table", "bar chart", "size vs PPL"};
    draw_textf(y0, 0, t->w, A_NORMAL,
               "%d run%s of %s on %s (n_ctx %d)  [%s; v switches]  session %s", v->n,
               v->n == 1 ? "" : "s", v->model, v->dataset, t->data.n_ctx, modes[st(t)->mode], v->path);
    if (v->n == 0) {
        draw_wrap(y0 + 2, 2, t->w - 3, h - 2,
                  "No runs yet. P measures the float baseline; in the Quant view pick a method "
                  "and bits, then A quantizes every layer and measures PPL.",
                  A_BOLD);
        return;
    }
    char note[160];
    if (vm_runs_storage_note(v, note, sizeof note) && h > 4) {
        h--;
        draw_text(y0 + h, 0, t->w, note, draw_attr(DP_ERR) | A_BOLD);
    }
    switch (st(t)->mode) {
    case 0: draw_table(t, y0 + 1, h - 1); break;
    case 1: draw_bars(t, y0 + 1, h - 1); break;
    default: draw_plot(t, y0 + 1, h - 1); break;
    }
}

static int runs_act(struct tui *t, enum ui_act a, int shown)
{
    if (a == UA_BASELINE || a == UA_APPLY_ALL) { /* from every view */
        runs_start(t, a == UA_BASELINE ? JOB_BASELINE : JOB_APPLY_ALL);
        return 1;
    }
    if (!shown)
        return 0;
    struct tui_runs *r = st(t);
    struct vm_runs *v = &r->vm;
    if (a != UA_DELETE_RUN)
        r->del_armed = 0;
    int page = t->list_h > 1 ? t->list_h : 10;
    struct qerr err;
    qerr_clear(&err);
    switch (a) {
    case UA_UP: vm_runs_move(v, -1, page); return 1;
    case UA_DOWN: vm_runs_move(v, 1, page); return 1;
    case UA_PGUP: vm_runs_move(v, -page, page); return 1;
    case UA_PGDN: vm_runs_move(v, page, page); return 1;
    case UA_HOME: vm_runs_move(v, -v->n, page); return 1;
    case UA_END: vm_runs_move(v, v->n, page); return 1;
    case UA_RUNS_MODE: r->mode = (r->mode + 1) % 3; return 1;
    case UA_SORT_NEXT: case UA_SORT_PREV: {
        int c = ((v->sort_col < 0 ? 0 : v->sort_col) + (a == UA_SORT_NEXT ? 1 : VR__NCOL - 1)) % VR__NCOL;
        vm_runs_sort(v, c, c == VR_TOP1);
        tui_msg(t, 0, "runs sorted by %s", vr_cols[c].title);
        return 1;
    }
    case UA_SORT_REV: vm_runs_sort(v, v->sort_col, !v->sort_desc); return 1;
    case UA_LEFT: case UA_RIGHT:
        r->col0 += a == UA_RIGHT ? (r->more & 1) : -((r->more & 2) != 0);
        return 1;
    case UA_DELETE_RUN: /* twice: a run can take an hour to measure */
        if (v->n == 0)
            return 1;
        if (!r->del_armed) {
            r->del_armed = 1;
            tui_msg(t, 1, "d again deletes \"%s\" (any other key keeps it)", v->r[v->sel].spec);
            return 1;
        }
        r->undo = v->r[v->sel];
        r->have_undo = 1;
        vm_runs_delete(v, v->sel);
        t->runs_gen++;
        if (vm_runs_save(v, &err) < 0)
            tui_msg(t, 1, "%s", err.msg);
        else
            tui_msg(t, 0, "deleted \"%s\"; u brings it back", r->undo.spec);
        return 1;
    case UA_UNDO:
        if (!r->have_undo) {
            tui_msg(t, 1, "nothing to undo");
            return 1;
        }
        r->have_undo = 0;
        vm_runs_add(v, &r->undo);
        t->runs_gen++;
        if (vm_runs_save(v, &err) < 0)
            tui_msg(t, 1, "%s", err.msg);
        else
            tui_msg(t, 0, "restored \"%s\"", r->undo.spec);
        return 1;
    case UA_OPEN: /* drill down: where this run's error enters */
        if (v->n > 0 && !strcmp(v->r[v->sel].method, "plan"))
            tui_msg(t, 1, "a plan mixes configurations per tensor: the Divergence view "
                    "compares one configuration (pick a uniform run)");
        else if (v->n > 0)
            view_div_open(t, &v->r[v->sel]);
        return 1;
    case UA_EXPORT:
        if (vm_runs_export(v, "qlens-runs", &err) < 0)
            tui_msg(t, 1, "export: %s", err.msg);
        else
            tui_msg(t, 0, "exported %d runs to qlens-runs.json, .csv, .md", v->n);
        return 1;
    default: return 0;
    }
}

static void runs_click(struct tui *t, int row, int col, int dbl)
{
    struct vm_runs *v = &st(t)->vm;
    (void)dbl;
    (void)col;
    vm_runs_move(v, v->top + row - v->sel, t->list_h);
}

static int runs_init(struct tui *t)
{
    struct tui_runs *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    t->vs[UV_RUNS] = r;
    vm_runs_init(&r->vm, t->model_name, "tinystories-eval", vm_runs_default_path());
    struct qerr err;
    qerr_clear(&err);
    if (vm_runs_load(&r->vm, &err) < 0)
        tui_msg(t, 1, "session file: %s", err.msg);
    return 0;
}

static void runs_free(struct tui *t)
{
    struct tui_runs *r = st(t);
    if (!r)
        return;
    vm_runs_free(&r->vm);
    free(r);
    t->vs[UV_RUNS] = NULL;
}

const char *view_runs_session_path(struct tui *t)
{
    return st(t)->vm.path;
}

int view_runs_import_defaults(struct tui *t, struct results_import_opts *o, char *desc, int cap)
{
    struct vm_runs *v = &st(t)->vm;
    memset(o, 0, sizeof *o);
    o->model = v->model;
    snprintf(desc, (size_t)cap, "%s", v->model);
    if (v->n == 0 || v->sel < 0 || v->sel >= v->n)
        return 0;
    const struct jobs_run *r = &v->r[v->sel];
    o->method = r->method;
    o->w_bits = r->bits;
    o->group_size = r->group > 0 ? r->group : 0; /* as the session entry */
    snprintf(desc, (size_t)cap, "%s/%s", v->model, r->spec);
    return 1;
}

const struct view_ops view_runs_ops = {
    .name = "Runs",
    .min_w = 40,
    .min_h = 4,
    .init = runs_init,
    .free = runs_free,
    .draw = runs_draw,
    .act = runs_act,
    .click = runs_click,
    .job_done = runs_job_done,
};
