/* ext_int: state of the Quant, Runs and Correlation views (internal). */
#ifndef QLENS_UI_EXT_INT_H
#define QLENS_UI_EXT_INT_H

#include "analysis/results.h"
#include "ui/draw.h"
#include "ui/jobs.h"
#include "ui/tui_int.h"
#include "ui/view_ext.h"
#include "ui/vm_corr.h"
#include "ui/vm_quant.h"
#include "ui/vm_runs.h"

struct tui_quant {
    struct vm_quant cur;          /* settings + the result shown         */
    int stale;                    /* settings or tensor changed           */
    struct jobs_data data;        /* tokens for calibration / perplexity  */
    struct jobs_site_calib site;  /* calibration of the current site      */
    struct jobs_acts acts;        /* 'C' pass                              */
    struct jobs_ctx *job;         /* context of the running job, or NULL  */
    struct vm_map emap;           /* |W - Ŵ| heatmap                      */
    struct vm_hist qhist;         /* histogram of Ŵ                       */
    int qhist_for;                /* result generation the hist shows     */
    int gen;                      /* bumps with every new result          */
    int emap_gen;                 /* result generation the error map shows */
};

struct tui_runs {
    struct vm_runs vm;
    int mode;                     /* 0 table, 1 bars, 2 size vs PPL       */
};

struct tui_corr {
    struct vm_corr vm;
    int loaded;
    int table;                    /* 1: r of X against every benchmark    */
};

/* view_quant.c */
void quant_refresh(struct tui *t);
void view_quant_draw(struct tui *t, int y0, int h);
int quant_act(struct tui *t, enum ui_act a);
void quant_job_done(struct tui *t, struct jobs_ctx *j, int rc);
/* view_runs.c */
void view_runs_draw(struct tui *t, int y0, int h);
int view_runs_act(struct tui *t, enum ui_act a);
void runs_job_done(struct tui *t, struct jobs_ctx *j, int rc);
int runs_start(struct tui *t, enum job_kind kind);
/* view_corr.c */
void view_corr_draw(struct tui *t, int y0, int h);
int view_corr_act(struct tui *t, enum ui_act a);
/* view_ext.c: start a job with a context (takes ownership of j). */
int ext_start_job(struct tui *t, struct jobs_ctx *j, const char *label);

#endif
