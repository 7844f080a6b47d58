/* vm_div: rows of the Divergence view (see vm_div.h). */
#include "ui/vm_div.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void vm_div_init(struct vm_div *v)
{
    memset(v, 0, sizeof *v);
    v->desc = 1;
}

void vm_div_free(struct vm_div *v)
{
    mdiv_free(&v->r);
    free(v->order);
    vm_div_init(v);
}

const char *vm_div_sort_name(int sort)
{
    static const char *const n[VD__NSORT] = {"KL contribution", "local rel (where error enters)",
                                             "accumulated rel", "depth"};
    return sort >= 0 && sort < VD__NSORT ? n[sort] : "?";
}

double vm_div_key(const struct vm_div *v, int row)
{
    if (v->sort == VD_DEPTH)
        return row;
    if (v->sort == VD_KL)
        return isnan(v->r.rows[row].kl_delta) ? -INFINITY : v->r.rows[row].kl_delta;
    return v->r.rows[row].s[v->sort == VD_ACC ? MDIV_ACC : MDIV_LOCAL].rel_mean;
}

/* Stable insertion sort of the order (n is a few hundred at most). */
void vm_div_sort(struct vm_div *v, int sort, int desc)
{
    v->sort = sort >= 0 && sort < VD__NSORT && (sort != VD_KL || v->r.kl_attrib) ? sort : VD_LOCAL;
    v->desc = desc;
    int n = 0;
    for (int i = 0; i < v->r.n_rows; i++)
        if (v->r.rows[i].kind == MDIV_LINEAR)
            v->order[n++] = i;
    for (int i = 1; i < n; i++) {
        int x = v->order[i], j = i;
        double k = vm_div_key(v, x);
        while (j > 0 && (desc ? vm_div_key(v, v->order[j - 1]) < k
                              : vm_div_key(v, v->order[j - 1]) > k)) {
            v->order[j] = v->order[j - 1];
            j--;
        }
        v->order[j] = x;
    }
    v->n = n;
    v->sel = v->top = 0;
}

int vm_div_set(struct vm_div *v, const struct jobs_run *run, struct mdiv_result *r)
{
    int *o = malloc(((size_t)r->n_rows + 1) * sizeof *o);
    if (!o)
        return -1;
    mdiv_free(&v->r);
    free(v->order);
    v->order = o;
    v->r = *r;
    memset(r, 0, sizeof *r);
    v->run = *run;
    v->have = 1;
    vm_div_sort(v, v->r.kl_attrib ? VD_KL : VD_LOCAL, 1);
    return 0;
}

void vm_div_move(struct vm_div *v, int delta, int height)
{
    if (v->n == 0)
        return;
    v->sel += delta;
    v->sel = v->sel < 0 ? 0 : v->sel >= v->n ? v->n - 1 : v->sel;
    if (height < 1)
        height = 1;
    if (v->sel < v->top)
        v->top = v->sel;
    if (v->sel >= v->top + height)
        v->top = v->sel - height + 1;
}

double vm_div_max(const struct vm_div *v, int mode)
{
    double m = 0;
    for (int i = 0; i < v->r.n_rows; i++)
        if (v->r.rows[i].kind == MDIV_LINEAR && v->r.rows[i].s[mode].rel_mean > m)
            m = v->r.rows[i].s[mode].rel_mean;
    return m;
}

double vm_div_block_max(const struct vm_div *v)
{
    double m = 0;
    for (int i = 0; i < v->r.n_rows; i++)
        if (v->r.rows[i].kind == MDIV_BLOCK)
            for (int k = 0; k < MDIV__NMODES; k++)
                m = v->r.rows[i].s[k].rel_mean > m ? v->r.rows[i].s[k].rel_mean : m;
    return m;
}

double vm_div_kl_max(const struct vm_div *v)
{
    double m = 0;
    for (int i = 0; v->r.kl_attrib && i < v->r.n_rows; i++)
        if (v->r.rows[i].kind == MDIV_LINEAR && v->r.rows[i].kl_delta > m)
            m = v->r.rows[i].kl_delta;
    return m;
}

int vm_div_next_sort(const struct vm_div *v, int dir)
{
    int s = v->sort;
    do
        s = (s + (dir > 0 ? 1 : VD__NSORT - 1)) % VD__NSORT;
    while (s == VD_KL && !v->r.kl_attrib);
    return s;
}
