/* vm_layers: rows, sorting, filtering and cell text of the Layers view. */
#include "ui/vm_layers.h"

#include "src/mdiff.h"
#include "src/tstats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct vl_coldef vl_cols[VL__NCOL] = {
    {"Tensor", 22, 0}, {"Shape", 13, 0}, {"Type", 4, 0},   {"Std", 9, 1},
    {"AbsMax", 9, 1},  {"Kurt", 8, 1},   {"Out6sd%", 8, 1}, {"A.Std", 9, 1},
    {"A.AbsMax", 9, 1}, {"A.Kurt", 8, 1}, {"A.Out6%", 8, 1}, {"B.RelErr", 9, 1},
    {"B.SQNR", 7, 1},  {"Bits/w", 7, 1},
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
    case QR_ATTN_Q_NORM: case QR_ATTN_K_NORM: case QR_ATTN_POST_NORM:
        return VLK_ATTN;
    case QR_FFN_NORM: case QR_FFN_GATE: case QR_FFN_UP: case QR_FFN_DOWN: case QR_FFN_POST_NORM:
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

static void rebuild(struct vm_layers *v);

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

int vm_layers_init_rows(struct vm_layers *v, struct qmodel *m)
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
    for (int i = 0; i < m->n_tensors; i++) {
        struct vl_row *r = &v->rows[i];
        r->tensor = i;
        r->group = group_of(m, &m->tensors[i]);
        r->gi = find_group(v, r);
        r->st_state = VL_ST_PENDING;
        r->difficulty = -1; /* no colour until the statistics say */
        v->groups[r->gi].n++;
    }
    vm_layers_sort(v, VL_NAME, 0);
    vm_layers_move(v, 1, 1 << 20); /* the first tensor, not its group's header */
    return 0;
}

int vm_layers_init(struct vm_layers *v, struct qmodel *m,
                   int (*progress)(void *ctx, int done, int total), void *ctx)
{
    int rc = vm_layers_init_rows(v, m);
    if (rc < 0)
        return rc;
    struct tstats_opts o;
    tstats_opts_default(&o);
    for (int i = 0; i < m->n_tensors; i++) {
        struct tstats_row r;
        struct qerr err;
        qerr_clear(&err);
        memset(&r, 0, sizeof r);
        if (tstats_tensor(m, i, &o, &r, &err) == 0)
            vm_layers_set_stats(v, i, &r.st);
        else
            vm_layers_set_failed(v, i, err.msg);
        free(r.ch);
        if (progress && progress(ctx, i + 1, m->n_tensors))
            break;
    }
    vm_layers_refresh(v);
    return 0;
}

void vm_layers_set_stats(struct vm_layers *v, int ti, const struct stats *st)
{
    if (ti < 0 || ti >= v->n_rows)
        return;
    struct vl_row *r = &v->rows[ti];
    if (r->st_state == VL_ST_PENDING)
        v->n_stats++;
    else if (r->st_state == VL_ST_FAILED)
        v->n_failed--;
    r->st = *st;
    r->st_state = VL_ST_OK;
    r->st_err[0] = '\0';
    r->difficulty = vm_layers_difficulty(&v->m->tensors[ti], st);
}

void vm_layers_set_failed(struct vm_layers *v, int ti, const char *msg)
{
    if (ti < 0 || ti >= v->n_rows)
        return;
    struct vl_row *r = &v->rows[ti];
    if (r->st_state == VL_ST_PENDING)
        v->n_stats++;
    if (r->st_state != VL_ST_FAILED)
        v->n_failed++;
    memset(&r->st, 0, sizeof r->st);
    r->st_state = VL_ST_FAILED;
    snprintf(r->st_err, sizeof r->st_err, "%s", msg && *msg ? msg : "statistics failed");
    r->difficulty = -1;
}

void vm_layers_refresh(struct vm_layers *v)
{
    rebuild(v);
}

void vm_layers_free(struct vm_layers *v)
{
    free(v->rows);
    free(v->vis);
    free(v->groups);
    free(v->line);
    memset(v, 0, sizeof *v);
}

/* Activation columns once a calibration pass ran; base columns with
 * --base (activation columns, "-" until then, stay before them). */
int vm_layers_ncols(const struct vm_layers *v)
{
    return v->base ? VL__NCOL : v->has_act ? VL_B_REL : VL_A_STD;
}

/* Error against the base (NAN without one or when the base has no tensor
 * of this name and shape). */
static double base_key(const struct vm_layers *v, const struct vl_row *r, int col)
{
    if (!v->base)
        return NAN;
    const struct mdiff_row *b = mdiff_row(v->base, r->tensor);
    if (col == VL_B_BPW)
        return b->bpw;
    if (b->state != 1)
        return NAN;
    return col == VL_B_REL ? b->e.rel_fro : b->e.sqnr_db;
}

/* Sort key of a numeric column; NAN sorts last either way. */
static double num_key(const struct vm_layers *v, const struct vl_row *r, int col)
{
    const struct qtensor *t = &v->m->tensors[r->tensor];
    switch (col) {
    case VL_SHAPE: return (double)t->nelem;
    case VL_DTYPE: return (double)t->dtype;
    case VL_STD: return r->st_state == VL_ST_OK ? r->st.std : NAN;
    case VL_ABSMAX: return r->st_state == VL_ST_OK ? r->st.absmax : NAN;
    case VL_KURT: return r->st_state == VL_ST_OK ? r->st.kurt : NAN;
    case VL_OUTL: return r->st_state == VL_ST_OK ? r->st.frac_k6 : NAN;
    case VL_A_STD: return r->has_act ? r->act.std : NAN;
    case VL_A_ABSMAX: return r->has_act ? r->act.absmax : NAN;
    case VL_A_KURT: return r->has_act ? r->act.kurt : NAN;
    case VL_A_OUTL: return r->has_act ? r->act.frac_abs : NAN;
    case VL_B_REL: case VL_B_SQNR: case VL_B_BPW: return base_key(v, r, col);
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
    g->n_pending += r->st_state == VL_ST_PENDING;
    if (r->difficulty < 0 || r->st_state != VL_ST_OK)
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
        gr->n_match = gr->n_quant = gr->n_pending = gr->has_act = 0;
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
    case VL_ABSMAX: case VL_KURT: case VL_OUTL:
        if (g->n_pending && isnan(col == VL_ABSMAX ? g->absmax : col == VL_KURT ? g->kurt : g->outl))
            snprintf(buf, cap, "...");
        else if (col == VL_OUTL)
            fmt_pct(g->outl, buf, cap);
        else
            fmt_num(col == VL_ABSMAX ? g->absmax : g->kurt, buf, cap);
        return;
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
    case VL_STD: case VL_ABSMAX: case VL_KURT: case VL_OUTL:
        if (r->st_state != VL_ST_OK) { /* never a zero that was not measured */
            snprintf(buf, cap, "%s", r->st_state == VL_ST_PENDING ? "..."
                                     : col == VL_STD ? "FAILED" : "-");
            return;
        }
        if (col == VL_OUTL)
            snprintf(buf, cap, "%.3f", 100 * r->st.frac_k6);
        else
            fmt_num(num_key(v, r, col), buf, cap);
        return;
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
