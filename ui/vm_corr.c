/* vm_corr: variables, filter and correlation of the results store. */
#include "ui/vm_corr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vm_corr_init(struct vm_corr *v)
{
    memset(v, 0, sizeof *v);
    results_store_init(&v->s);
}

void vm_corr_free(struct vm_corr *v)
{
    results_store_free(&v->s);
    free(v->vars);
    free(v->fam);
    free(v->xs);
    free(v->ys);
    memset(v, 0, sizeof *v);
}

int vm_corr_var(const struct vm_corr *v, const char *name)
{
    for (int i = 0; i < v->n_vars; i++)
        if (!strcmp(v->vars[i], name))
            return i;
    return -1;
}

static int add_var(struct vm_corr *v, const char *name, int *cap)
{
    if (vm_corr_var(v, name) >= 0)
        return 0;
    if (v->n_vars == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        void *p = realloc(v->vars, (size_t)*cap * sizeof *v->vars);
        if (!p)
            return QERR_NOMEM;
        v->vars = p;
    }
    snprintf(v->vars[v->n_vars++], sizeof v->vars[0], "%s", name);
    return 0;
}

static int add_fam(struct vm_corr *v, const char *name, int *cap)
{
    for (int i = 0; i < v->n_fam; i++)
        if (!strcmp(v->fam[i], name))
            return 0;
    if (v->n_fam == *cap) {
        *cap = *cap ? 2 * *cap : 32;
        void *p = realloc(v->fam, (size_t)*cap * sizeof *v->fam);
        if (!p)
            return QERR_NOMEM;
        v->fam = p;
    }
    snprintf(v->fam[v->n_fam++], sizeof v->fam[0], "%s", name);
    return 0;
}

void vm_corr_family(const char *model, char *out, size_t cap)
{
    size_t k = 0;
    for (const char *p = model; *p && k + 1 < cap; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            break;
        out[k++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out[k] = '\0';
    if (!k)
        snprintf(out, cap, "%.*s", (int)cap - 1, model);
}

/* A family joins the filter list when one of its models has a perplexity
 * (the correlations this view is for need one). */
static int family_has_ppl(const struct vm_corr *v, const char *fam)
{
    char f[256];
    for (int i = 0; i < v->s.n; i++) {
        vm_corr_family(v->s.e[i].model, f, sizeof f);
        if (!strcmp(f, fam) && v->s.e[i].n_ppl > 0)
            return 1;
    }
    return 0;
}

int vm_corr_set_store(struct vm_corr *v, struct results_store *s)
{
    results_store_free(&v->s);
    v->s = *s;
    results_store_init(s);
    v->n_vars = v->n_fam = 0;
    int vc = 0, fc = 0, rc = 0;
    char name[160];
    rc |= add_var(v, "ppl_mean", &vc);
    for (int i = 0; i < v->s.n && rc == 0; i++)
        for (int k = 0; k < v->s.e[i].n_ppl; k++) {
            snprintf(name, sizeof name, "ppl.%s", v->s.e[i].ppl[k].dataset);
            rc |= add_var(v, name, &vc);
        }
    rc |= add_var(v, "bits", &vc);
    rc |= add_var(v, "memory_gb", &vc);
    v->n_bench_from = v->n_vars;
    rc |= add_fam(v, "all models", &fc);
    for (int i = 0; i < v->s.n && rc == 0; i++) {
        for (int k = 0; k < v->s.e[i].n_bench; k++)
            rc |= add_var(v, v->s.e[i].bench[k].name, &vc);
        vm_corr_family(v->s.e[i].model, name, sizeof name);
        if (family_has_ppl(v, name))
            rc |= add_fam(v, name, &fc);
    }
    free(v->xs);
    free(v->ys);
    v->xs = malloc((size_t)(v->s.n ? v->s.n : 1) * sizeof *v->xs);
    v->ys = malloc((size_t)(v->s.n ? v->s.n : 1) * sizeof *v->ys);
    if (rc || !v->xs || !v->ys)
        return QERR_NOMEM;
    v->x = 0;
    v->y = v->n_bench_from < v->n_vars ? v->n_bench_from : 0;
    v->f = 0;
    vm_corr_compute(v);
    return 0;
}

static size_t collect(const struct vm_corr *v, int xi, int yi, double *xs, double *ys)
{
    size_t n = 0;
    for (int i = 0; i < v->s.n; i++) {
        const struct results_entry *e = &v->s.e[i];
        char fam[256];
        vm_corr_family(e->model, fam, sizeof fam);
        if (v->f > 0 && strcmp(fam, v->fam[v->f]))
            continue;
        if (v->where.n > 0 && !filter_match(&v->where, e))
            continue;
        double a = results_entry_value(e, v->vars[xi]), b = results_entry_value(e, v->vars[yi]);
        if (isfinite(a) && isfinite(b)) {
            xs[n] = a;
            ys[n] = b;
            n++;
        }
    }
    return n;
}

int vm_corr_pair(const struct vm_corr *v, int xi, int yi, struct corr_result *out)
{
    memset(out, 0, sizeof *out);
    if (xi < 0 || yi < 0 || xi >= v->n_vars || yi >= v->n_vars)
        return QERR_ARG;
    double *xs = malloc((size_t)(v->s.n ? v->s.n : 1) * sizeof *xs);
    double *ys = malloc((size_t)(v->s.n ? v->s.n : 1) * sizeof *ys);
    int rc = QERR_NOMEM;
    if (xs && ys) {
        size_t n = collect(v, xi, yi, xs, ys);
        struct qerr err;
        rc = corr_compute(xs, ys, n, out, &err);
        out->n = n;
    }
    free(xs);
    free(ys);
    return rc;
}

void vm_corr_step(struct vm_corr *v, int axis, int dir)
{
    if (v->n_vars <= 0)
        return;
    int *cur = axis ? &v->y : &v->x, other = axis ? v->x : v->y;
    int d = dir < 0 ? v->n_vars - 1 : 1, pick = (*cur + d) % v->n_vars;
    for (int k = 1; k < v->n_vars; k++) {
        int c = (*cur + k * d) % v->n_vars;
        struct corr_result r;
        vm_corr_pair(v, axis ? other : c, axis ? c : other, &r);
        if (c != other && r.n >= 3) {
            pick = c;
            break;
        }
    }
    *cur = pick;
    vm_corr_compute(v);
}

int vm_corr_set_where(struct vm_corr *v, const char *text, struct qerr *err)
{
    struct filter f;
    int rc = filter_parse(&f, text, err);
    if (rc < 0)
        return rc;
    v->where = f;
    snprintf(v->where_text, sizeof v->where_text, "%s", text ? text : "");
    vm_corr_compute(v);
    return 0;
}

void vm_corr_compute(struct vm_corr *v)
{
    v->msg[0] = '\0';
    memset(&v->res, 0, sizeof v->res);
    if (v->n_vars == 0) {
        v->n = 0;
        v->rc = QERR_ARG;
        snprintf(v->msg, sizeof v->msg, "the results store is empty");
        return;
    }
    v->n = collect(v, v->x, v->y, v->xs, v->ys);
    struct qerr err;
    qerr_clear(&err);
    v->rc = corr_compute(v->xs, v->ys, v->n, &v->res, &err);
    v->res.n = v->n;
    if (v->rc < 0)
        snprintf(v->msg, sizeof v->msg, "%s", err.msg);
}
