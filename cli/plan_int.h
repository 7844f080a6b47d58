/* plan_int: what cli_plan.c (the solver's front end) and plan_measure.c
 * (measuring plans and uniform configurations, saving them as results
 * entries) share. */
#ifndef QLENS_PLAN_INT_H
#define QLENS_PLAN_INT_H

#include "analysis/plan.h"
#include "analysis/results.h"
#include "cli/cli_quant.h"
#include "src/sens.h"

/* A `qlens sensitivity --out` file. */
struct sfile {
    char model[4096], eval[4096], calib[4096];
    struct sens_cand *c;         /* (n_c)                                 */
    int n_c;
    struct sens_tensor *t;       /* (n_t)                                 */
    int n_t;
    struct plan_choice *ch;      /* (n_t, n_c): cost = bits, damage       */
    double *kl;                  /* (n_t, n_c) measured KL mean           */
    double weights;              /* Σ rows*cols                           */
};

/* One measured configuration: a plan or a uniform candidate. */
struct eval_row {
    char label[SENS_LABEL_MAX + 32];
    int is_plan, uniform;        /* uniform: candidate index, -1 for plans */
    double target, pred_kl;      /* plans: the budget, Σ single-tensor KL */
    double bpw;                  /* measured (qrun's) bits/weight          */
    struct ppl_result r;
    double size_mib;
    char summary[256];           /* plans: "rtn:3:row x17, ..."            */
    char *types;                 /* plans: "blk.0.attn_q=rtn:3:32,..."     */
};

/* The model, texts and float baseline of the measurements. */
struct plan_meas {
    struct qcli_opts o;
    struct pipe_env e;
    struct ppl_result base;
    int open;
    const char *sens;
    struct results_store store;  /* this run's entries (--out)            */
};

/* Open the model and texts (from the sensitivity file unless given in c),
 * check the file is for this model, run the float baseline. */
int pmeas_open(struct plan_meas *m, const struct sfile *f, const struct qcli_opts *c,
               const char *sens, struct qerr *err);
/* Measure the plan pick (one candidate index per tensor) as `qlens quant
 * --plan` would: the spec text it writes, parsed and bound by src/qplan.h,
 * run by pipe_run_plan. */
int pmeas_plan(struct plan_meas *m, const struct sfile *f, const int *pick, double target,
               double pred_kl, struct eval_row *row, struct qerr *err);
/* Measure candidate u on every tensor, as `qlens quant` with its spec. */
int pmeas_uniform(struct plan_meas *m, const struct sfile *f, int u, struct eval_row *row,
                  struct qerr *err);
/* Save the float baseline and the rows as a results store (append: merge
 * into what the file holds, same ids replaced). */
int pmeas_save(struct plan_meas *m, const struct sfile *f, const struct eval_row *rows, int n,
               const char *path, int append, struct qerr *err);
void pmeas_close(struct plan_meas *m);
void eval_rows_free(struct eval_row *rows, int n);

/* The spec file text of a pick ("TENSOR=CANDIDATE\n" lines). */
char *plan_spec_text(const struct sfile *f, const int *pick);

#endif
