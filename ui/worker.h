/* worker: one background job at a time (calibration, whole-model
 * quantization, perplexity) so the screen keeps answering keys.
 *
 * The job runs fn(w, arg) on a thread; it reports progress with
 * worker_progress() and polls worker_cancelled().  The main loop calls
 * worker_poll() every tick: when the job has finished it joins the thread
 * and returns 1 once, and then (on the main thread) the caller reads
 * w->rc / w->err and the job's results in arg.  No curses here. */
#ifndef QLENS_UI_WORKER_H
#define QLENS_UI_WORKER_H

#include <pthread.h>
#include <stdatomic.h>

#include "analysis/qerr.h"

struct worker {
    pthread_t th;
    int running;          /* a thread exists (main thread's view)         */
    atomic_int done;      /* set by the job thread when fn returned       */
    atomic_int cancel;    /* set by the main thread                       */
    atomic_int permille;  /* progress 0..1000                             */
    char label[96];       /* "perplexity rtn w4 g128"                     */
    int (*fn)(struct worker *w, void *arg);
    void *arg;
    int kind;             /* caller's tag for what the job is             */
    int rc;               /* fn's return value (valid after poll)         */
    struct qerr err;      /* fn's message (valid after poll)              */
    /* What the job is doing now (worker_phase), for the status bar. */
    pthread_mutex_t lock; /* guards the fields below                      */
    char phase[64];       /* "evaluating chunk"                           */
    int step, nsteps;     /* 12 of 303 (nsteps 0: no count)               */
    char detail[64];      /* what inside the phase ("calibrating
                             blk.3.attn_q/k/v"); cleared by a new phase   */
    int step0;            /* step when the phase began                    */
    double t_phase;       /* when the phase began (qclock seconds)        */
    double t_start;       /* when the job began                           */
};

void worker_init(struct worker *w);
/* Start a job; QERR_ARG when one is already running. */
int worker_start(struct worker *w, int kind, const char *label,
                 int (*fn)(struct worker *, void *), void *arg);
/* 1 exactly once after the job finished (thread joined), else 0. */
int worker_poll(struct worker *w);
int worker_busy(const struct worker *w);
void worker_request_cancel(struct worker *w);
/* Called from the job. */
void worker_progress(struct worker *w, double frac);
int worker_cancelled(struct worker *w);
/* Called from the job: the phase it is in and its step (of nsteps; 0 when
 * it has no count).  A new phase text restarts the ETA estimate. */
void worker_phase(struct worker *w, const char *phase, int step, int nsteps);
/* Called from the job: what it does inside the phase (printf-style);
 * does not restart the ETA. */
void worker_detail(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Main thread: a consistent copy of what the job reports. */
struct worker_info {
    char phase[64], detail[64];
    int step, nsteps;
    double elapsed;       /* since the job began                          */
    double eta;           /* seconds left in this phase, < 0 unknown      */
    int cancelling;       /* cancel was asked, the job has not ended      */
    int permille;
};
void worker_info(struct worker *w, double now, struct worker_info *out);
/* Main thread: "evaluating chunk 12/303, 25 s left" (the ETA once a step
 * of the phase has taken time; "cancelling" once cancel was asked), for
 * the status bar.  `now` is qclock_seconds(). */
void worker_status(struct worker *w, double now, char *buf, int cap);
/* Cancel and join (used at exit). */
void worker_stop(struct worker *w);

#endif
