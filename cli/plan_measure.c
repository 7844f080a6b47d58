/* plan_measure: `qlens plan --measure/--eval/--sweep --measure`: measure
 * plans (through src/qplan.h + pipe_run_plan, the path of `qlens quant
 * --plan`) and uniform configurations (pipe_run, the path of `qlens
 * quant`) against the float model, and save them as results entries. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/plan_int.h"
#include "src/qplan.h"

char *plan_spec_text(const struct sfile *f, const int *pick)
{
    size_t cap = 1, len = 0;
    for (int i = 0; i < f->n_t; i++)
        cap += strlen(f->t[i].name) + strlen(f->c[pick[i]].label) + 2;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    s[0] = '\0';
    for (int i = 0; i < f->n_t; i++)
        len += (size_t)sprintf(s + len, "%s=%s\n", f->t[i].name, f->c[pick[i]].label);
    return s;
}

static int check_model(const struct sfile *f, struct qmodel *m, const char *path,
                       struct qerr *err)
{
    for (int i = 0; i < f->n_t; i++) {
        struct qtensor *q = qmodel_get(m, f->t[i].layer, f->t[i].role);
        if (!q || qtensor_rows(q) != f->t[i].rows || qtensor_cols(q) != f->t[i].cols)
            return qerr_set(err, QERR_ARG, "%s: tensor %s (%dx%d) is not in %s with that shape: "
                            "the sensitivity file is for another model", path, f->t[i].name,
                            f->t[i].rows, f->t[i].cols, m->path);
    }
    return 0;
}

int pmeas_open(struct plan_meas *m, const struct sfile *f, const struct qcli_opts *c,
               const char *sens, struct qerr *err)
{
    memset(m, 0, sizeof *m);
    results_store_init(&m->store);
    m->o = *c;
    m->sens = sens;
    m->o.model = m->o.model ? m->o.model : f->model;
    m->o.eval = m->o.eval ? m->o.eval : f->eval;
    m->o.calib = m->o.calib && *m->o.calib ? m->o.calib : f->calib[0] ? f->calib : NULL;
    m->o.out_err = 0;
    int rc = qcli_setup(&m->e, &m->o, err);
    if (rc)
        return rc;
    m->open = 1;
    rc = check_model(f, m->e.mp, sens, err);
    if (!rc)
        rc = qcli_run_float(&m->e, &m->o, &m->base, err);
    return rc;
}

void pmeas_close(struct plan_meas *m)
{
    if (m->open)
        qcli_teardown(&m->e);
    results_store_free(&m->store);
    m->open = 0;
}

void eval_rows_free(struct eval_row *rows, int n)
{
    for (int i = 0; rows && i < n; i++)
        free(rows[i].types);
}

static void fill_row(struct eval_row *row, const struct pipe_result *res)
{
    row->r = res->ppl;
    row->bpw = qrun_bits_per_weight(&res->run);
    row->size_mib = qrun_size_mib(&res->run);
}

int pmeas_plan(struct plan_meas *m, const struct sfile *f, const int *pick, double target,
               double pred_kl, struct eval_row *row, struct qerr *err)
{
    memset(row, 0, sizeof *row);
    row->is_plan = 1;
    row->uniform = -1;
    row->target = target;
    row->pred_kl = pred_kl;
    snprintf(row->label, sizeof row->label, "plan %g bpw", target);
    const char **names = calloc((size_t)f->n_t + 1, sizeof *names);
    const char **labels = calloc((size_t)f->n_t + 1, sizeof *labels);
    if (!names || !labels) {
        free(names), free(labels);
        return qerr_set(err, QERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < f->n_t; i++)
        names[i] = f->t[i].name, labels[i] = f->c[pick[i]].label;
    struct qplan p;
    struct pipe_result res;
    memset(&res, 0, sizeof res);
    /* the lines --spec-out writes, through the reader quant --plan uses */
    int rc = qplan_from_pairs(&p, names, labels, f->n_t, "the plan", err);
    free(names), free(labels);
    if (!rc)
        rc = qplan_bind(&p, m->e.mp, err);
    if (!rc)
        rc = qcli_run_plan(&m->e, &m->o, &p, &res, err);
    if (!rc) {
        fill_row(row, &res);
        qplan_summary(&p, row->summary, sizeof row->summary);
        if (!(row->types = qplan_tensor_types(&p, m->e.mp)))
            rc = qerr_set(err, QERR_NOMEM, "out of memory");
    }
    qcli_result_free(&res);
    qplan_free(&p);
    return rc;
}

int pmeas_uniform(struct plan_meas *m, const struct sfile *f, int u, struct eval_row *row,
                  struct qerr *err)
{
    memset(row, 0, sizeof *row);
    row->uniform = u;
    snprintf(row->label, sizeof row->label, "uniform %s", f->c[u].label);
    struct pipe_result res;
    int rc = qcli_run(&m->e, &m->o, &f->c[u].spec, 0, 0, &res, err);
    if (!rc)
        fill_row(row, &res);
    qcli_result_free(&res);
    return rc;
}

/* ---- results entries ---- */

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
}

/* The settings of a row: what `qlens sweep` writes, plus, for a plan,
 * "plan": true, its budget, predicted KL, the sensitivity file and the
 * tensor types. */
static char *row_settings(const struct plan_meas *m, const struct sfile *f,
                          const struct eval_row *r, const char *spec)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "spec", spec);
    add_num(o, "bits_per_weight", r->bpw);
    add_num(o, "size_mib", r->size_mib);
    add_num(o, "kl_mean", r->r.kld.mean);
    add_num(o, "kl_p99", r->r.kld.p99);
    add_num(o, "kl_max", r->r.kld.max);
    add_num(o, "top1", r->r.top1);
    add_num(o, "delta_ppl_pct", 100.0 * (r->r.ppl / r->r.base_ppl - 1.0));
    cJSON_AddNumberToObject(o, "ctx", m->e.n_ctx);
    cJSON_AddNumberToObject(o, "chunks", r->r.n_chunks);
    cJSON_AddBoolToObject(o, "sequential", m->o.sequential);
    if (r->is_plan) {
        cJSON_AddBoolToObject(o, "plan", 1);
        add_num(o, "target_bpw", r->target);
        add_num(o, "predicted_kl", r->pred_kl);
        cJSON_AddStringToObject(o, "sens", m->sens);
        cJSON_AddStringToObject(o, "tensor_types", r->types ? r->types : "");
    } else if (r->uniform >= 0)
        cJSON_AddStringToObject(o, "candidate", f->c[r->uniform].label);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static int put_row(struct plan_meas *m, const struct sfile *f, const struct eval_row *r,
                   const char *model, const char *dataset, struct qerr *err)
{
    struct results_entry en;
    char spec[320];
    results_entry_init(&en);
    const struct quant_spec *qs = r->uniform >= 0 ? &f->c[r->uniform].spec : NULL;
    if (r->is_plan)
        snprintf(spec, sizeof spec, "plan %.3f bpw (%.280s)", r->bpw, r->summary);
    else if (qs)
        qcli_config_label(qs, 0, 0, 0, spec, sizeof spec);
    else
        snprintf(spec, sizeof spec, "float");
    snprintf(en.id, sizeof en.id, "%.60s/%.98s", model,
             r->is_plan ? r->label : spec); /* "plan 3 bpw": one entry per budget */
    snprintf(en.model, sizeof en.model, "%s", model);
    snprintf(en.method, sizeof en.method, "%s",
             r->is_plan ? "plan" : qs ? qs->method->name : "float");
    en.w_bits = qs ? (qs->bits < 16 ? qs->bits : 16)
                   : r->is_plan ? (int)fmax(1, fmin(16, lround(r->bpw))) : 16;
    en.a_bits = en.kv_bits = 16;
    en.group_size = qs && qs->group > 0 ? qs->group : 0;
    if (r->size_mib > 0)
        en.memory_gb = r->size_mib / 1024.0;
    snprintf(en.source, sizeof en.source, "qlens %s plan", QLENS_VERSION);
    char *st = r->is_plan || qs ? row_settings(m, f, r, spec) : NULL;
    int rc = st || (!r->is_plan && !qs) ? 0 : qerr_set(err, QERR_NOMEM, "out of memory");
    if (!rc && st)
        rc = results_entry_set_settings(&en, st, err);
    free(st);
    if (!rc)
        rc = results_entry_set_ppl(&en, dataset, r->r.ppl, r->r.ppl_stderr, err);
    if (!rc)
        rc = results_put_entry(&m->store, &en, err);
    results_entry_free(&en);
    return rc;
}

int pmeas_save(struct plan_meas *m, const struct sfile *f, const struct eval_row *rows, int n,
               const char *path, int append, struct qerr *err)
{
    char model[128], dataset[64];
    results_label(m->e.mp->path, model, sizeof model);
    results_label(m->e.eval_path, dataset, sizeof dataset);
    struct eval_row fl;
    memset(&fl, 0, sizeof fl);
    fl.uniform = -1;
    fl.r.ppl = m->base.ppl;
    fl.r.ppl_stderr = m->base.ppl_stderr;
    int rc = put_row(m, f, &fl, model, dataset, err);
    for (int i = 0; i < n && !rc; i++)
        rc = put_row(m, f, &rows[i], model, dataset, err);
    if (rc)
        return rc;
    struct results_store dst;
    results_store_init(&dst);
    snprintf(dst.source, sizeof dst.source, "qlens %s plan", QLENS_VERSION);
    int lock = results_lock(path, err);
    if (lock < 0)
        return lock;
    if (append && access(path, F_OK) == 0)
        rc = results_load(&dst, path, err);
    for (int i = 0; !rc && i < m->store.n; i++)
        rc = results_put_entry(&dst, &m->store.e[i], err);
    if (!rc)
        rc = results_save(&dst, path, err);
    results_unlock(lock);
    results_store_free(&dst);
    return rc;
}
