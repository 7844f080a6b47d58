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

int vm_layers_difficulty(const struct qtensor *t, const struct stats *st)
{
    if (!qrole_is_linear(t->role) && t->role != QR_TOK_EMBD)
        return -1;
    if (st->kurt < 4)
        return 0;
    if (st->kurt < 10)
        return 1;
    if (st->kurt < 50)
        return 2;
    return 3;
}

static int group_of(const struct qmodel *m, const struct qtensor *t)
{
    if (t->layer >= 0)
        return t->layer;
    if (t->role == QR_TOK_EMBD)
        return -1;
    return m->cfg.n_layers > 0 ? m->cfg.n_layers : 1 << 20;
}

int vm_layers_init(struct vm_layers *v, struct qmodel *m,
                   int (*progress)(void *ctx, int done, int total), void *ctx)
{
    memset(v, 0, sizeof *v);
    v->m = m;
    v->n_rows = m->n_tensors;
    v->rows = calloc((size_t)(m->n_tensors ? m->n_tensors : 1), sizeof *v->rows);
    v->vis = calloc((size_t)(m->n_tensors ? m->n_tensors : 1), sizeof *v->vis);
    if (!v->rows || !v->vis) {
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
        const float *x = stop ? NULL : qtensor_f32_orig(t);
        if (x)
            stats_compute(x, (size_t)t->nelem, &o, &r->st);
        r->difficulty = vm_layers_difficulty(t, &r->st);
        if (progress && !stop)
            stop = progress(ctx, i + 1, m->n_tensors);
    }
    vm_layers_sort(v, VL_NAME, 0);
    return 0;
}

void vm_layers_free(struct vm_layers *v)
{
    free(v->rows);
    free(v->vis);
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

static int cmp_model_order(const struct vl_row *a, const struct vl_row *b)
{
    if (a->group != b->group)
        return a->group < b->group ? -1 : 1;
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
    }
    if (c == 0)
        c = cmp_model_order(a, b);
    return v->sort_desc ? -c : c;
}

static void rebuild(struct vm_layers *v)
{
    int keep = -1;
    if (v->sel >= 0 && v->sel < v->n_vis)
        keep = v->vis[v->sel];
    v->n_vis = 0;
    for (int i = 0; i < v->n_rows; i++)
        if (!v->filter[0] || strstr(v->m->tensors[v->rows[i].tensor].name, v->filter))
            v->vis[v->n_vis++] = i;
    sort_v = v;
    qsort(v->vis, (size_t)v->n_vis, sizeof *v->vis, cmp_rows);
    sort_v = NULL;
    v->sel = 0;
    for (int i = 0; i < v->n_vis; i++)
        if (v->vis[i] == keep)
            v->sel = i;
    if (v->top > v->sel)
        v->top = v->sel;
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

int vm_layers_search(struct vm_layers *v, const char *substr)
{
    if (!substr || !*substr || v->n_vis == 0)
        return 0;
    snprintf(v->search, sizeof v->search, "%s", substr);
    for (int k = 1; k <= v->n_vis; k++) {
        int i = (v->sel + k) % v->n_vis;
        if (strstr(v->m->tensors[v->rows[v->vis[i]].tensor].name, substr)) {
            v->sel = i;
            return 1;
        }
    }
    return 0;
}

void vm_layers_move(struct vm_layers *v, int delta, int height)
{
    if (v->n_vis == 0)
        return;
    long s = (long)v->sel + delta;
    if (s < 0)
        s = 0;
    if (s >= v->n_vis)
        s = v->n_vis - 1;
    v->sel = (int)s;
    if (height < 1)
        height = 1;
    if (v->sel < v->top)
        v->top = v->sel;
    if (v->sel >= v->top + height)
        v->top = v->sel - height + 1;
    if (v->top < 0)
        v->top = 0;
}

const struct vl_row *vm_layers_selected(const struct vm_layers *v)
{
    if (v->n_vis == 0 || v->sel < 0 || v->sel >= v->n_vis)
        return NULL;
    return &v->rows[v->vis[v->sel]];
}

void vm_layers_select_tensor(struct vm_layers *v, int ti, int height)
{
    for (int i = 0; i < v->n_vis; i++)
        if (v->rows[v->vis[i]].tensor == ti) {
            vm_layers_move(v, i - v->sel, height);
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

static void shape_text(const struct qtensor *t, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int d = 0; d < t->ndim && o < cap; d++)
        o += (size_t)snprintf(buf + o, cap - o, d ? "x%lld" : "%lld", (long long)t->shape[d]);
}

void vm_layers_cell(const struct vm_layers *v, int i, int col, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (i < 0 || i >= v->n_vis)
        return;
    const struct vl_row *r = &v->rows[v->vis[i]];
    const struct qtensor *t = &v->m->tensors[r->tensor];
    switch (col) {
    case VL_NAME: snprintf(buf, cap, "%s", t->name); return;
    case VL_SHAPE: shape_text(t, buf, cap); return;
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

void vm_layers_set_act(struct vm_layers *v, int ti, const struct stats *act)
{
    for (int i = 0; i < v->n_rows; i++)
        if (v->rows[i].tensor == ti) {
            v->rows[i].act = *act;
            v->rows[i].has_act = 1;
            v->has_act = 1;
        }
}
