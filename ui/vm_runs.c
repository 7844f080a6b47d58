/* vm_runs: perplexity runs, session persistence and export. */
#include "ui/vm_runs.h"

#include <cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/afile.h"
#include "analysis/qnum.h"
#include "analysis/results.h"

const struct vr_coldef vr_cols[VR__NCOL] = {
    {"Configuration", 30}, {"Bits", 4}, {"Group", 6}, {"b/w", 6}, {"MiB", 8},
    {"PPL", 15},           {"dPPL%", 8}, {"KL", 8},   {"Top1%", 7}, {"Time s", 7},
    {"ctx", 5},
};

/* The same configuration at the same context (one row, one entry). */
static int same_run(const struct jobs_run *a, const struct jobs_run *b)
{
    /* a plan from another command's entry is its own row (its entry is
     * kept as it is): it joins only the same entry read again */
    if (a->ext_id[0] || b->ext_id[0])
        return !strcmp(a->ext_id, b->ext_id);
    /* 0: an entry from before the context was recorded */
    return !strcmp(a->spec, b->spec) && (a->n_ctx == b->n_ctx || !a->n_ctx || !b->n_ctx);
}

void vm_runs_init(struct vm_runs *v, const char *model, const char *dataset, const char *path)
{
    memset(v, 0, sizeof *v);
    results_label(model ? model : "", v->model, sizeof v->model);
    snprintf(v->file, sizeof v->file, "%s", model ? model : "");
    snprintf(v->dataset, sizeof v->dataset, "%s", dataset ? dataset : "tinystories-eval");
    snprintf(v->path, sizeof v->path, "%s", path ? path : "");
    v->sort_col = -1;
}

int vm_runs_storage_note(const struct vm_runs *v, char *buf, int cap)
{
    double best = 0.25; /* bits per weight: below this, equal enough */
    int found = 0;
    for (int i = 0; i < v->n; i++) {
        const struct jobs_run *a = &v->r[i];
        if (a->bits >= 16 || !(a->bpw > 0) || !strcmp(a->method, "plan"))
            continue; /* a plan's Bits is its b/w rounded */
        double lo = a->bpw, hi = a->bpw;
        for (int k = 0; k < v->n; k++)
            if (v->r[k].bits == a->bits && v->r[k].bpw > 0 && strcmp(v->r[k].method, "plan")) {
                lo = v->r[k].bpw < lo ? v->r[k].bpw : lo;
                hi = v->r[k].bpw > hi ? v->r[k].bpw : hi;
            }
        if (hi - lo > best) {
            best = hi - lo;
            found = 1;
            snprintf(buf, (size_t)cap, "runs at %d bits store %.2f-%.2f bits/weight: compare PPL "
                     "at equal b/w, not equal bits", a->bits, lo, hi);
        }
    }
    return found;
}

void vm_runs_free(struct vm_runs *v)
{
    free(v->r);
    free(v->gone);
    v->r = NULL;
    v->gone = NULL;
    v->n = v->cap = v->n_gone = 0;
}

const char *vm_runs_default_path(void)
{
    static char buf[1024];
    const char *e = getenv("QLENS_SESSION");
    if (e && *e)
        return e;
    const char *home = getenv("HOME");
    snprintf(buf, sizeof buf, "%s/.qlens-session.json", home && *home ? home : ".");
    return buf;
}

static double jnum(const cJSON *o, const char *k, double def)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(x) ? x->valuedouble : def;
}

int vm_runs_entry_is_plan(const struct results_entry *e)
{
    if (!strcmp(e->method, "plan"))
        return 1;
    cJSON *s = e->settings_json ? cJSON_Parse(e->settings_json) : NULL;
    int yes = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "plan"));
    cJSON_Delete(s);
    return yes;
}

/* A plan entry as `qlens plan --out` (plan_measure.c) writes it: its
 * settings name the fields as `qlens sweep` does (bits_per_weight,
 * kl_mean, ctx, chunks, delta_ppl_pct), the dashboard's own as its
 * session does; each is read where it is. */
static void plan_fields(const struct results_entry *e, const cJSON *s, struct jobs_run *r)
{
    snprintf(r->method, sizeof r->method, "plan");
    r->bpw = jnum(s, "bpw", jnum(s, "bits_per_weight", NAN));
    r->bits = isfinite(r->bpw) ? (int)lround(fmin(fmax(r->bpw, 1), 16)) : e->w_bits;
    r->group = 0;
    r->kl = jnum(s, "kl", jnum(s, "kl_mean", NAN));
    r->n_ctx = qnum_clamp_int(jnum(s, "n_ctx", jnum(s, "ctx", 0)), 0, INT_MAX, 0);
    r->n_chunks = qnum_clamp_int(jnum(s, "n_chunks", jnum(s, "chunks", 0)), 0, INT_MAX, 0);
    double d = jnum(s, "delta_ppl_pct", NAN);
    if (isnan(r->base_ppl) && isfinite(d) && d > -100 && isfinite(r->ppl))
        r->base_ppl = r->ppl / (1 + d / 100); /* the float PPL of its KL pass */
}

static void from_entry(const struct results_entry *e, const char *dataset, struct jobs_run *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->method, sizeof r->method, "%s", e->method);
    r->bits = e->w_bits;
    r->group = e->group_size;
    const struct results_ppl *p = results_entry_ppl(e, dataset);
    r->ppl = p ? p->value : NAN;
    r->ppl_se = p ? p->se : NAN;
    cJSON *s = e->settings_json ? cJSON_Parse(e->settings_json) : NULL;
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(s, "spec");
    snprintf(r->spec, sizeof r->spec, "%s", cJSON_IsString(spec) ? spec->valuestring : e->method);
    r->bpw = jnum(s, "bpw", e->w_bits);
    r->size_mib = jnum(s, "size_mib", isnan(e->memory_gb) ? NAN : e->memory_gb * 1024);
    r->kl = jnum(s, "kl", 0);
    r->top1 = jnum(s, "top1", 1);
    r->base_ppl = jnum(s, "base_ppl", NAN);
    r->seconds = jnum(s, "seconds", NAN);
    /* display-only fields of a hand-edited or corrupted file: saturate
     * rather than cast a double beyond int (undefined behaviour) */
    r->n_ctx = qnum_clamp_int(jnum(s, "n_ctx", 0), 0, INT_MAX, 0);
    r->n_chunks = qnum_clamp_int(jnum(s, "n_chunks", 0), 0, INT_MAX, 0);
    r->sym = jnum(s, "sym", 1) != 0;
    if (vm_runs_entry_is_plan(e))
        plan_fields(e, s, r);
    cJSON_Delete(s);
}

#define VR_SOURCE "qlens dashboard run"

/* An entry this dashboard wrote for this model (under its label, or under
 * the file name as sessions before the label change did). */
static int is_mine(const struct vm_runs *v, const struct results_entry *e)
{
    /* Nothing but the dashboard ever labelled a model with its file name. */
    if (v->file[0] && strcmp(v->file, v->model) && !strcmp(e->model, v->file))
        return 1;
    return !strcmp(e->source, VR_SOURCE) && !strcmp(e->model, v->model);
}

/* Rows from the entries of s that this dashboard wrote; those beyond
 * VM_RUNS_MAX are counted in n_over. */
/* A plan of this model that another command wrote (`qlens plan --measure
 * --out`): shown as a row, its entry kept as it is. */
static int is_ext_plan(const struct vm_runs *v, const struct results_entry *e)
{
    return !is_mine(v, e) && !strcmp(e->model, v->model) && vm_runs_entry_is_plan(e) &&
           results_entry_ppl(e, v->dataset);
}

static int is_gone(const struct vm_runs *v, const char *id)
{
    for (int i = 0; i < v->n_gone; i++)
        if (!strcmp(v->gone[i], id))
            return 1;
    return 0;
}

static void add_mine(struct vm_runs *v, const struct results_store *s)
{
    for (int i = 0; i < s->n; i++) {
        int ext = is_ext_plan(v, &s->e[i]);
        if (is_mine(v, &s->e[i]) || ext) {
            struct jobs_run r;
            from_entry(&s->e[i], v->dataset, &r);
            if (ext)
                snprintf(r.ext_id, sizeof r.ext_id, "%s", s->e[i].id);
            if (vm_runs_add(v, &r) == QERR_ARG)
                v->n_over++;
        }
    }
    v->sel = 0;
}

/* More of this model's runs than the view keeps: say so (saving is
 * refused: it would drop them). */
static int over_cap(const struct vm_runs *v, const char *name, struct qerr *err)
{
    if (!v->n_over)
        return 0;
    return qerr_set(err, QERR_UNSUPP, "%s: %d runs of %s, the dashboard shows %d: the "
                    "session will not be saved (it would drop %d; trim the file with qlens "
                    "results)", name, v->n + v->n_over, v->model, v->n, v->n_over);
}

int vm_runs_load(struct vm_runs *v, struct qerr *err)
{
    /* not fopen: on a FIFO it would block the dashboard's start; what is
     * there but not a regular file, results_load refuses */
    if (!v->path[0] || access(v->path, F_OK) != 0)
        return 0; /* no session yet */
    struct results_store s;
    results_store_init(&s);
    int rc = results_load(&s, v->path, err);
    if (rc == 0)
        add_mine(v, &s);
    results_store_free(&s);
    return rc ? rc : over_cap(v, v->path, err);
}

int vm_runs_parse(struct vm_runs *v, const char *text, const char *name, struct qerr *err)
{
    struct results_store s;
    results_store_init(&s);
    int rc = results_parse(&s, text, name, err);
    if (rc == 0)
        add_mine(v, &s);
    results_store_free(&s);
    return rc ? rc : over_cap(v, name, err);
}

/* A number, or nothing when it is not finite (JSON has no NaN; a missing
 * field reads back as the default). */
static void add_num(cJSON *o, const char *k, double x)
{
    if (isfinite(x))
        cJSON_AddNumberToObject(o, k, x);
}

static void settings_json(const struct jobs_run *r, char *buf, size_t cap)
{
    cJSON *o = cJSON_CreateObject();
    char *txt = NULL;
    if (o && cJSON_AddStringToObject(o, "spec", r->spec)) {
        add_num(o, "bpw", r->bpw);
        add_num(o, "size_mib", r->size_mib);
        add_num(o, "kl", r->kl);
        add_num(o, "top1", r->top1);
        add_num(o, "base_ppl", isnan(r->base_ppl) ? 0 : r->base_ppl);
        add_num(o, "seconds", isnan(r->seconds) ? 0 : r->seconds);
        cJSON_AddNumberToObject(o, "n_ctx", r->n_ctx);
        cJSON_AddNumberToObject(o, "n_chunks", r->n_chunks);
        cJSON_AddNumberToObject(o, "sym", r->sym);
        if (!strcmp(r->method, "plan"))
            cJSON_AddBoolToObject(o, "plan", 1); /* as qlens plan --out marks them */
        txt = cJSON_PrintUnformatted(o);
    }
    snprintf(buf, cap, "%s", txt && strlen(txt) < cap ? txt : "{}");
    free(txt);
    cJSON_Delete(o);
}

static int to_entry(const struct vm_runs *v, const struct jobs_run *r, struct results_entry *e,
                    struct qerr *err)
{
    results_entry_init(e);
    /* 512 is the standard context (llama.cpp's, and the dashboard's for
     * every model that allows it): those ids stay "model/spec", so runs
     * that benchmarks were joined into keep them; others name theirs. */
    if (r->n_ctx > 0 && r->n_ctx != 512)
        snprintf(e->id, sizeof e->id, "%.60s/%.80s ctx%d", v->model, r->spec, r->n_ctx);
    else
        snprintf(e->id, sizeof e->id, "%.60s/%.90s", v->model, r->spec);
    snprintf(e->model, sizeof e->model, "%s", v->model);
    snprintf(e->method, sizeof e->method, "%s", r->method);
    e->w_bits = r->bits;
    e->group_size = r->group > 0 ? r->group : 0;
    e->memory_gb = r->size_mib / 1024;
    snprintf(e->source, sizeof e->source, VR_SOURCE);
    char js[1024];
    settings_json(r, js, sizeof js);
    int rc = results_entry_set_settings(e, js, err);
    if (rc == 0 && isfinite(r->ppl) && r->ppl > 0)
        rc = results_entry_set_ppl(e, v->dataset, r->ppl, r->ppl_se, err);
    return rc;
}

/* Put run entry e into s.  When the file already holds it (same id) with
 * more, e.g. lm-eval benchmarks joined into it by `qlens results import
 * --into`, those stay: e's values win, the rest is kept. */
static int put_keeping(struct results_store *s, const struct results_store *old,
                       const struct results_entry *e, struct qerr *err)
{
    int k = results_find(old, e->id);
    if (k < 0)
        return results_put_entry(s, e, err);
    struct results_entry m;
    int rc = results_entry_copy(&m, &old->e[k], err);
    if (rc == 0)
        rc = results_join_into(&m, e, 1, err);
    if (rc == 0)
        rc = results_put_entry(s, &m, err);
    results_entry_free(&m);
    return rc;
}

/* Keep every entry of the file (when keep) but this model's dashboard runs,
 * which are replaced (entries under the old file-name label move to the
 * label). */
static int save_to(const struct vm_runs *v, const char *path, int keep, struct qerr *err)
{
    struct results_store s, old;
    results_store_init(&s);
    results_store_init(&old);
    int rc = 0;
    if (keep && access(path, F_OK) == 0)
        rc = results_load(&old, path, err);
    snprintf(s.source, sizeof s.source, "qlens dashboard session");
    for (int i = 0; rc == 0 && i < old.n; i++)
        if (!is_mine(v, &old.e[i]) && !is_gone(v, old.e[i].id)) /* gone: deleted here */
            rc = results_add_entry(&s, &old.e[i], err);
    for (int i = 0; rc == 0 && i < v->n; i++) {
        if (keep && v->r[i].ext_id[0])
            continue; /* another command's entry: kept above as it is */
        struct results_entry e;
        rc = to_entry(v, &v->r[i], &e, err);
        if (rc == 0)
            rc = put_keeping(&s, &old, &e, err);
        results_entry_free(&e);
    }
    if (rc == 0)
        rc = results_save(&s, path, err);
    results_store_free(&s);
    results_store_free(&old);
    return rc;
}

int vm_runs_save(const struct vm_runs *v, struct qerr *err)
{
    if (!v->path[0])
        return 0;
    if (v->n_over)
        return qerr_set(err, QERR_UNSUPP, "%s: not saved: it holds %d more runs of %s than "
                        "the dashboard keeps (%d), and saving would drop them", v->path,
                        v->n_over, v->model, VM_RUNS_MAX);
    return save_to(v, v->path, 1, err);
}

/* Deleting another command's plan row deletes its entry at the next save
 * (restoring the row keeps it again). */
static int gone_add(struct vm_runs *v, const char *id)
{
    char (*g)[160] = realloc(v->gone, (size_t)(v->n_gone + 1) * sizeof *g);
    if (!g)
        return QERR_NOMEM;
    v->gone = g;
    snprintf(v->gone[v->n_gone++], sizeof v->gone[0], "%s", id);
    return 0;
}

static void gone_remove(struct vm_runs *v, const char *id)
{
    for (int i = 0; i < v->n_gone; i++)
        if (!strcmp(v->gone[i], id)) {
            memmove(v->gone + i, v->gone + i + 1, (size_t)(v->n_gone - i - 1) * sizeof v->gone[0]);
            v->n_gone--;
            return;
        }
}

int vm_runs_add(struct vm_runs *v, const struct jobs_run *run)
{
    if (run->ext_id[0])
        gone_remove(v, run->ext_id);
    for (int i = 0; i < v->n; i++)
        if (same_run(&v->r[i], run)) {
            v->r[i] = *run;
            v->sel = i;
            return 0;
        }
    if (v->n >= VM_RUNS_MAX)
        return QERR_ARG;
    if (v->n == v->cap) {
        int cap = v->cap ? 2 * v->cap : 16;
        struct jobs_run *r = realloc(v->r, (size_t)cap * sizeof *r);
        if (!r)
            return QERR_NOMEM;
        v->r = r;
        v->cap = cap;
    }
    v->r[v->n] = *run;
    v->sel = v->n++;
    return 0;
}

void vm_runs_delete(struct vm_runs *v, int i)
{
    if (i < 0 || i >= v->n)
        return;
    if (v->r[i].ext_id[0] && gone_add(v, v->r[i].ext_id) < 0)
        return; /* out of memory: keep the row rather than lose track */
    memmove(v->r + i, v->r + i + 1, (size_t)(v->n - i - 1) * sizeof *v->r);
    v->n--;
    if (v->sel >= v->n)
        v->sel = v->n > 0 ? v->n - 1 : 0;
}

/* The baseline measured on the same evaluation as r. */
static double float_ppl(const struct vm_runs *v, const struct jobs_run *r)
{
    for (int i = 0; i < v->n; i++)
        if (!strcmp(v->r[i].method, "float") && v->r[i].n_ctx == r->n_ctx)
            return v->r[i].ppl;
    return NAN;
}

double vm_runs_dppl(const struct vm_runs *v, int i)
{
    const struct jobs_run *r = &v->r[i];
    double base = r->base_ppl > 0 ? r->base_ppl : float_ppl(v, r);
    return base > 0 ? 100 * (r->ppl / base - 1) : NAN;
}

void vm_runs_pareto(const struct vm_runs *v, unsigned char *front)
{
    for (int i = 0; i < v->n; i++) {
        front[i] = isfinite(v->r[i].ppl) && isfinite(v->r[i].size_mib);
        for (int j = 0; j < v->n && front[i]; j++) {
            const struct jobs_run *a = &v->r[i], *b = &v->r[j];
            if (j != i && b->size_mib <= a->size_mib && b->ppl <= a->ppl &&
                (b->size_mib < a->size_mib || b->ppl < a->ppl))
                front[i] = 0;
        }
    }
}

char vm_runs_letter(int i)
{
    static const char L[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    return i >= 0 && i < (int)sizeof L - 1 ? L[i] : '+';
}

void vm_runs_legend(const struct vm_runs *v, int i, const unsigned char *front, char *buf, int cap)
{
    if (i < 0 || i >= v->n) {
        snprintf(buf, (size_t)cap, "%s", "");
        return;
    }
    const struct jobs_run *r = &v->r[i];
    snprintf(buf, (size_t)cap, "%c%c PPL %-7.4g %7.3g MiB  %s", vm_runs_letter(i),
             front && front[i] ? '*' : ' ', r->ppl, r->size_mib, r->spec);
}

static double key(const struct vm_runs *v, int i, int col)
{
    const struct jobs_run *r = &v->r[i];
    switch (col) {
    case VR_BITS: return r->bits;
    case VR_GROUP: return r->group;
    case VR_BPW: return r->bpw;
    case VR_SIZE: return r->size_mib;
    case VR_PPL: return r->ppl;
    case VR_DPPL: return vm_runs_dppl(v, i);
    case VR_KL: return r->kl;
    case VR_TOP1: return r->top1;
    case VR_TIME: return r->seconds;
    case VR_CTX: return r->n_ctx;
    default: return 0;
    }
}

/* Insertion sort: a session has tens of runs. */
void vm_runs_sort(struct vm_runs *v, int col, int desc)
{
    if (col < 0 || col >= VR__NCOL)
        col = VR_SPEC;
    v->sort_col = col;
    v->sort_desc = desc;
    for (int i = 1; i < v->n; i++)
        for (int j = i; j > 0; j--) {
            int c;
            if (col == VR_SPEC)
                c = strcmp(v->r[j - 1].spec, v->r[j].spec);
            else {
                double a = key(v, j - 1, col), b = key(v, j, col);
                c = a < b ? -1 : a > b ? 1 : 0;
            }
            if (desc ? c >= 0 : c <= 0)
                break;
            struct jobs_run t = v->r[j];
            v->r[j] = v->r[j - 1];
            v->r[j - 1] = t;
            if (v->sel == j)
                v->sel = j - 1;
            else if (v->sel == j - 1)
                v->sel = j;
        }
}

void vm_runs_move(struct vm_runs *v, int delta, int height)
{
    if (v->n == 0)
        return;
    long s = (long)v->sel + delta;
    v->sel = (int)(s < 0 ? 0 : s >= v->n ? v->n - 1 : s);
    if (height < 1)
        height = 1;
    if (v->sel < v->top)
        v->top = v->sel;
    if (v->sel >= v->top + height)
        v->top = v->sel - height + 1;
}

static const char *group_text(int g, char *buf, int cap)
{
    if (g < 0)
        snprintf(buf, (size_t)cap, "tensor");
    else if (g == 0)
        snprintf(buf, (size_t)cap, "row");
    else
        snprintf(buf, (size_t)cap, "%d", g);
    return buf;
}

void vm_runs_cell(const struct vm_runs *v, int i, int col, char *buf, int cap)
{
    buf[0] = '\0';
    if (i < 0 || i >= v->n)
        return;
    const struct jobs_run *r = &v->r[i];
    int fl = !strcmp(r->method, "float"), plan = !strcmp(r->method, "plan");
    switch (col) {
    case VR_SPEC: snprintf(buf, (size_t)cap, "%s", r->spec); break;
    case VR_BITS: snprintf(buf, (size_t)cap, "%d", r->bits); break;
    case VR_GROUP: if (fl || plan) snprintf(buf, (size_t)cap, "-"); else group_text(r->group, buf, cap); break;
    case VR_BPW: snprintf(buf, (size_t)cap, "%.3g", r->bpw); break;
    case VR_SIZE: snprintf(buf, (size_t)cap, "%.3g", r->size_mib); break;
    case VR_PPL: snprintf(buf, (size_t)cap, "%.4f+-%.3f", r->ppl, r->ppl_se); break;
    case VR_DPPL: {
        double d = vm_runs_dppl(v, i);
        snprintf(buf, (size_t)cap, "%+.2f", fabs(d) < 0.005 ? 0.0 : d);
        break;
    }
    case VR_KL: snprintf(buf, (size_t)cap, fl ? "-" : "%.4f", r->kl); break;
    case VR_TOP1: snprintf(buf, (size_t)cap, fl ? "-" : "%.2f", 100 * r->top1); break;
    case VR_TIME: snprintf(buf, (size_t)cap, isfinite(r->seconds) ? "%.1f" : "-", r->seconds); break;
    case VR_CTX: snprintf(buf, (size_t)cap, r->n_ctx > 0 ? "%d" : "-", r->n_ctx); break;
    }
}

int vm_runs_export(const struct vm_runs *v, const char *prefix, struct qerr *err)
{
    char path[1200];
    snprintf(path, sizeof path, "%s.json", prefix);
    int rc = save_to(v, path, 0, err); /* only these runs; no delete first */
    if (rc < 0)
        return rc;
    const char *ext[2] = {"csv", "md"};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s.%s", prefix, ext[k]);
        struct afile a;
        if ((rc = afile_open(&a, path, err)) < 0)
            return rc;
        FILE *f = a.f;
        if (k == 0)
            fprintf(f, "model,spec,method,bits,group,bpw,size_mib,ppl,ppl_se,dppl_pct,kl,top1,seconds\n");
        else
            fprintf(f, "| Configuration | Bits | Group | b/w | MiB | PPL | dPPL %% | KL | Top-1 %% | Time s |\n"
                       "|---|---|---|---|---|---|---|---|---|---|\n");
        for (int i = 0; i < v->n; i++) {
            const struct jobs_run *r = &v->r[i];
            if (k == 0) {
                results_csv_field(f, v->model);
                putc(',', f);
                results_csv_field(f, r->spec);
                putc(',', f);
                results_csv_field(f, r->method);
                fprintf(f, ",%d,%d,%.6g,%.6g,%.6g,%.6g,%.4f,%.6g,%.6g,%.3f\n",
                        r->bits, r->group, r->bpw, r->size_mib,
                        r->ppl, r->ppl_se, vm_runs_dppl(v, i), r->kl, r->top1, r->seconds);
            } else {
                char c[VR__NCOL][64];
                for (int j = 0; j < VR__NCOL; j++)
                    vm_runs_cell(v, i, j, c[j], 64);
                fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", c[0], c[1], c[2],
                        c[3], c[4], c[5], c[6], c[7], c[8], c[9]);
            }
        }
        if ((rc = afile_commit(&a, err)) < 0)
            return rc;
    }
    return 0;
}
