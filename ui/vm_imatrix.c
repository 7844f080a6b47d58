/* vm_imatrix: rows of the Imatrix view (definitions in vm_imatrix.h). */
#include "ui/vm_imatrix.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/stats.h"

static void add_top(struct vm_imx_row *r, int64_t j, double v)
{
    int k = r->n_top < VM_IMX_TOP ? r->n_top++ : VM_IMX_TOP - 1;
    if (k == VM_IMX_TOP - 1 && r->n_top == VM_IMX_TOP && v <= r->top_val[k])
        return; /* full and not larger than the smallest kept */
    while (k > 0 && r->top_val[k - 1] < v) {
        r->top[k] = r->top[k - 1];
        r->top_val[k] = r->top_val[k - 1];
        k--;
    }
    r->top[k] = j;
    r->top_val[k] = v;
}

void vm_imatrix_summarise(const struct qimatrix_entry *e, struct vm_imx_row *r)
{
    memset(r, 0, sizeof *r);
    r->e = e;
    int64_t n = e->n * e->n_mat;
    r->min_pos = INFINITY;
    for (int64_t j = 0; j < n; j++) {
        double v = e->values[j];
        r->total += v;
        r->max = v > r->max ? v : r->max;
        if (v > 0 && v < r->min_pos)
            r->min_pos = v;
        if (r->n_top < VM_IMX_TOP || v > r->top_val[VM_IMX_TOP - 1])
            add_top(r, j, v);
    }
    if (!isfinite(r->min_pos))
        r->min_pos = 0;
    r->mean = n ? r->total / (double)n : 0;
    r->max_share = r->total > 0 ? r->max / r->total : 0;
    struct stats_opts o;
    struct stats s;
    stats_opts_default(&o);
    stats_compute(e->values, (size_t)n, &o, &s);
    r->kurtosis = s.kurt;
}

static double key(const struct vm_imx_row *r, int sort)
{
    switch (sort) {
    case VM_IMX_SORT_TOTAL: return r->total;
    case VM_IMX_SORT_KURT: return r->kurtosis;
    case VM_IMX_SORT_SHARE: return r->max_share;
    default: return 0;
    }
}

/* a before b in the order `sort` (descending keys; ties: file order) */
static int before(const struct vm_imx_row *a, const struct vm_imx_row *b, int sort)
{
    double ka = key(a, sort), kb = key(b, sort);
    if (sort != VM_IMX_SORT_FILE && ka != kb)
        return ka > kb;
    return a->e < b->e;
}

/* Insertion sort: a few hundred entries, and no global comparator state. */
void vm_imatrix_sort(struct vm_imatrix *v)
{
    for (int i = 1; i < v->n; i++) {
        struct vm_imx_row x = v->rows[i];
        int j = i;
        while (j > 0 && before(&x, &v->rows[j - 1], v->sort)) {
            v->rows[j] = v->rows[j - 1];
            j--;
        }
        v->rows[j] = x;
    }
    if (v->rev)
        for (int i = 0, j = v->n - 1; i < j; i++, j--) {
            struct vm_imx_row t = v->rows[i];
            v->rows[i] = v->rows[j];
            v->rows[j] = t;
        }
}

const char *vm_imatrix_sort_name(int sort)
{
    static const char *n[VM_IMX_SORT__COUNT] = {"file order", "total", "kurtosis", "top share"};
    return sort >= 0 && sort < VM_IMX_SORT__COUNT ? n[sort] : "?";
}

static int in_model(const struct qimatrix_entry *e, const struct qmodel *m)
{
    if (!m)
        return 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const struct qtensor *t = &m->tensors[i];
        if (!strcmp(t->name, e->name))
            return t->ndim >= 1 && t->shape[t->ndim - 1] == e->n;
    }
    return 0;
}

int vm_imatrix_take(struct vm_imatrix *v, struct qimatrix *im, const char *label,
                    const struct qmodel *m, struct qerr *err)
{
    struct vm_imx_row *rows = calloc((size_t)(im->n ? im->n : 1), sizeof *rows);
    if (!rows)
        return qerr_set(err, QERR_NOMEM, "%s: out of memory for %d entries", label, im->n);
    vm_imatrix_free(v);
    v->im = *im;
    memset(im, 0, sizeof *im);
    v->loaded = 1;
    snprintf(v->path, sizeof v->path, "%s", label);
    v->rows = rows;
    v->n = v->im.n;
    v->n_in_model = 0;
    for (int i = 0; i < v->n; i++) {
        vm_imatrix_summarise(&v->im.e[i], &v->rows[i]);
        v->rows[i].in_model = in_model(&v->im.e[i], m);
        v->n_in_model += v->rows[i].in_model;
    }
    vm_imatrix_sort(v);
    return 0;
}

int vm_imatrix_load(struct vm_imatrix *v, const char *path, const struct qmodel *m,
                    struct qerr *err)
{
    struct qimatrix im;
    int rc = qimatrix_read(&im, path, err);
    if (rc)
        return rc;
    if ((rc = vm_imatrix_take(v, &im, path, m, err)))
        qimatrix_free(&im);
    return rc;
}

void vm_imatrix_free(struct vm_imatrix *v)
{
    if (v->loaded)
        qimatrix_free(&v->im);
    free(v->rows);
    int sort = v->sort, rev = v->rev;
    memset(v, 0, sizeof *v);
    v->sort = sort;
    v->rev = rev;
}

void vm_imatrix_cells(const struct vm_imx_row *r, int64_t first, int64_t per, int n_cells,
                      int nlev, int *lev)
{
    int64_t n = r->e->n * r->e->n_mat;
    double lo = r->min_pos > 0 ? log(r->min_pos) : 0, hi = r->max > 0 ? log(r->max) : 0;
    for (int c = 0; c < n_cells; c++) {
        int64_t a = first + (int64_t)c * per, b = a + per < n ? a + per : n;
        if (a >= n || per < 1) {
            lev[c] = -1;
            continue;
        }
        double mx = 0;
        for (int64_t j = a; j < b; j++)
            mx = r->e->values[j] > mx ? r->e->values[j] : mx;
        if (!(mx > 0) || !(hi > lo)) {
            lev[c] = mx > 0 ? nlev - 1 : 0;
            continue;
        }
        int l = (int)((log(mx) - lo) / (hi - lo) * nlev);
        lev[c] = l < 0 ? 0 : l >= nlev ? nlev - 1 : l;
    }
}
