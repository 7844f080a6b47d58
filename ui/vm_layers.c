/* vm_layers: rows, sorting, filtering and cell text of the Layers view. */
#include "ui/vm_layers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct vl_coldef vl_cols[VL__NCOL] = {
    {"Tensor", 22, 0}, {"Shape", 13, 0}, {"Type", 4, 0},   {"Std", 9, 1},
    {"AbsMax", 9, 1},  {"Kurt", 8, 1},   {"Out6sd%", 8, 1}, {"A.Std", 9, 1},
    {"A.AbsMax", 9, 1}, {"A.Kurt", 8, 1}, {"A.Out6%", 8, 1},
};

int vm_layers_kurt_level(double kurt)
{
    return kurt < 4 ? 0 : kurt < 10 ? 1 : kurt < 50 ? 2 : 3;
}

int vm_layers_difficulty(const struct qtensor *t, const struct stats *st)
{
    if (!qrole_is_linear(t->role) && t->role != QR_TOK_EMBD)
        return -1;
    return vm_layers_kurt_level(st->kurt);
}

static int group_of(const struct qmodel *m, const struct qtensor *t)
{
    if (t->layer >= 0)
        return t->layer;
    if (t->role == QR_TOK_EMBD)
        return -1;
    return m->cfg.n_layers > 0 ? m->cfg.n_layers : 1 << 20;
}

static int kind_of(const struct qtensor *t)
{
    if (t->layer < 0)
        return VLK_MAIN;
    switch (t->role) {
    case QR_ATTN_NORM: case QR_ATTN_Q: case QR_ATTN_K: case QR_ATTN_V: case QR_ATTN_OUT:
    case QR_ATTN_Q_BIAS: case QR_ATTN_K_BIAS: case QR_ATTN_V_BIAS:
        return VLK_ATTN;
    case QR_FFN_NORM: case QR_FFN_GATE: case QR_FFN_UP: case QR_FFN_DOWN:
        return VLK_FFN;
    default:
        return VLK_OTHER;
    }
}

static void group_name(const struct vm_layers *v, const struct qtensor *t, int kind,
                       char *buf, size_t cap)
{
    static const char *const kinds[] = {"", "attention", "FFN", "other"};
    if (t->layer >= 0)
        snprintf(buf, cap, "blk.%d %s", t->layer, kinds[kind]);
    else if (t->role == QR_TOK_EMBD)
        snprintf(buf, cap, "embedding");
    else
        snprintf(buf, cap, "%s", v->m->cfg.n_layers > 0 || t->role == QR_OUTPUT ||
                                         t->role == QR_OUT_NORM ? "output" : "other");
}

/* The group of row r (created on first use). */
static int find_group(struct vm_layers *v, struct vl_row *r)
{
    const struct qtensor *t = &v->m->tensors[r->tensor];
    int kind = kind_of(t);
    for (int g = v->n_groups - 1; g >= 0; g--)
        if (v->groups[g].group == r->group && v->groups[g].kind == kind)
            return g;
    struct vl_group *gr = &v->groups[v->n_groups];
    memset(gr, 0, sizeof *gr);
    gr->group = r->group;
    gr->kind = kind;
    group_name(v, t, kind, gr->name, sizeof gr->name);
    return v->n_groups++;
}

int vm_layers_init(struct vm_layers *v, struct qmodel *m,
                   int (*progress)(void *ctx, int done, int total), void *ctx)
{
    memset(v, 0, sizeof *v);
    v->m = m;
    v->n_rows = m->n_tensors;
    size_t n = (size_t)(m->n_tensors ? m->n_tensors : 1);
    v->rows = calloc(n, sizeof *v->rows);
    v->vis = calloc(n, sizeof *v->vis);
    v->groups = calloc(n, sizeof *v->groups);
    v->line = calloc(2 * n, sizeof *v->line); /* at most one header per row */
    if (!v->rows || !v->vis || !v->groups || !v->line) {
        vm_layers_free(v);
        return QERR_NOMEM;
    }
    struct stats_opts o;
    stats_opts_default(&o);
    int stop = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        struct qtensor *t = &m->tensors[i];
        struct vl_row *r = &v->rows[i];
        r->tensor = i;
        r->group = group_of(m, t);
        r->gi = find_group(v, r);
        v->groups[r->gi].n++;
        const float *x = stop ? NULL : qtensor_f32_orig(t);
        if (x)
            stats_compute(x, (size_t)t->nelem, &o, &r->st);
        r->difficulty = vm_layers_difficulty(t, &r->st);
        if (progress && !stop)
            stop = progress(ctx, i + 1, m->n_tensors);
    }
    vm_layers_sort(v, VL_NAME, 0);
    vm_layers_move(v, 1, 1 << 20); /* the first tensor, not its group's header */
    return 0;
}

void vm_layers_free(struct vm_layers *v)
{
    free(v->rows);
    free(v->vis);
    free(v->groups);
    free(v->line);
    memset(v, 0, sizeof *v);
}

int vm_layers_ncols(const struct vm_layers *v)
{
    return v->has_act ? VL__NCOL : VL_A_STD;
}

/* Sort key of a numeric column; NAN sorts last either way. */
static double num_key(const struct vm_layers *v, const struct vl_row *r, int col)
{
    const struct qtensor *t = &v->m->tensors[r->tensor];
    switch (col) {
    case VL_SHAPE: return (double)t->nelem;
    case VL_DTYPE: return (double)t->dtype;
    case VL_STD: return r->st.std;
    case VL_ABSMAX: return r->st.absmax;
    case VL_KURT: return r->st.kurt;
    case VL_OUTL: return r->st.frac_k6;
    case VL_A_STD: return r->has_act ? r->act.std : NAN;
    case VL_A_ABSMAX: return r->has_act ? r->act.absmax : NAN;
    case VL_A_KURT: return r->has_act ? r->act.kurt : NAN;
    case VL_A_OUTL: return r->has_act ? r->act.frac_abs : NAN;
    }
    return 0;
}

/* qsort has no context argument; the UI sorts from one thread only. */
static const struct vm_layers *sort_v;

static int cmp_model_order(const struct vm_layers *v, const struct vl_row *a,
                           const struct vl_row *b)
{
    if (a->group != b->group)
        return a->group < b->group ? -1 : 1;
    if (a->gi != b->gi)
        return v->groups[a->gi].kind - v->groups[b->gi].kind;
    return a->tensor - b->tensor;
}

static int cmp_rows(const void *pa, const void *pb)
{
    const struct vm_layers *v = sort_v;
    const struct vl_row *a = &v->rows[*(const int *)pa], *b = &v->rows[*(const int *)pb];
    int c = 0;
    if (v->sort_col != VL_NAME) {
        double x = num_key(v, a, v->sort_col), y = num_key(v, b, v->sort_col);
        if (isnan(x) != isnan(y))
            return isnan(x) ? 1 : -1; /* missing values last in both orders */
        if (!isnan(x) && x != y)
            c = x < y ? -1 : 1;
        if (c != 0)
            return v->sort_desc ? -c : c;
        return cmp_model_order(v, a, b); /* ties stay in model order */
    }
    c = cmp_model_order(v, a, b);
    return v->sort_desc ? -c : c;
}

/* The larger of a and b, ignoring NaN (NaN = nothing yet). */
static double max_nan(double a, double b)
{
    if (isnan(a))
        return b;
    return isnan(b) || b <= a ? a : b;
}

/* Fold row r (which passes the filter) into its group's summary; the
 * maxima are over the tensors a quantizer touches (difficulty >= 0). */
static void summarize(struct vm_layers *v, const struct vl_row *r)
{
    struct vl_group *g = &v->groups[r->gi];
    g->n_match++;
    g->params += (long long)v->m->tensors[r->tensor].nelem;
    if (r->difficulty < 0)
        return;
    g->n_quant++;
    g->absmax = max_nan(g->absmax, r->st.absmax);
    g->kurt = max_nan(g->kurt, r->st.kurt);
    g->outl = max_nan(g->outl, r->st.frac_k6);
    if (r->difficulty > g->difficulty)
        g->difficulty = r->difficulty;
    if (r->has_act) {
        g->has_act = 1;
        g->a_std = max_nan(g->a_std, r->act.std);
        g->a_absmax = max_nan(g->a_absmax, r->act.absmax);
        g->a_kurt = max_nan(g->a_kurt, r->act.kurt);
        g->a_outl = max_nan(g->a_outl, r->act.frac_abs);
    }
}

static void reset_summaries(struct vm_layers *v)
{
    for (int g = 0; g < v->n_groups; g++) {
        struct vl_group *gr = &v->groups[g];
        gr->n_match = gr->n_quant = gr->has_act = 0;
        gr->params = 0;
        gr->difficulty = -1;
        gr->absmax = gr->kurt = gr->outl = NAN;
        gr->a_std = gr->a_absmax = gr->a_kurt = gr->a_outl = NAN;
    }
}

/* Display lines from vis: a header before each group's first row, the
 * rows unless the group is collapsed; flat when sorted by a number. */
static void build_lines(struct vm_layers *v)
{
    v->grouped = v->sort_col == VL_NAME;
    v->n_lines = 0;
    int last = -1;
    for (int i = 0; i < v->n_vis; i++) {
        const struct vl_row *r = &v->rows[v->vis[i]];
        if (v->grouped && r->gi != last)
            v->line[v->n_lines++] = -1 - r->gi;
        last = r->gi;
        if (!v->grouped || !v->groups[r->gi].collapsed)
            v->line[v->n_lines++] = v->vis[i];
    }
}

/* Line showing row `row` (-1: none), else its group's header, else 0. */
static int line_of(const struct vm_layers *v, int row, int g)
{
    for (int i = 0; row >= 0 && i < v->n_lines; i++)
        if (v->line[i] == row)
            return i;
    for (int i = 0; g >= 0 && i < v->n_lines; i++) {
        int l = v->line[i];
        if (l == -1 - g || (l >= 0 && v->rows[l].gi == g))
            return i;
    }
    return 0;
}

/* First line to show so that line i is visible with its group's header
 * when that header is just above it. */
static int with_header(const struct vm_layers *v, int i)
{
    return i > 0 && v->line[i - 1] < 0 ? i - 1 : i;
}

static void rebuild(struct vm_layers *v)
{
    int keep_row = -1, keep_g = -1;
    if (v->sel >= 0 && v->sel < v->n_lines) {
        keep_row = v->line[v->sel];
        keep_g = keep_row >= 0 ? v->rows[keep_row].gi : -1 - keep_row;
        if (keep_row < 0)
            keep_row = -1;
    }
    reset_summaries(v);
    v->n_vis = 0;
    for (int i = 0; i < v->n_rows; i++)
        if (!v->filter[0] || strstr(v->m->tensors[v->rows[i].tensor].name, v->filter)) {
            v->vis[v->n_vis++] = i;
            summarize(v, &v->rows[i]);
        }
    sort_v = v;
    qsort(v->vis, (size_t)v->n_vis, sizeof *v->vis, cmp_rows);
    sort_v = NULL;
    build_lines(v);
    v->sel = line_of(v, keep_row, keep_g);
    if (v->top > v->sel)
        v->top = with_header(v, v->sel);
}

int vm_layers_line_group(const struct vm_layers *v, int i)
{
    if (i < 0 || i >= v->n_lines || v->line[i] >= 0)
        return -1;
    return -1 - v->line[i];
}

void vm_layers_toggle(struct vm_layers *v, int g)
{
    if (g < 0 || g >= v->n_groups || !v->grouped)
        return;
    v->groups[g].collapsed = !v->groups[g].collapsed;
    if (v->groups[g].collapsed && v->sel < v->n_lines && v->line[v->sel] >= 0 &&
        v->rows[v->line[v->sel]].gi == g)
        v->sel = line_of(v, -1, g); /* the header */
    rebuild(v);
}

int vm_layers_toggle_all(struct vm_layers *v)
{
    int all = 1;
    for (int g = 0; g < v->n_groups; g++)
        all = all && v->groups[g].collapsed;
    for (int g = 0; g < v->n_groups; g++)
        v->groups[g].collapsed = !all;
    if (!all && v->sel < v->n_lines && v->line[v->sel] >= 0)
        v->sel = line_of(v, -1, v->rows[v->line[v->sel]].gi);
    rebuild(v);
    return !all;
}

void vm_layers_sort(struct vm_layers *v, int col, int desc)
{
    if (col < 0 || col >= VL__NCOL)
        col = VL_NAME;
    v->sort_col = col;
    v->sort_desc = desc;
    rebuild(v);
}

void vm_layers_filter(struct vm_layers *v, const char *substr)
{
    snprintf(v->filter, sizeof v->filter, "%s", substr ? substr : "");
    rebuild(v);
}

/* Position in vis where a search starts: after the selected tensor, or
 * at the first tensor of the selected header's group. */
static int search_start(const struct vm_layers *v)
{
    if (v->sel < 0 || v->sel >= v->n_lines)
        return 0;
    int l = v->line[v->sel];
    for (int i = 0; i < v->n_vis; i++)
        if (l >= 0 ? v->vis[i] == l : v->rows[v->vis[i]].gi == -1 - l)
            return l >= 0 ? i + 1 : i;
    return 0;
}

int vm_layers_search(struct vm_layers *v, const char *substr)
{
    if (!substr || !*substr || v->n_vis == 0)
        return 0;
    if (substr != v->search) /* `n` repeats with v->search itself */
        snprintf(v->search, sizeof v->search, "%s", substr);
    int start = search_start(v);
    for (int k = 0; k < v->n_vis; k++) {
        int row = v->vis[(start + k) % v->n_vis];
        if (strstr(v->m->tensors[v->rows[row].tensor].name, substr)) {
            struct vl_group *g = &v->groups[v->rows[row].gi];
            if (v->grouped && g->collapsed) {
                g->collapsed = 0;
                build_lines(v);
            }
            v->sel = line_of(v, row, -1);
            return 1;
        }
    }
    return 0;
}

void vm_layers_move(struct vm_layers *v, int delta, int height)
{
    if (v->n_lines == 0)
        return;
    long s = (long)v->sel + delta;
    if (s < 0)
        s = 0;
    if (s >= v->n_lines)
        s = v->n_lines - 1;
    v->sel = (int)s;
    if (height < 1)
        height = 1;
    if (v->sel < v->top)
        v->top = height > 1 ? with_header(v, v->sel) : v->sel;
    if (v->sel >= v->top + height)
        v->top = v->sel - height + 1;
    if (v->top < 0)
        v->top = 0;
}

const struct vl_row *vm_layers_selected(const struct vm_layers *v)
{
    if (v->sel < 0 || v->sel >= v->n_lines || v->line[v->sel] < 0)
        return NULL;
    return &v->rows[v->line[v->sel]];
}

void vm_layers_select_tensor(struct vm_layers *v, int ti, int height)
{
    for (int i = 0; i < v->n_vis; i++) {
        int row = v->vis[i];
        if (v->rows[row].tensor != ti)
            continue;
        if (v->grouped && v->groups[v->rows[row].gi].collapsed) {
            v->groups[v->rows[row].gi].collapsed = 0;
            build_lines(v);
        }
        vm_layers_move(v, line_of(v, row, -1) - v->sel, height);
        return;
    }
}

static void fmt_num(double x, char *buf, size_t cap)
{
    if (isnan(x))
        snprintf(buf, cap, "-");
    else if (x != 0 && (fabs(x) < 1e-3 || fabs(x) >= 1e5))
        snprintf(buf, cap, "%.2e", x);
    else
        snprintf(buf, cap, "%.4g", x);
}

static void fmt_count(long long n, char *buf, size_t cap)
{
    if (n >= 1000000000LL)
        snprintf(buf, cap, "%.3gB", n / 1e9);
    else if (n >= 1000000)
        snprintf(buf, cap, "%.3gM", n / 1e6);
    else if (n >= 1000)
        snprintf(buf, cap, "%.3gK", n / 1e3);
    else
        snprintf(buf, cap, "%lld", n);
}

static void fmt_pct(double frac, char *buf, size_t cap)
{
    if (isnan(frac))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.3f", 100 * frac);
}

/* Header cells: name with fold mark and tensor count, parameters, maxima. */
static void header_cell(const struct vm_layers *v, const struct vl_group *g, int col,
                        char *buf, size_t cap)
{
    char n[24];
    switch (col) {
    case VL_NAME:
        if (g->n_match < g->n)
            snprintf(buf, cap, "%c %s (%d/%d)", g->collapsed ? '+' : '-', g->name, g->n_match, g->n);
        else
            snprintf(buf, cap, "%c %s (%d)", g->collapsed ? '+' : '-', g->name, g->n);
        return;
    case VL_SHAPE:
        fmt_count(g->params, n, sizeof n);
        snprintf(buf, cap, "%s params", n);
        return;
    case VL_ABSMAX: fmt_num(g->absmax, buf, cap); return;
    case VL_KURT: fmt_num(g->kurt, buf, cap); return;
    case VL_OUTL: fmt_pct(g->outl, buf, cap); return;
    case VL_A_STD: fmt_num(g->a_std, buf, cap); return;
    case VL_A_ABSMAX: fmt_num(g->a_absmax, buf, cap); return;
    case VL_A_KURT: fmt_num(g->a_kurt, buf, cap); return;
    case VL_A_OUTL: fmt_pct(g->a_outl, buf, cap); return;
    }
    (void)v;
}

void vm_layers_cell(const struct vm_layers *v, int i, int col, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (i < 0 || i >= v->n_lines)
        return;
    if (v->line[i] < 0) {
        header_cell(v, &v->groups[-1 - v->line[i]], col, buf, cap);
        return;
    }
    const struct vl_row *r = &v->rows[v->line[i]];
    const struct qtensor *t = &v->m->tensors[r->tensor];
    switch (col) {
    case VL_NAME: snprintf(buf, cap, "%s", t->name); return;
    case VL_SHAPE: qtensor_shape_str(t, "x", buf, cap); return;
    case VL_DTYPE: snprintf(buf, cap, "%s", qdtype_name(t->dtype)); return;
    case VL_OUTL: snprintf(buf, cap, "%.3f", 100 * r->st.frac_k6); return;
    case VL_A_OUTL:
        if (r->has_act)
            snprintf(buf, cap, "%.3f", 100 * r->act.frac_abs);
        else
            snprintf(buf, cap, "-");
        return;
    default: fmt_num(num_key(v, r, col), buf, cap);
    }
}

const struct vl_row *vm_layers_row(const struct vm_layers *v, int ti)
{
    return ti >= 0 && ti < v->n_rows ? &v->rows[ti] : NULL;
}

void vm_layers_set_act(struct vm_layers *v, int ti, const struct stats *act)
{
    if (ti < 0 || ti >= v->n_rows)
        return;
    v->rows[ti].act = *act;
    v->rows[ti].has_act = 1;
    v->has_act = 1;
    rebuild(v); /* group maxima */
}
