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

#include "analysis/results.h"
#include "src/paths.h"
#include "ui/draw.h"
#include "ui/tui_int.h"
#include "ui/view_runs.h"
#include "ui/vm_corr.h"

struct tui_corr {
    struct vm_corr vm;
    int loaded_gen;               /* t->runs_gen of the loaded store, -1  */
    int table;                    /* 1: r of X against every benchmark    */
    char import_label[300];       /* the prompt: which run an import joins */
};

static struct tui_corr *st(struct tui *t) { return t->vs[UV_CORR]; }

/* Papers' data plus this session's runs (all models in the session file);
 * the session's entries are marked as the user's own. */
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
    int x = c->vm.n_vars ? c->vm.x : -1, y = c->vm.n_vars ? c->vm.y : -1;
    char xn[104] = "", yn[104] = "";
    if (x >= 0) { /* by name: an import may add variables before them */
        snprintf(xn, sizeof xn, "%s", c->vm.vars[x]);
        snprintf(yn, sizeof yn, "%s", c->vm.vars[y]);
    }
    vm_corr_set_store(&c->vm, &s);
    int nx = vm_corr_var(&c->vm, xn), ny = vm_corr_var(&c->vm, yn);
    if (nx >= 0 && ny >= 0) {
        c->vm.x = nx;
        c->vm.y = ny;
    }
    vm_corr_set_mine(&c->vm, &mine);
    vm_corr_autopick(&c->vm);
    results_store_free(&mine);
    results_store_free(&s);
}

static double ax(double v, int lg) { return lg ? log10(v) : v; }

/* The least-squares line of the drawn axes (vm: fitted in log10 where an
 * axis is log), sampled per dot column: straight on any axis. */
static void fit_line(struct draw_canvas *c, const struct corr_result *f, double x0, double x1,
                     double p0, double p1)
{
    int prev = -1;
    for (int px = 0; px < c->pw; px++) {
        double xv = x0 + (x1 - x0) * px / (c->pw > 1 ? c->pw - 1 : 1);
        double yv = f->intercept + f->slope * xv;
        int py = (int)lround((p1 - yv) / (p1 - p0) * (c->ph - 1));
        if (py < -c->ph || py > 2 * c->ph) {
            prev = -1;
            continue;
        }
        if (prev >= 0 && abs(py - prev) > 1)
            draw_canvas_line(c, px - 1, prev, px, py, DP_PLOT2);
        else
            draw_canvas_set(c, px, py, DP_PLOT2);
        prev = py;
    }
}

/* Colour of legend key k (the letter says it without colour). */
static int key_attr(const struct vm_corr_key *k, int idx)
{
    static const int roles[] = {DP_PLOT, DP_EASY, DP_MOD, DP_HARD, DP_EXTREME, DP_GRID};
    int a = draw_attr(roles[idx % 6]) | A_BOLD;
    return k->mine ? a | (int)A_REVERSE : a;
}

/* The points as their legend letters over the canvas (after the blit):
 * dot (px, py) is in character (px * w / pw, py * h / ph).  Keys with
 * fewer points go on top (three BF16 points stay visible among SpQR's),
 * the user's runs last. */
static void draw_points(const struct vm_corr *v, const struct draw_canvas *c, int y, int x,
                        double x0, double x1, double p0, double p1)
{
    int order[VM_CORR_KEYS], n = 0;
    for (int k = 0; k < v->n_keys; k++) {
        int j = n++;
        for (; j > 0; j--) { /* insertion: mine last, then fewer points later */
            const struct vm_corr_key *a = &v->keys[order[j - 1]], *b = &v->keys[k];
            if (a->mine < b->mine || (a->mine == b->mine && a->n >= b->n))
                break;
            order[j] = order[j - 1];
        }
        order[j] = k;
    }
    for (int o = 0; o < n; o++)
        for (size_t i = 0; i < v->n; i++) {
            if (v->pk[i] != order[o])
                continue;
            const struct vm_corr_key *k = &v->keys[v->pk[i]];
            int px = (int)lround((ax(v->xs[i], v->lx) - x0) / (x1 - x0) * (c->pw - 1));
            int py = (int)lround((p1 - ax(v->ys[i], v->ly)) / (p1 - p0) * (c->ph - 1));
            char l[2] = {k->letter, 0};
            draw_text(y + py * c->h / c->ph, x + px * c->w / c->pw, 1, l, key_attr(k, v->pk[i]));
        }
}

/* "G GPTQ 12  S SpQR 21  f float (yours) 1  line: least squares in log x". */
static void draw_legend(struct tui *t, int y, const struct vm_corr *v)
{
    int x = draw_text(y, 0, t->w, "legend: ", A_DIM);
    for (int k = 0; k < v->n_keys && x < t->w; k++) {
        const struct vm_corr_key *kk = &v->keys[k];
        char l[2] = {kk->letter, 0};
        x += draw_text(y, x, t->w - x, l, key_attr(kk, k));
        x += draw_textf(y, x, t->w - x, A_NORMAL, " %s%s %d  ", kk->method,
                        kk->mine ? " (your runs)" : "", kk->n);
    }
}

/* "line: mmlu = 70.1 - 5.31 log10(ppl_mean)": what the drawn line is. */
static void fit_text(const struct vm_corr *v, char *buf, int cap, int w)
{
    const struct corr_result *f = &v->fit;
    char xs[120], ys[120];
    snprintf(xs, sizeof xs, v->lx ? "log10(%s)" : "%s", v->vars[v->x]);
    snprintf(ys, sizeof ys, v->ly ? "log10(%s)" : "%s", v->vars[v->y]);
    if (v->fit_rc < 0)
        snprintf(buf, (size_t)cap, "no line");
    else {
        int n = snprintf(buf, (size_t)cap, "line: %s = %.4g %c %.4g %s", ys, f->intercept,
                         f->slope < 0 ? '-' : '+', fabs(f->slope), xs);
        const char *why = v->lx || v->ly ? " (least squares in the log axes drawn)"
                                         : " (least squares)";
        if (n > 0 && n + (int)strlen(why) <= w && n < cap) /* narrow: the equation whole */
            snprintf(buf + n, (size_t)(cap - n), "%s", why);
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
    int lx = v->lx, ly = v->ly;
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
    int cw = t->w - 10, ch = h - 5;
    if (ch < 2 || draw_canvas_init(&c, cw, ch) < 0)
        return;
    if (v->fit_rc == 0)
        fit_line(&c, &v->fit, x0, x1, p0, p1);
    draw_canvas_blit(&c, y0 + 1, 8);
    draw_points(v, &c, y0 + 1, 8, x0, x1, p0, p1);
    draw_textf(y0 + 1, 0, 8, A_DIM, "%.4g", ly ? pow(10, p1) : p1);
    draw_textf(y0 + ch, 0, 8, A_DIM, "%.4g", ly ? pow(10, p0) : p0);
    if (ly)
        draw_text(y0 + 2, 0, 8, "(log y)", A_DIM);
    char right[48];
    int rl = snprintf(right, sizeof right, "%.4g%s", lx ? pow(10, x1) : x1, lx ? " (log x)" : "");
    draw_textf(y0 + ch + 1, 8, t->w - 8, A_DIM, "%.4g", lx ? pow(10, x0) : x0);
    draw_text(y0 + ch + 1, t->w - rl > 20 ? t->w - rl : 20, rl, right, A_DIM);
    char ft[400];
    fit_text(v, ft, sizeof ft, t->w);
    draw_text(y0 + ch + 2, 0, t->w, ft, A_NORMAL);
    draw_legend(t, y0 + ch + 3, v);
    draw_canvas_free(&c);
}

static void draw_table(struct tui *t, int y0, int h)
{
    struct vm_corr *v = &st(t)->vm;
    draw_textf(y0, 0, t->w, A_BOLD | A_UNDERLINE, "%-36s %8s %9s %8s %9s %5s", "Y (benchmark)",
               "r", "p", "rho", "p", "n");
    int row = 0;
    for (int i = v->n_bench_from; i < v->n_vars; i++) {
        struct corr_result r;
        if (i == v->x || vm_corr_pair(v, v->x, i, &r) < 0)
            continue;
        if (row < h - 2)
            draw_textf(y0 + 1 + row++, 0, t->w, i == v->y ? draw_attr(DP_SEL) : (int)A_NORMAL,
                       "%-36.36s %8.4f %9.3g %8.4f %9.3g %5zu", v->vars[i], r.r, r.r_p, r.rho,
                       r.rho_p, r.n);
    }
    int cnt;
    double m = vm_corr_mean_abs_r(v, &cnt);
    char paper[96] = "";
    if (!strcmp(v->where_text, VM_CORR_JIN_WHERE) && v->f == 0 && !strcmp(v->vars[v->x], "ppl_mean"))
        snprintf(paper, sizeof paper, "   (Jin et al. Table 3 reports %.4f)", VM_CORR_JIN_PAPER_R);
    draw_textf(y0 + h - 1, 0, t->w, A_BOLD, "mean |r| over %d benchmarks with >= 3 pairs: %.4f%s",
               cnt, m, paper);
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
    /* The user's runs join the plot only with both values: say how. */
    int scored = 0;
    for (int i = 0; i < v->s.n; i++)
        scored += v->mine && v->mine[i] && v->s.e[i].n_bench > 0;
    if (v->n_mine > 0 && v->n_mine_shown == 0 && h > 8) {
        h--;
        char m[600];
        if (scored == 0)
            snprintf(m, sizeof m, "Your %d runs have no benchmark scores yet: i imports an lm-eval "
                     "results file (or qlens results import LM-EVAL.json --into %s)", v->n_mine,
                     view_runs_session_path(t));
        else
            snprintf(m, sizeof m, "Your %d runs are not in this plot: none has both %s and %s "
                     "(x/y pick others; i imports more)", v->n_mine, v->vars[v->x], v->vars[v->y]);
        if ((int)strlen(m) > t->w) /* 80 columns: what to do, whole */
            snprintf(m, sizeof m, scored == 0 ? "Your %d runs have no benchmark scores: i imports "
                     "lm-eval results" : "Your %d runs lack X or Y here: x/y pick others, i imports",
                     v->n_mine);
        draw_text(y0 + h, 0, t->w, m, A_BOLD);
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
    if (a == UA_CORR_IMPORT) {
        struct results_import_opts o;
        char to[200];
        view_runs_import_defaults(t, &o, to, sizeof to);
        snprintf(c->import_label, sizeof c->import_label,
                 "import lm-eval JSON for %s (or add: method M bits W group N)", to);
        tui_prompt(t, UV_CORR, a, c->import_label);
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
    case UA_CORR_PRESET:
        vm_corr_preset_jin(v);
        c->table = 1;
        tui_msg(t, 0, "Jin et al. Table 3: where %s, X ppl_mean; t shows the scatter",
                VM_CORR_JIN_WHERE);
        return 1;
    default: return 0;
    }
    vm_corr_compute(v);
    vm_corr_autopick(v);
    return 1;
}

/* Import the file the prompt names into the session file; the view then
 * reloads (runs_gen) and shows the joined runs. */
static void corr_import(struct tui *t, const char *cmd)
{
    struct qerr err;
    qerr_clear(&err);
    if (!cmd[0])
        return;
    struct results_import_opts o;
    char desc[200], sum[300];
    view_runs_import_defaults(t, &o, desc, sizeof desc);
    if (vm_corr_import(view_runs_session_path(t), cmd, &o, sum, sizeof sum, &err) < 0) {
        tui_msg(t, 1, "import: %s", err.msg);
        return;
    }
    tui_msg(t, 0, "%s into %s", sum, view_runs_session_path(t));
    t->runs_gen++;
}

static void corr_prompt_done(struct tui *t, enum ui_act a, const char *s)
{
    struct vm_corr *v = &st(t)->vm;
    struct qerr err;
    qerr_clear(&err);
    if (a == UA_CORR_IMPORT) {
        corr_import(t, s);
        return;
    }
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
