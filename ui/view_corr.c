/* view_corr: scatter of two results-store variables with the fitted
 * line, Pearson r, Spearman rho, p-values and n; or a table of r for X
 * against every benchmark. */
#define _XOPEN_SOURCE_EXTENDED 1
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/paths.h"
#include "ui/draw.h"
#include "ui/tui_int.h"
#include "ui/view_runs.h"
#include "ui/vm_corr.h"

struct tui_corr {
    struct vm_corr vm;
    int loaded_gen;               /* t->runs_gen of the loaded store, -1  */
    int table;                    /* 1: r of X against every benchmark    */
};

static struct tui_corr *st(struct tui *t) { return t->vs[UV_CORR]; }

/* Papers' data plus this session's runs (all models in the session file). */
static void corr_load(struct tui *t)
{
    struct tui_corr *c = st(t);
    c->loaded_gen = t->runs_gen;
    struct results_store s;
    results_store_init(&s);
    struct qerr err;
    qerr_clear(&err);
    if (paths_load_papers(&s, &err) < 0)
        tui_msg(t, 1, "bundled results: %s", err.msg);
    struct results_store mine;
    results_store_init(&mine);
    const char *sp = view_runs_session_path(t);
    if (sp[0] && access(sp, F_OK) == 0) { /* not fopen: a FIFO would block */
        if (results_load(&mine, sp, &err) < 0 ||
            results_merge(&s, &mine, RESULTS_MERGE_REPLACE, NULL, NULL, &err) < 0)
            tui_msg(t, 1, "session file not shown: %s", err.msg);
    }
    results_store_free(&mine);
    int x = c->vm.n_vars ? c->vm.x : -1, y = c->vm.n_vars ? c->vm.y : -1;
    vm_corr_set_store(&c->vm, &s);
    if (x >= 0 && x < c->vm.n_vars && y >= 0 && y < c->vm.n_vars) {
        c->vm.x = x;
        c->vm.y = y;
        vm_corr_compute(&c->vm);
    }
    results_store_free(&s);
}

/* Axis transform: log10 when the values span more than two decades and
 * are all positive (perplexities of collapsed models reach 1e5). */
static int want_log(const double *v, size_t n)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        lo = fmin(lo, v[i]);
        hi = fmax(hi, v[i]);
    }
    return n > 0 && lo > 0 && hi / lo > 100;
}

static double ax(double v, int lg) { return lg ? log10(v) : v; }

/* The least-squares line (in data units), sampled per dot column so it
 * stays right on log axes too. */
static void fit_line(struct draw_canvas *c, const struct corr_result *r, int lx, int ly, double x0,
                     double x1, double p0, double p1)
{
    int prev = -1;
    for (int px = 0; px < c->pw; px++) {
        double xv = x0 + (x1 - x0) * px / (c->pw > 1 ? c->pw - 1 : 1);
        double yv = r->intercept + r->slope * (lx ? pow(10, xv) : xv);
        if (ly && !(yv > 0))
            continue;
        int py = (int)lround((p1 - ax(yv, ly)) / (p1 - p0) * (c->ph - 1));
        if (py < -c->ph || py > 2 * c->ph)
            continue;
        if (prev >= 0 && abs(py - prev) > 1)
            draw_canvas_line(c, px - 1, prev, px, py, DP_PLOT2);
        else
            draw_canvas_set(c, px, py, DP_PLOT2);
        prev = py;
    }
}

static void draw_scatter(struct tui *t, int y0, int h)
{
    struct vm_corr *v = &st(t)->vm;
    const struct corr_result *r = &v->res;
    char line[256];
    snprintf(line, sizeof line,
             "Pearson r %.4f (p %.3g, 95%% CI %.3f..%.3f)  Spearman rho %.4f (p %.3g)  n %zu", r->r,
             r->r_p, r->r_lo, r->r_hi, r->rho, r->rho_p, r->n);
    if ((int)strlen(line) > t->w) /* every number whole at 80 columns */
        snprintf(line, sizeof line, "r %.4f (p %.2g, CI %.2f..%.2f)  rho %.4f (p %.2g)  n %zu", r->r,
                 r->r_p, r->r_lo, r->r_hi, r->rho, r->rho_p, r->n);
    if (v->rc == 0)
        draw_text(y0, 0, t->w, line, A_BOLD);
    else
        draw_textf(y0, 0, t->w, draw_attr(DP_ERR), "n %zu: %s", v->n, v->msg);
    if (v->n == 0)
        return;
    int lx = want_log(v->xs, v->n), ly = want_log(v->ys, v->n);
    double x0 = INFINITY, x1 = -INFINITY, p0 = INFINITY, p1 = -INFINITY;
    for (size_t i = 0; i < v->n; i++) {
        x0 = fmin(x0, ax(v->xs[i], lx));
        x1 = fmax(x1, ax(v->xs[i], lx));
        p0 = fmin(p0, ax(v->ys[i], ly));
        p1 = fmax(p1, ax(v->ys[i], ly));
    }
    if (!(x1 > x0)) { x0 -= 0.5; x1 += 0.5; }
    if (!(p1 > p0)) { p0 -= 0.5; p1 += 0.5; }
    struct draw_canvas c;
    int cw = t->w - 10, ch = h - 3;
    if (ch < 2 || draw_canvas_init(&c, cw, ch) < 0)
        return;
    if (v->rc == 0)
        fit_line(&c, r, lx, ly, x0, x1, p0, p1);
    for (size_t i = 0; i < v->n; i++)
        draw_canvas_set(&c, (int)lround((ax(v->xs[i], lx) - x0) / (x1 - x0) * (c.pw - 1)),
                        (int)lround((p1 - ax(v->ys[i], ly)) / (p1 - p0) * (c.ph - 1)), DP_MARK);
    draw_canvas_blit(&c, y0 + 1, 8);
    draw_textf(y0 + 1, 0, 8, A_DIM, "%.4g", ly ? pow(10, p1) : p1);
    draw_textf(y0 + ch, 0, 8, A_DIM, "%.4g", ly ? pow(10, p0) : p0);
    char right[48];
    int rl = snprintf(right, sizeof right, "%.4g%s", lx ? pow(10, x1) : x1, lx ? " (log x)" : "");
    draw_textf(y0 + ch + 1, 8, t->w - 8, A_DIM, "%.4g", lx ? pow(10, x0) : x0);
    draw_text(y0 + ch + 1, t->w - rl > 20 ? t->w - rl : 20, rl, right, A_DIM);
    draw_canvas_free(&c);
}

static void draw_table(struct tui *t, int y0, int h)
{
    struct vm_corr *v = &st(t)->vm;
    draw_textf(y0, 0, t->w, A_BOLD | A_UNDERLINE, "%-36s %8s %9s %8s %9s %5s", "Y (benchmark)",
               "r", "p", "rho", "p", "n");
    int row = 0;
    double sum = 0;
    int cnt = 0;
    for (int i = v->n_bench_from; i < v->n_vars; i++) {
        struct corr_result r;
        if (vm_corr_pair(v, v->x, i, &r) < 0)
            continue;
        sum += fabs(r.r);
        cnt++;
        if (row < h - 2)
            draw_textf(y0 + 1 + row++, 0, t->w, i == v->y ? draw_attr(DP_SEL) : (int)A_NORMAL,
                       "%-36.36s %8.4f %9.3g %8.4f %9.3g %5zu", v->vars[i], r.r, r.r_p, r.rho,
                       r.rho_p, r.n);
    }
    draw_textf(y0 + h - 1, 0, t->w, A_BOLD, "mean |r| over %d benchmarks with >= 3 pairs: %.4f", cnt,
               cnt ? sum / cnt : 0);
}

static void corr_draw(struct tui *t, int y0, int h)
{
    struct tui_corr *c = st(t);
    if (c->loaded_gen != t->runs_gen)
        corr_load(t);
    struct vm_corr *v = &c->vm;
    if (v->n_vars == 0) {
        draw_text(y0 + 1, 2, t->w - 2, "The results store is empty (no bundled data found; set QLENS_ASSETS).", A_BOLD);
        return;
    }
    /* The user's runs join the plot only with benchmark scores: say how. */
    int mine = 0, scored = 0;
    for (int i = 0; i < v->s.n; i++)
        if (!strcmp(v->s.e[i].source, "qlens dashboard run")) {
            mine++;
            scored += v->s.e[i].n_bench > 0;
        }
    if (mine > 0 && scored == 0 && h > 8) {
        h--;
        draw_textf(y0 + h, 0, t->w, A_BOLD, "Your %d runs have no benchmark scores yet: qlens results "
                   "import LM-EVAL.json --into %s", mine, view_runs_session_path(t));
    }
    draw_textf(y0, 0, t->w, A_NORMAL, "X: %s   Y: %s   models: %s   where: %s   (%d entries)",
               v->vars[v->x], v->vars[v->y], v->fam[v->f], v->where_text[0] ? v->where_text : "-",
               v->s.n);
    if (c->table)
        draw_table(t, y0 + 1, h - 1);
    else
        draw_scatter(t, y0 + 1, h - 1);
}

static int corr_act(struct tui *t, enum ui_act a, int shown)
{
    if (!shown)
        return 0;
    struct tui_corr *c = st(t);
    struct vm_corr *v = &c->vm;
    if (a == UA_CORR_WHERE) {
        tui_prompt(t, UV_CORR, a, "where");
        return 1;
    }
    if (v->n_vars == 0)
        return 0;
    switch (a) {
    /* Only variables that have pairs: a filtered store has few. */
    case UA_CORR_X: case UA_DOWN: vm_corr_step(v, 0, 1); return 1;
    case UA_UP: vm_corr_step(v, 0, -1); return 1;
    case UA_CORR_Y: case UA_PGDN: vm_corr_step(v, 1, 1); return 1;
    case UA_PGUP: vm_corr_step(v, 1, -1); return 1;
    case UA_CORR_FILTER: v->f = (v->f + 1) % (v->n_fam ? v->n_fam : 1); break;
    case UA_CORR_TABLE: c->table = !c->table; return 1;
    default: return 0;
    }
    vm_corr_compute(v);
    return 1;
}

static void corr_prompt_done(struct tui *t, enum ui_act a, const char *s)
{
    struct vm_corr *v = &st(t)->vm;
    struct qerr err;
    qerr_clear(&err);
    if (a != UA_CORR_WHERE)
        return;
    if (vm_corr_set_where(v, s, &err) < 0)
        tui_msg(t, 1, "%s", err.msg);
    else
        tui_msg(t, 0, s[0] ? "where %s: %zu pairs" : "where cleared%s: %zu pairs", s, v->n);
}

static int corr_init(struct tui *t)
{
    struct tui_corr *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    vm_corr_init(&c->vm);
    c->loaded_gen = -1;
    t->vs[UV_CORR] = c;
    return 0;
}

static void corr_free(struct tui *t)
{
    struct tui_corr *c = st(t);
    if (!c)
        return;
    vm_corr_free(&c->vm);
    free(c);
    t->vs[UV_CORR] = NULL;
}

const struct view_ops view_corr_ops = {
    .name = "Correlation",
    .min_w = 40,
    .min_h = 6,
    .init = corr_init,
    .free = corr_free,
    .draw = corr_draw,
    .act = corr_act,
    .prompt_done = corr_prompt_done,
};
