/* vm_corr: variables, filter and correlation of the results store. */
#include "ui/vm_corr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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
    free(v->mine);
    free(v->xs);
    free(v->ys);
    free(v->pe);
    free(v->pk);
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
    free(v->pe);
    free(v->pk);
    free(v->mine);
    size_t cap = (size_t)(v->s.n ? v->s.n : 1);
    v->xs = malloc(cap * sizeof *v->xs);
    v->ys = malloc(cap * sizeof *v->ys);
    v->pe = malloc(cap * sizeof *v->pe);
    v->pk = malloc(cap * sizeof *v->pk);
    v->mine = calloc(cap, 1);
    if (rc || !v->xs || !v->ys || !v->pe || !v->pk || !v->mine)
        return QERR_NOMEM;
    v->x = 0;
    v->y = v->n_bench_from < v->n_vars ? v->n_bench_from : 0;
    v->f = 0;
    vm_corr_compute(v);
    return 0;
}

/* Does entry e pass the family and `where` filters? */
static int selected(const struct vm_corr *v, const struct results_entry *e)
{
    char fam[256];
    vm_corr_family(e->model, fam, sizeof fam);
    if (v->f > 0 && strcmp(fam, v->fam[v->f]))
        return 0;
    return v->where.n == 0 || filter_match(&v->where, e);
}

/* The complete pairs of variables xi, yi under the filters; pe (may be
 * NULL) gets each pair's entry index. */
static size_t collect(const struct vm_corr *v, int xi, int yi, double *xs, double *ys, int *pe)
{
    size_t n = 0;
    for (int i = 0; i < v->s.n; i++) {
        const struct results_entry *e = &v->s.e[i];
        if (!selected(v, e))
            continue;
        double a = results_entry_value(e, v->vars[xi]), b = results_entry_value(e, v->vars[yi]);
        if (isfinite(a) && isfinite(b)) {
            xs[n] = a;
            ys[n] = b;
            if (pe)
                pe[n] = i;
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
        size_t n = collect(v, xi, yi, xs, ys, NULL);
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
    vm_corr_autopick(v);
    return 0;
}

/* First Y from the benchmarks (then the rest) with >= 3 pairs against
 * X = xi; -1 when none. */
static int pick_y(const struct vm_corr *v, int xi)
{
    for (int k = 0; k < v->n_vars; k++) {
        int c = (v->n_bench_from + k) % v->n_vars;
        struct corr_result r;
        if (c != xi && (vm_corr_pair(v, xi, c, &r), r.n >= 3))
            return c;
    }
    return -1;
}

void vm_corr_autopick(struct vm_corr *v)
{
    if (v->n >= 3 || v->n_vars == 0)
        return;
    int xs[2 + 64], nx = 0;
    xs[nx++] = v->x;
    for (int i = 0; i < v->n_bench_from && nx < 66; i++)
        xs[nx++] = i; /* ppl_mean, ppl.*, bits, memory_gb */
    for (int i = 0; i < nx; i++) {
        int y = pick_y(v, xs[i]);
        if (y >= 0) {
            v->x = xs[i];
            v->y = y;
            vm_corr_compute(v);
            return;
        }
    }
}

int vm_corr_want_log(const double *a, size_t n)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        lo = fmin(lo, a[i]);
        hi = fmax(hi, a[i]);
    }
    return n > 0 && lo > 0 && hi / lo > 100;
}

/* The least-squares line in the axes as drawn: on a log axis the fit is
 * of log10 values, so the line the view draws is straight and is the
 * line that was fitted (a line fitted in x drawn on log x is a curve). */
static void compute_fit(struct vm_corr *v)
{
    v->lx = vm_corr_want_log(v->xs, v->n);
    v->ly = vm_corr_want_log(v->ys, v->n);
    memset(&v->fit, 0, sizeof v->fit);
    if (!v->lx && !v->ly) {
        v->fit = v->res;
        v->fit_rc = v->rc;
        return;
    }
    size_t n = v->n ? v->n : 1;
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    struct qerr err;
    v->fit_rc = QERR_NOMEM;
    if (a && b) {
        for (size_t i = 0; i < v->n; i++) {
            a[i] = v->lx ? log10(v->xs[i]) : v->xs[i];
            b[i] = v->ly ? log10(v->ys[i]) : v->ys[i];
        }
        v->fit_rc = corr_compute(a, b, v->n, &v->fit, &err);
    }
    free(a);
    free(b);
}

/* A letter for a new key: the method's first letter that is free (upper
 * case for the bundled data, lower case for the user's runs), else any
 * free letter. */
static char key_letter(const struct vm_corr *v, const char *method, int mine)
{
    char cand[96];
    snprintf(cand, sizeof cand, "%sabcdefghijklmnopqrstuvwxyz", method);
    for (const char *p = cand; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            continue;
        c = (char)(mine ? (c | 32) : (c & ~32));
        int used = 0;
        for (int k = 0; k < v->n_keys && !used; k++)
            used = v->keys[k].letter == c;
        if (!used)
            return c;
    }
    return mine ? '*' : '+';
}

static int key_of(struct vm_corr *v, const char *method, int mine)
{
    for (int k = 0; k < v->n_keys; k++)
        if (v->keys[k].mine == mine && !strcasecmp(v->keys[k].method, method))
            return k;
    if (v->n_keys == VM_CORR_KEYS - 1 && strcmp(method, "other"))
        return key_of(v, "other", mine);
    if (v->n_keys >= VM_CORR_KEYS)
        return VM_CORR_KEYS - 1;
    struct vm_corr_key *k = &v->keys[v->n_keys];
    snprintf(k->method, sizeof k->method, "%s", method);
    k->mine = mine;
    k->n = 0;
    k->letter = key_letter(v, method, mine);
    return v->n_keys++;
}

/* One legend key per (method, mine) of the pairs shown, in order of
 * first appearance. */
static void compute_keys(struct vm_corr *v)
{
    v->n_keys = 0;
    for (size_t i = 0; i < v->n; i++) {
        const struct results_entry *e = &v->s.e[v->pe[i]];
        int k = key_of(v, e->method[0] ? e->method : "?", v->mine && v->mine[v->pe[i]]);
        v->pk[i] = k;
        v->keys[k].n++;
    }
}

void vm_corr_set_mine(struct vm_corr *v, const struct results_store *mine)
{
    for (int i = 0; v->mine && i < v->s.n; i++)
        v->mine[i] = mine && results_find(mine, v->s.e[i].id) >= 0;
    vm_corr_compute(v);
}

void vm_corr_preset_jin(struct vm_corr *v)
{
    struct qerr err;
    int x = vm_corr_var(v, "ppl_mean");
    if (x >= 0)
        v->x = x;
    v->f = 0;
    if (v->y == v->x && v->n_bench_from < v->n_vars)
        v->y = v->n_bench_from;
    vm_corr_set_where(v, VM_CORR_JIN_WHERE, &err);
}

double vm_corr_mean_abs_r(const struct vm_corr *v, int *count)
{
    double sum = 0;
    int cnt = 0;
    for (int i = v->n_bench_from; i < v->n_vars; i++) {
        struct corr_result r;
        if (i == v->x || vm_corr_pair(v, v->x, i, &r) < 0)
            continue;
        sum += fabs(r.r);
        cnt++;
    }
    if (count)
        *count = cnt;
    return cnt ? sum / cnt : 0;
}

/* "PATH [model M] [method M] [bits W] [group N]" into path and o. */
static int import_parse(char *buf, char **path, struct results_import_opts *o, struct qerr *err)
{
    char *save = NULL, probe[1040];
    /* Naming any of method/bits/group describes the run anew: the
     * defaults (the selected run's) then give only the model. */
    snprintf(probe, sizeof probe, " %s ", buf);
    if (strstr(probe, " method ") || strstr(probe, " bits ") || strstr(probe, " group ")) {
        o->method = NULL;
        o->w_bits = o->group_size = 0;
    }
    *path = strtok_r(buf, " \t", &save);
    if (!*path)
        return qerr_set(err, QERR_ARG, "import wants a file: PATH [method M] [bits W] [group N]");
    for (char *k = strtok_r(NULL, " \t", &save); k; k = strtok_r(NULL, " \t", &save)) {
        char *val = strtok_r(NULL, " \t", &save), *end = NULL;
        if (!val)
            return qerr_set(err, QERR_ARG, "import: '%s' wants a value", k);
        long n = strtol(val, &end, 10);
        if (!strcmp(k, "model"))
            o->model = val;
        else if (!strcmp(k, "method"))
            o->method = val;
        else if (!strcmp(k, "bits") && *end == '\0' && n >= 1 && n <= 64)
            o->w_bits = (int)n;
        else if (!strcmp(k, "group") && *end == '\0' && n >= 0 && n <= 1 << 20)
            o->group_size = (int)n;
        else
            return qerr_set(err, QERR_ARG, "import: bad '%s %s' (model NAME, method M, bits 1..64, "
                            "group N)", k, val);
    }
    return 0;
}

int vm_corr_import(const char *session, const char *cmd, const struct results_import_opts *def,
                   char *summary, size_t cap, struct qerr *err)
{
    char buf[1024], *path;
    struct results_import_opts o;
    memset(&o, 0, sizeof o);
    if (def)
        o = *def;
    o.id = NULL;
    snprintf(buf, sizeof buf, "%s", cmd ? cmd : "");
    int rc = import_parse(buf, &path, &o, err);
    if (rc < 0)
        return rc;
    if (!session || !session[0])
        return qerr_set(err, QERR_ARG, "no session file to import into (QLENS_SESSION)");
    struct results_store dst, t;
    results_store_init(&dst);
    results_store_init(&t);
    int lock = results_lock(session, err); /* an import running beside us */
    if (lock < 0)
        return lock;
    if (access(session, F_OK) == 0)
        rc = results_load(&dst, session, err);
    else
        snprintf(dst.source, sizeof dst.source, "qlens dashboard session");
    const char *kind = "?";
    int added = 0, joined = 0;
    if (rc == 0)
        rc = results_import(&t, path, &o, &kind, err);
    if (rc == 0)
        rc = results_merge(&dst, &t, RESULTS_MERGE_JOIN, &added, &joined, err);
    if (rc == 0)
        rc = results_save(&dst, session, err);
    if (rc == 0)
        snprintf(summary, cap, "%s: %s, %d added, %d joined", path, kind, added, joined);
    results_unlock(lock);
    results_store_free(&t);
    results_store_free(&dst);
    return rc;
}

void vm_corr_compute(struct vm_corr *v)
{
    v->n_keys = v->n_mine = v->n_mine_shown = v->lx = v->ly = 0;
    v->fit_rc = QERR_ARG;
    v->msg[0] = '\0';
    memset(&v->res, 0, sizeof v->res);
    if (v->n_vars == 0) {
        v->n = 0;
        v->rc = QERR_ARG;
        snprintf(v->msg, sizeof v->msg, "the results store is empty");
        return;
    }
    v->n = collect(v, v->x, v->y, v->xs, v->ys, v->pe);
    struct qerr err;
    qerr_clear(&err);
    v->rc = corr_compute(v->xs, v->ys, v->n, &v->res, &err);
    v->res.n = v->n;
    if (v->rc < 0)
        snprintf(v->msg, sizeof v->msg, "%s", err.msg);
    compute_keys(v);
    compute_fit(v);
    v->n_mine = v->n_mine_shown = 0;
    for (int i = 0; v->mine && i < v->s.n; i++)
        v->n_mine += v->mine[i] && selected(v, &v->s.e[i]);
    for (size_t k = 0; v->mine && k < v->n; k++)
        v->n_mine_shown += v->mine[v->pe[k]];
}
