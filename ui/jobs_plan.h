/* jobs_plan: the Plan view's work on the worker thread (ui/jobs.h runs
 * it): the sensitivity of every tensor x candidate (src/sens.h, through
 * the cache, so a second opening is instant), and applying a bit plan
 * and every uniform candidate to the model and measuring each against the
 * float model.  No curses.
 *
 * The dashboard's settings: the shared texts, the dashboard's context,
 * JOBS_PLAN_CHUNKS evaluation and calibration chunks (the same for the
 * sensitivity and the measurement, so predicted and measured KL are on
 * the same tokens; `qlens sensitivity --chunks 4 --calib-chunks 4` shares
 * the cache with it). */
#ifndef QLENS_UI_JOBS_PLAN_H
#define QLENS_UI_JOBS_PLAN_H

#include "src/sens.h"
#include "ui/jobs.h"

#define JOBS_PLAN_CHUNKS 4

/* One measured configuration. */
struct jobs_plan_meas {
    char label[SENS_LABEL_MAX + 16]; /* "plan", "uniform rtn:4:32"         */
    double bpw;                  /* bits per quantized weight            */
    double ppl, base_ppl, kl, kl_p99, top1;
};

struct jobs_plan {
    /* JOB_SENS: in */
    char cands[256];             /* the candidate list                    */
    /* JOB_SENS: out (the view takes it) */
    struct sens s;
    int have_s;
    /* JOB_PLAN_EVAL: in (src is the view's and stays unchanged while the
     * job runs) */
    const struct sens *src;
    int *pick;                   /* (src->n_t) owned here                 */
    /* JOB_PLAN_EVAL: out */
    struct jobs_plan_meas *m;    /* (n_m): the plan, then each uniform   */
    int n_m;
    struct jobs_run run;         /* the plan as a Runs-view row (method
                                    "plan", spec "plan B bpw (rtn:3:row
                                    x17, ...)" as qlens plan --out names
                                    it), valid when have_run             */
    int have_run;
};

struct jobs_ctx;
struct worker;
struct jobs_data;
int jobs_plan_run(struct jobs_ctx *j, struct worker *w, struct qerr *err);
void jobs_plan_free(struct jobs_plan *p);
/* The pipeline settings of both jobs. */
struct pipe_opts;
void jobs_plan_opts(const struct jobs_data *d, struct pipe_opts *o);

#endif
