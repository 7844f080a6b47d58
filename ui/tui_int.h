/* tui_int: the dashboard's state shared by the frame (ui/tui.c) and the
 * views (ui/view_*.c, listed in ui/views.h).  The frame owns the model,
 * its statistics rows, the worker and the data every job shares; each
 * view owns its state in vs[] (ui/view.h).  Views draw from view-models
 * (ui/vm_*.h); only the frame reads keys.  Internal to ui/. */
#ifndef QLENS_UI_TUI_INT_H
#define QLENS_UI_TUI_INT_H

#include "src/model.h"
#include "ui/jobq.h"
#include "ui/jobs.h"
#include "ui/keys.h"
#include "ui/statsload.h"
#include "ui/view.h"
#include "ui/vm_layers.h"
#include "ui/worker.h"

/* Values a frame may scan for a map or histogram; bigger work continues
 * on the following frames (idle ticks), so no frame blocks on a huge
 * tensor. */
#define TUI_STEP_VALUES (1u << 20)
/* Milliseconds a frame may spend writing fresh result buffers once
 * (vm_quant_prepare): a page fault per 4 KB is slow in a virtual
 * machine, so big new buffers are made ready over a few frames. */
#define TUI_TOUCH_MS 10.0
/* Seconds a status message stays (errors twice as long). */
#define TUI_MSG_SECONDS 10

struct tui {
    struct qmodel m;
    int model_open;
    char model_name[256];
    struct vm_layers lay; /* statistics rows of every tensor (all views)  */
    struct statsload sl;  /* fills lay's statistics after the first frame */
    int sl_said;          /* the "statistics done" message was given      */
    struct mdiff *base;   /* qlens --base FILE: the model compared against,
                             or NULL                                      */
    int ti;               /* current tensor (-1 none)                     */
    enum ui_view view;
    void *vs[UV__COUNT];  /* each view's own state (its init allocates)   */
    int help_on, help_top;
    int h, w;             /* screen size                                  */
    int body_y, body_h;   /* rows of the view between tab and status bar */

    /* Background work: one job at a time on the worker thread. */
    struct worker job;
    struct jobs_ctx *job_ctx; /* context of the running job, or NULL      */
    struct jobs_data data;    /* tokens for calibration / perplexity      */
    struct jobs_acts acts;    /* the 'C' pass: activation statistics      */
    int runs_gen;             /* bumps whenever the session's runs change */
    struct jobq jq;           /* jobs waiting for the worker, and the
                                 finished ones (the jobs panel)           */
    int jobs_on, jobs_sel;    /* the jobs panel is shown; its cursor      */

    /* one-line prompt opened by a view (tui_prompt) */
    enum ui_act prompt_act;
    enum ui_view prompt_view;
    const char *prompt_label;
    char prompt[256];     /* (paths: the Correlation view's import) */
    int prompt_len;

    char msg[256];
    int msg_err;
    double msg_time;      /* when it was set (qclock seconds)             */
    int quit;
    int quit_armed;       /* q pressed once while a job runs              */
    struct demo *demo;    /* a scripted tour playing (ui/demo.h), or NULL  */
    struct qimatrix *imx_start; /* qlens --imatrix FILE, read and checked
                             before the screen starts; the Imatrix view
                             takes it at init                             */
    const char *imx_start_path;
    int tab_x[UV__COUNT + 1]; /* tab start columns for mouse clicks     */
    int list_y0, list_h;  /* list rows of the current view (mouse)        */
};

/* Status-bar message (printf-style); err marks it as an error. */
void tui_msg(struct tui *t, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Make tensor `ti` the current tensor (every view's tensor_changed). */
void tui_select_tensor(struct tui *t, int ti);
/* Show view v. */
void tui_show(struct tui *t, enum ui_view v);
/* Open the one-line prompt for action a of view owner; label is a static
 * string ("filter").  Enter calls the owner's prompt_done. */
void tui_prompt(struct tui *t, enum ui_view owner, enum ui_act a, const char *label);
/* Start j (allocated by the caller; the frame owns it from here on) on
 * the worker; view `owner` gets job_done.  On failure says why, calls
 * the owner's job_done with the error and returns -1. */
int tui_start_job(struct tui *t, struct jobs_ctx *j, enum ui_view owner, const char *label);
/* Refuse to start work while a job runs (says so); 1 when busy.  Most
 * jobs should rather queue: tui_start_job does that by itself. */
int tui_job_busy(struct tui *t);
/* Take waiting job i (0 = next) out of the queue: its owner's job_done
 * gets QERR_CANCEL, the panel's history says "cancelled". */
void tui_cancel_waiting(struct tui *t, int i);

/* The jobs panel (ui/jobs_panel.c), an overlay like the help: the running
 * job with its phase, step, elapsed time and time left, the waiting ones,
 * the statistics still loading, the finished ones; c cancels the one
 * under the cursor. */
void jobs_panel_draw(struct tui *t, int y0, int h);
/* Keys while the panel is open; 1 when handled. */
int jobs_panel_act(struct tui *t, enum ui_act a);

#endif
