/* view_plan: mixed precision.  A heatmap of tensors x candidates coloured
 * by the measured KL divergence when only that tensor is quantized
 * (src/sens.h, measured on the worker and cached), the budget in bits per
 * weight changed with keys, the plan it buys (the exact knapsack of
 * analysis/plan.h) marked in the heatmap and drawn as a strip per layer,
 * and the Pareto plot (bits/weight vs KL): the predicted front, the
 * uniform candidates, the plan, the cursor's configuration, and what the
 * apply-and-evaluate job measured.  Model in ui/vm_plan.c. */
#define _XOPEN_SOURCE_EXTENDED 1
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui/draw.h"
#include "ui/jobs_plan.h"
#include "ui/tui_int.h"
#include "ui/view_runs.h"
#include "ui/vm_plan.h"

#define NAME_W 18                 /* tensor name column                    */
#define WIDE_CELL 12              /* mark, 2 heat, space, "1.95e-02", space */
#define NARROW_CELL 4             /* mark, 2 heat, space                   */
#define RIGHT_MIN 34              /* columns the strip and plot need       */

struct tui_plan {
    struct vm_plan vm;
    char cands[256];              /* the candidate list of the next S      */
};

static struct tui_plan *st(struct tui *t) { return t->vs[UV_PLAN]; }

/* ---- jobs ---- */

static int plan_start(struct tui *t, enum job_kind kind)
{
    struct tui_plan *p = st(t);
    if (tui_job_busy(t))
        return -1;
    struct jobs_ctx *j = calloc(1, sizeof *j);
    struct jobs_plan *jp = calloc(1, sizeof *jp);
    if (!j || !jp) {
        free(j), free(jp);
        return -1;
    }
    j->kind = kind;
    j->data = &t->data;
    j->plan = jp;
    char label[300];
    if (kind == JOB_SENS) {
        snprintf(jp->cands, sizeof jp->cands, "%s", p->cands);
        snprintf(label, sizeof label, "sensitivity %s", p->cands);
    } else {
        struct vm_plan *v = &p->vm;
        jp->src = &v->s;
        jp->pick = malloc((size_t)v->s.n_t * sizeof *jp->pick);
        if (!jp->pick) {
            free(jp), free(j);
            return -1;
        }
        memcpy(jp->pick, v->pick, (size_t)v->s.n_t * sizeof *jp->pick);
        snprintf(label, sizeof label, "plan %.3f b/w + %d uniform: measure", v->plan.bpw,
                 v->s.n_c);
    }
    return tui_start_job(t, j, UV_PLAN, label);
}

static void sens_done(struct tui *t, struct jobs_plan *jp, int rc)
{
    struct vm_plan *v = &st(t)->vm;
    struct sens *s = &jp->s;
    int cells = s->n_t * s->n_c, reused = s->n_reused, computed = s->n_computed;
    char note[sizeof s->cache_note];
    snprintf(note, sizeof note, "%s", s->cache_note);
    if (jp->have_s && s->n_t > 0 && s->cell && vm_plan_take(v, s) < 0)
        rc = qerr_set(&t->job.err, QERR_NOMEM, "out of memory");
    if (rc < 0 && rc != QERR_CANCEL)
        tui_msg(t, 1, "sensitivity: %s", t->job.err.msg);
    else if (rc == QERR_CANCEL)
        tui_msg(t, 0, "sensitivity cancelled: %d of %d cells done (kept in the cache)",
                reused + computed, cells);
    else if (note[0])
        tui_msg(t, 1, "%s", note);
    else
        tui_msg(t, 0, "sensitivity: %d cells measured, %d from the cache", computed, reused);
}

static void eval_done(struct tui *t, struct jobs_plan *jp, int rc)
{
    struct vm_plan *v = &st(t)->vm;
    if (rc < 0) {
        tui_msg(t, rc != QERR_CANCEL, "plan measurement: %s",
                rc == QERR_CANCEL ? "cancelled" : t->job.err.msg);
        return;
    }
    vm_plan_take_meas(v, jp->m, jp->n_m);
    jp->m = NULL;
    /* the plan is a run like any other: a row of the Runs view */
    int kept = jp->have_run && view_runs_add(t, &jp->run, 0) == 0;
    if (jp->have_run && !kept)
        return; /* the status line says why it is not in Runs */
    const struct jobs_plan_meas *m = &v->meas[0];
    tui_msg(t, 0, "plan measured: %.3f b/w, KL %.5f (predicted %.5f), PPL %.4f (float %.4f)%s",
            m->bpw, m->kl, v->plan.kl, m->ppl, m->base_ppl, kept ? "; in Runs (4)" : "");
}

static void plan_job_done(struct tui *t, struct jobs_ctx *j, int rc)
{
    struct jobs_plan *jp = j->plan;
    if (!jp)
        return;
    if (j->kind == JOB_SENS)
        sens_done(t, jp, rc);
    else
        eval_done(t, jp, rc);
    jobs_plan_free(jp);
    free(jp);
    j->plan = NULL;
}

/* ---- drawing ---- */

static int bits_attr(int bits)
{
    return bits <= 2 ? draw_attr(DP_EXTREME) : bits <= 3 ? draw_attr(DP_HARD)
         : bits <= 5 ? draw_attr(DP_MOD) : draw_attr(DP_EASY);
}

/* Bits a candidate spends, rounded (ggml types: their bits/weight). */
static int cand_bits(const struct vm_plan *v, int ti, int ci)
{
    const struct sens_cand *c = &v->s.c[ci];
    if (c->spec.bits > 0 && c->spec.bits <= 16 && c->spec.method->apply != ggml_method_apply)
        return c->spec.bits;
    return (int)lround(vm_plan_cell(v, ti, ci)->bpw);
}

/* [space][heat heat][mark][KL value]: the mark points at the value. */
static void draw_cell(const struct vm_plan *v, int y, int x, int ti, int ci, int cw)
{
    const struct sens_cell *c = vm_plan_cell(v, ti, ci);
    int chosen = v->solved && v->pick[ti] == ci, cur = ti == v->row && ci == v->col;
    int lev = c->done ? vm_plan_level(v, c->kl_mean, draw.nlev) : -1;
    draw_heat1(y, x + 1, lev, 0, cur);
    draw_heat1(y, x + 2, lev, 0, cur);
    draw_text(y, x + 3, 1, chosen ? ">" : " ", draw_attr(DP_MARK) | A_BOLD);
    if (cw >= WIDE_CELL) {
        int a = (cur ? A_REVERSE : 0) | (chosen ? A_BOLD : 0);
        if (c->done)
            draw_textf(y, x + 4, 8, a, "%8.2e", c->kl_mean);
        else
            draw_text(y, x + 4, 8, "       -", a | A_DIM);
    }
}

static void draw_heatmap(struct tui *t, struct vm_plan *v, int y0, int h, int cw)
{
    int nc = v->s.n_c;
    draw_text(y0, 0, NAME_W, "tensor", A_BOLD);
    /* numbered as the uniform points of the plot (1-9) */
    for (int ci = 0; ci < nc; ci++)
        draw_textf(y0, NAME_W + ci * cw + 1, cw - 1, A_BOLD | (ci == v->col ? A_UNDERLINE : 0),
                   cw >= WIDE_CELL ? "%d %s" : "%d", ci + 1, v->s.c[ci].label);
    int rows = h - 1;
    vm_plan_move(v, 0, 0, rows);
    t->list_y0 = y0 + 1;
    t->list_h = rows;
    for (int r = 0; r < rows && v->top + r < v->s.n_t; r++) {
        int ti = v->top + r;
        draw_text(y0 + 1 + r, 0, NAME_W - 1, v->s.t[ti].name,
                  ti == v->row ? draw_attr(DP_SEL) : (int)A_NORMAL);
        for (int ci = 0; ci < nc; ci++)
            draw_cell(v, y0 + 1 + r, NAME_W + ci * cw, ti, ci, cw);
    }
}

static void draw_legend(struct tui *t, const struct vm_plan *v, int y, int w)
{
    int x = draw_textf(y, 0, w, A_DIM, "KL (log) %.1e ", v->kl_lo);
    for (int l = 0; l < draw.nlev && x < w; l++)
        draw_heat1(y, x++, l, 0, 0);
    draw_textf(y, x, w - x, A_DIM, " %.1e   > plan's choice   cursor: reverse", v->kl_hi);
    (void)t;
}

/* Roles of the strip, in block order. */
static const enum qrole strip_roles[] = {QR_ATTN_Q, QR_ATTN_K, QR_ATTN_V, QR_ATTN_OUT,
                                         QR_FFN_GATE, QR_FFN_UP, QR_FFN_DOWN};
#define N_STRIP ((int)(sizeof strip_roles / sizeof strip_roles[0]))

/* One row per layer: the bits of each tensor's chosen candidate. */
static int draw_strip(struct tui *t, const struct vm_plan *v, int y0, int x0, int w, int h)
{
    draw_text(y0, x0, w, "layer q k v o g u d  (bits of the plan)", A_BOLD);
    int n_layers = v->s.n_t ? v->s.t[v->s.n_t - 1].layer + 1 : 0;
    int cur = v->s.t[v->row].layer, rows = h - 1 < n_layers ? h - 1 : n_layers;
    int first = cur >= rows ? cur - rows + 1 : 0;
    for (int r = 0; r < rows; r++)
        draw_textf(y0 + 1 + r, x0, 6, first + r == cur ? A_BOLD : A_DIM, "%5d", first + r);
    for (int ti = 0; v->solved && ti < v->s.n_t; ti++) {
        const struct sens_tensor *s = &v->s.t[ti];
        int r = s->layer - first, k = 0;
        while (k < N_STRIP && strip_roles[k] != s->role)
            k++;
        if (r < 0 || r >= rows || k == N_STRIP)
            continue;
        char b[12];
        int bits = cand_bits(v, ti, v->pick[ti]);
        snprintf(b, sizeof b, "%d", bits > 9 ? 9 : bits);
        draw_text(y0 + 1 + r, x0 + 6 + 2 * k, 1, b,
                  bits_attr(bits) | (ti == v->row ? A_REVERSE : 0));
    }
    (void)t;
    return rows + 1;
}

struct plot_pt {
    double bpw, kl;
    char mark;
};

static int plot_points(const struct vm_plan *v, struct plot_pt *p)
{
    int n = 0;
    for (int c = 0; c < v->s.n_c && c < 9; c++)
        p[n++] = (struct plot_pt){v->uni[c].bpw, v->uni[c].kl, (char)('1' + c)};
    for (int k = 0; k < v->n_meas; k++)
        p[n++] = (struct plot_pt){v->meas[k].bpw, v->meas[k].kl, k ? 'u' : 'm'};
    if (v->solved) {
        struct vm_plan_pt c = vm_plan_cursor(v);
        p[n++] = (struct plot_pt){c.bpw, c.kl, '+'};
        p[n++] = (struct plot_pt){v->plan.bpw, v->plan.kl, 'P'};
    }
    return n;
}

/* Log-scale KL axis: row of kl in [0, rows-1] (0 at the top). */
static double ky(double kl, double lo, double hi, int rows)
{
    double f = (log(hi) - log(fmax(kl, lo))) / (log(hi) - log(lo));
    return f * (rows - 1);
}

static void draw_pareto(struct tui *t, const struct vm_plan *v, int y0, int x0, int w, int h)
{
    struct plot_pt pts[32];
    int n = plot_points(v, pts);
    double xl = v->lo_bpw, x1 = v->hi_bpw, lo = INFINITY, hi = 0;
    for (int i = 0; i < n; i++) {
        xl = fmin(xl, pts[i].bpw), x1 = fmax(x1, pts[i].bpw);
        if (pts[i].kl > 0)
            lo = fmin(lo, pts[i].kl), hi = fmax(hi, pts[i].kl);
    }
    for (int i = 0; i < v->n_front; i++)
        if (v->front[i].kl > 0)
            lo = fmin(lo, v->front[i].kl), hi = fmax(hi, v->front[i].kl);
    if (!(x1 > xl))
        x1 = xl + 1;
    if (!(hi > 0))
        lo = 1e-6, hi = 1;
    lo *= 0.8, hi *= 1.25;
    draw_textf(y0, x0, w, A_BOLD, "bits/weight (x) vs KL (y, log)");
    int cw = w - 8, ch = h - 3;
    struct draw_canvas c;
    if (ch < 3 || cw < 10 || draw_canvas_init(&c, cw, ch) < 0)
        return;
    for (int i = 1; i < v->n_front; i++) {
        const struct vm_plan_pt *a = &v->front[i - 1], *b = &v->front[i];
        draw_canvas_line(&c, (int)lround((a->bpw - xl) / (x1 - xl) * (c.pw - 1)),
                         (int)lround(ky(a->kl, lo, hi, c.ph)),
                         (int)lround((b->bpw - xl) / (x1 - xl) * (c.pw - 1)),
                         (int)lround(ky(b->kl, lo, hi, c.ph)), DP_PLOT2);
    }
    draw_canvas_blit(&c, y0 + 1, x0 + 8);
    draw_canvas_free(&c);
    /* markers as characters over the canvas: readable without colour */
    for (int i = 0; i < n; i++) {
        int cx = (int)lround((pts[i].bpw - xl) / (x1 - xl) * (cw - 1));
        int cy = (int)lround(ky(pts[i].kl, lo, hi, ch));
        char s[2] = {pts[i].mark, 0};
        int a = pts[i].mark == 'P' || pts[i].mark == 'm' ? draw_attr(DP_MARK) | (int)A_BOLD
              : pts[i].mark == '+' ? draw_attr(DP_SEL) : draw_attr(DP_PLOT);
        draw_text(y0 + 1 + cy, x0 + 8 + cx, 1, s, a);
    }
    draw_textf(y0 + 1, x0, 8, A_DIM, "%.1e", hi);
    draw_textf(y0 + ch, x0, 8, A_DIM, "%.1e", lo);
    draw_textf(y0 + ch + 1, x0 + 8, cw, A_DIM, "%-8.2f%*s%.2f", xl, cw - 16, "", x1);
    draw_text(y0 + ch + 2, x0, w,
              "P plan  + cursor  1-9 uniform  m/u measured plan/uniform  line: front",
              A_DIM);
    (void)t;
}

static void draw_info(struct tui *t, struct vm_plan *v, int y)
{
    if (!v->solved)
        draw_text(y, 0, t->w, v->why, draw_attr(DP_ERR));
    else {
        int x = draw_textf(y, 0, t->w, A_BOLD, "budget %.3f b/w", v->budget);
        x += draw_textf(y, x, t->w - x, A_NORMAL,
                        " (+/-, %.2f..%.2f)  plan %.3f b/w, predicted KL %.5f", v->lo_bpw,
                        v->hi_bpw, v->plan.bpw, v->plan.kl);
        if (v->n_meas)
            draw_textf(y, x, t->w - x, v->meas_stale ? A_DIM : A_BOLD,
                       "  measured %.5f%s", v->meas[0].kl,
                       v->meas_stale ? " (older plan; A measures)" : "");
    }
    const struct sens_cell *c = vm_plan_cell(v, v->row, v->col);
    struct vm_plan_pt cp = vm_plan_cursor(v);
    draw_textf(y + 1, 0, t->w, A_NORMAL,
               "%s x %s: KL %.3e p99 %.3e top-1 %.2f%% %.2f b/w  -> plan with it: %.3f b/w, KL "
               "%.5f", v->s.t[v->row].name, v->s.c[v->col].label, c->kl_mean, c->kl_p99,
               100 * c->top1, c->bpw, cp.bpw, cp.kl);
}

static void draw_empty(struct tui *t, int y0, int h)
{
    char msg[800];
    snprintf(msg, sizeof msg,
             "No sensitivity yet.  S measures, for every linear tensor and every candidate, "
             "the KL divergence against the float model when only that tensor is quantized "
             "(%d chunks of the evaluation text; cached, so the second time is instant).  "
             ": sets the candidates (now %s).  Then +/- set the budget in bits per weight, "
             "and A applies the plan and measures it beside every uniform candidate.",
             JOBS_PLAN_CHUNKS, st(t)->cands);
    draw_wrap(y0, 2, t->w - 3, h, msg, A_BOLD);
}

static void plan_draw(struct tui *t, int y0, int h)
{
    struct vm_plan *v = &st(t)->vm;
    draw_textf(y0, 0, t->w, A_NORMAL, "Mixed precision: %d tensors x %d candidates, %d chunks "
               "x %d tokens%s", v->have ? v->s.n_t : 0, v->have ? v->s.n_c : 0,
               JOBS_PLAN_CHUNKS, t->data.n_ctx, v->have && !v->complete ? "  INCOMPLETE" : "");
    if (!v->have) {
        draw_empty(t, y0 + 2, h - 2);
        return;
    }
    draw_info(t, v, y0 + 1);
    int body = h - 4, nc = v->s.n_c;
    int cw = t->w - NAME_W - nc * WIDE_CELL >= RIGHT_MIN ? WIDE_CELL : NARROW_CELL;
    int left = NAME_W + nc * cw, rw = t->w - left - 1;
    if (rw >= RIGHT_MIN) {
        draw_heatmap(t, v, y0 + 3, body, cw);
        int used = draw_strip(t, v, y0 + 3, left + 1, rw, body / 2 < 12 ? body / 2 : 12);
        draw_pareto(t, v, y0 + 3 + used, left + 1, rw, body - used);
    } else { /* too narrow for a side panel: the plot below */
        int hh = body / 2;
        draw_heatmap(t, v, y0 + 3, hh, cw);
        draw_pareto(t, v, y0 + 3 + hh, 0, t->w, body - hh);
    }
    draw_legend(t, v, y0 + h - 1, t->w);
}

/* ---- keys ---- */

static int plan_act(struct tui *t, enum ui_act a, int shown)
{
    if (!shown)
        return 0;
    struct vm_plan *v = &st(t)->vm;
    int page = t->list_h > 1 ? t->list_h : 10;
    switch (a) {
    case UA_PLAN_SENS: plan_start(t, JOB_SENS); return 1;
    case UA_PLAN_CANDS: tui_prompt(t, UV_PLAN, a, "candidates"); return 1;
    case UA_PLAN_BUDGET_UP: vm_plan_step_budget(v, 1); return 1;
    case UA_PLAN_BUDGET_DOWN: vm_plan_step_budget(v, -1); return 1;
    case UA_PLAN_EVAL:
        if (!v->solved)
            tui_msg(t, 1, "no plan to measure: %s", v->have ? v->why : "S measures first");
        else
            plan_start(t, JOB_PLAN_EVAL);
        return 1;
    case UA_UP: vm_plan_move(v, -1, 0, page); return 1;
    case UA_DOWN: vm_plan_move(v, 1, 0, page); return 1;
    case UA_PGUP: vm_plan_move(v, -page, 0, page); return 1;
    case UA_PGDN: vm_plan_move(v, page, 0, page); return 1;
    case UA_HOME: vm_plan_move(v, -v->row, 0, page); return 1;
    case UA_END: vm_plan_move(v, v->s.n_t, 0, page); return 1;
    case UA_LEFT: vm_plan_move(v, 0, -1, page); return 1;
    case UA_RIGHT: vm_plan_move(v, 0, 1, page); return 1;
    default: return 0;
    }
}

static void plan_prompt_done(struct tui *t, enum ui_act a, const char *s)
{
    struct tui_plan *p = st(t);
    struct sens_cand *c;
    int n;
    struct qerr err = {0};
    if (a != UA_PLAN_CANDS || !s[0])
        return;
    if (sens_parse_cands(s, &c, &n, &err) < 0) {
        tui_msg(t, 1, "%s", err.msg);
        return;
    }
    free(c);
    snprintf(p->cands, sizeof p->cands, "%s", s);
    tui_msg(t, 0, "candidates %s: S measures them", s);
}

static void plan_click(struct tui *t, int row, int col, int dbl)
{
    struct vm_plan *v = &st(t)->vm;
    (void)dbl;
    int cw = t->w - NAME_W - v->s.n_c * WIDE_CELL >= RIGHT_MIN ? WIDE_CELL : NARROW_CELL;
    int ci = col >= NAME_W ? (col - NAME_W) / cw : v->col;
    if (v->have && ci < v->s.n_c)
        vm_plan_move(v, v->top + row - v->row, ci - v->col, t->list_h);
}

/* k-quants need rows that are a multiple of 256; else RTN at group 32. */
static void default_cands(struct tui *t, char *buf, size_t n)
{
    const struct qconfig *c = &t->m.cfg;
    if (c->dim % 256 == 0 && c->hidden_dim % 256 == 0)
        snprintf(buf, n, "q2_k,q3_k,q4_k,q5_k,q6_k,q8_0");
    else
        snprintf(buf, n, "rtn:2:32,rtn:3:32,rtn:4:32,rtn:6:32,rtn:8:32");
}

static int plan_init(struct tui *t)
{
    struct tui_plan *p = calloc(1, sizeof *p);
    if (!p)
        return -1;
    vm_plan_init(&p->vm);
    default_cands(t, p->cands, sizeof p->cands);
    t->vs[UV_PLAN] = p;
    return 0;
}

static void plan_free(struct tui *t)
{
    struct tui_plan *p = st(t);
    if (!p)
        return;
    vm_plan_free(&p->vm);
    free(p);
    t->vs[UV_PLAN] = NULL;
}

const struct view_ops view_plan_ops = {
    .name = "Plan",
    .min_w = 40,
    .min_h = 8,
    .init = plan_init,
    .free = plan_free,
    .draw = plan_draw,
    .act = plan_act,
    .click = plan_click,
    .prompt_done = plan_prompt_done,
    .job_done = plan_job_done,
};
