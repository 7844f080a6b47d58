/* jobs_plan: the Plan view's jobs (ui/jobs_plan.h). */
#include "ui/jobs_plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/pipeline.h"
#include "src/qclock.h"
#include "src/qplan.h"
#include "ui/jobs.h"

void jobs_plan_opts(const struct jobs_data *d, struct pipe_opts *o)
{
    jobs_pipe_opts(d, NULL, o);
    o->chunks = JOBS_PLAN_CHUNKS;
    o->calib_chunks = JOBS_PLAN_CHUNKS;
    o->need_calib = 1;      /* the proxies and calibrated methods need it */
    o->kl_cache_mib = 1024; /* every cell reuses the float logits         */
}

void jobs_plan_free(struct jobs_plan *p)
{
    if (p->have_s)
        sens_free(&p->s);
    free(p->pick);
    free(p->m);
    memset(p, 0, sizeof *p);
}

/* Each chunk of every KL pass: cancel between chunks. */
static int eval_cb(void *ud, int done, int total, double ppl)
{
    (void)done, (void)total, (void)ppl;
    return worker_cancelled(ud);
}

/* A slow quantizer (GPTQ on a big tensor): cancel inside it. */
static int quant_cb(void *ud, int layer, int n_layers, const char *what)
{
    (void)layer, (void)n_layers, (void)what;
    return worker_cancelled(ud);
}

static int sens_cb(void *ud, const struct sens_progress *p)
{
    struct worker *w = ud;
    if (p->phase == SENS_PH_CALIB)
        worker_phase(w, "sensitivity: calibration pass", 0, 0);
    else if (p->phase == SENS_PH_FLOAT)
        worker_phase(w, "sensitivity: float logits", 0, 0);
    else
        worker_phase(w, "sensitivity cell", p->done, p->total);
    worker_progress(w, p->total ? (double)p->done / p->total : 0);
    return worker_cancelled(w);
}

static int setup(struct jobs_ctx *j, struct worker *w, struct pipe_env *e, struct pipe_opts *po,
                 struct qerr *err)
{
    struct jobs_data *d = j->data;
    int rc = jobs_data_load(d, err);
    if (rc < 0)
        return rc;
    jobs_plan_opts(d, po);
    struct pipe_cb cb = {.quant = quant_cb, .eval = eval_cb, .ud = w};
    return pipe_setup_model(e, d->m, d->tok, po, &cb, err);
}

static int job_sens(struct jobs_ctx *j, struct worker *w, struct qerr *err)
{
    struct jobs_plan *p = j->plan;
    struct sens_cand *c;
    int n_c;
    int rc = sens_parse_cands(p->cands, &c, &n_c, err);
    if (rc < 0)
        return rc;
    struct pipe_env e;
    struct pipe_opts po;
    if ((rc = setup(j, w, &e, &po, err)) < 0) {
        free(c);
        return rc;
    }
    struct sens_ctl ctl = {sens_cb, w, 1, NULL, 0, 0}; /* cells on every CPU */
    rc = sens_run(&p->s, &e, &po, c, n_c, &ctl, err);
    p->have_s = 1; /* cells finished before a cancel are shown too */
    qmodel_clear_overrides(j->data->m);
    pipe_teardown(&e);
    return rc;
}

/* The plan (pick) as `qlens quant --plan` runs it: the spec lines through
 * src/qplan.h and pipe_run_plan. */
static int run_plan(struct pipe_env *e, const struct pipe_opts *po, const struct sens *s,
                    const int *pick, struct pipe_result *res, char *summary, size_t cap,
                    struct qerr *err)
{
    const char **names = calloc((size_t)s->n_t + 1, sizeof *names);
    const char **labels = calloc((size_t)s->n_t + 1, sizeof *labels);
    int rc = names && labels ? 0 : qerr_set(err, QERR_NOMEM, "out of memory");
    for (int i = 0; !rc && i < s->n_t; i++)
        names[i] = s->t[i].name, labels[i] = s->c[pick[i]].label;
    struct qplan p;
    if (!rc && !(rc = qplan_from_pairs(&p, names, labels, s->n_t, "the plan", err)) &&
        !(rc = qplan_bind(&p, e->mp, err))) {
        rc = pipe_run_plan(e, po, &p, res, err);
        qplan_summary(&p, summary, cap);
    }
    if (names && labels)
        qplan_free(&p);
    free(names), free(labels);
    return rc;
}

/* The plan (pick) or candidate u on every tensor, run as `qlens quant
 * --plan` / `qlens quant` run them (so the view's numbers are the CLI's),
 * against the float model's cached logits; the model is left clean. */
/* The plan's measurement as a run of the Runs view, named as `qlens plan
 * --out` names it (cli/plan_measure.c), so the same plan is recognisable
 * in both. */
static void plan_run(const struct pipe_result *res, const char *summary, double seconds,
                     struct jobs_run *run)
{
    const struct ppl_result *r = &res->ppl;
    memset(run, 0, sizeof *run);
    snprintf(run->method, sizeof run->method, "plan");
    run->bpw = qrun_bits_per_weight(&res->run);
    snprintf(run->spec, sizeof run->spec, "plan %.3f bpw (%s)", run->bpw, summary);
    run->bits = (int)lround(fmin(fmax(run->bpw, 1), 16));
    run->sym = 1;
    run->size_mib = qrun_size_mib(&res->run);
    run->ppl = r->ppl, run->ppl_se = r->ppl_stderr, run->base_ppl = r->base_ppl;
    run->kl = r->kld.mean, run->top1 = r->top1;
    run->seconds = seconds;
    run->n_ctx = r->n_ctx, run->n_chunks = r->n_chunks;
}

static int measure(struct pipe_env *e, const struct pipe_opts *po, const struct sens *s,
                   const int *pick, int u, struct jobs_plan_meas *m, struct jobs_run *run,
                   struct qerr *err)
{
    struct pipe_result res;
    char summary[sizeof run->spec] = "";
    double t0 = qclock_seconds();
    memset(&res, 0, sizeof res);
    int rc = pick ? run_plan(e, po, s, pick, &res, summary, sizeof summary, err)
                  : pipe_run(e, po, &s->c[u].spec, 0, 0, &res, err);
    if (!rc) {
        const struct ppl_result *r = &res.ppl;
        m->bpw = qrun_bits_per_weight(&res.run);
        m->ppl = r->ppl, m->base_ppl = r->base_ppl;
        m->kl = r->kld.mean, m->kl_p99 = r->kld.p99, m->top1 = r->top1;
        if (pick)
            plan_run(&res, summary, qclock_seconds() - t0, run);
    }
    pipe_result_free(&res);
    qmodel_clear_overrides(e->mp);
    return rc;
}

static int job_eval(struct jobs_ctx *j, struct worker *w, struct qerr *err)
{
    struct jobs_plan *p = j->plan;
    const struct sens *s = p->src;
    struct pipe_env e;
    struct pipe_opts po;
    struct ppl_result base;
    int rc;
    p->n_m = s->n_c + 1;
    if (!(p->m = calloc((size_t)p->n_m, sizeof *p->m)))
        return qerr_set(err, QERR_NOMEM, "out of memory");
    if ((rc = setup(j, w, &e, &po, err)) < 0)
        return rc;
    worker_phase(w, "float logits", 0, 0);
    rc = pipe_run_float(&e, &po, &base, err);
    for (int k = 0; k < p->n_m && !rc; k++) {
        worker_phase(w, "measuring configuration", k, p->n_m);
        worker_progress(w, (double)k / p->n_m);
        if (k == 0)
            snprintf(p->m[k].label, sizeof p->m[k].label, "plan");
        else
            snprintf(p->m[k].label, sizeof p->m[k].label, "uniform %s", s->c[k - 1].label);
        rc = measure(&e, &po, s, k ? NULL : p->pick, k - 1, &p->m[k], &p->run, err);
        p->have_run |= !rc && k == 0;
    }
    pipe_teardown(&e);
    return rc;
}

int jobs_plan_run(struct jobs_ctx *j, struct worker *w, struct qerr *err)
{
    int rc = j->kind == JOB_SENS ? job_sens(j, w, err) : job_eval(j, w, err);
    if (rc < 0 && worker_cancelled(w))
        rc = qerr_set(err, QERR_CANCEL, "cancelled");
    return rc;
}
