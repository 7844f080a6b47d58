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
/* Cancel and join (used at exit). */
void worker_stop(struct worker *w);

#endif
