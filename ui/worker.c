/* worker: a job thread with progress and cancel flags. */
#include "ui/worker.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "src/qclock.h"

void worker_init(struct worker *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    atomic_init(&w->done, 0);
    atomic_init(&w->cancel, 0);
    atomic_init(&w->permille, 0);
}

static void *trampoline(void *p)
{
    struct worker *w = p;
    w->rc = w->fn(w, w->arg);
    atomic_store(&w->done, 1);
    return NULL;
}

int worker_start(struct worker *w, int kind, const char *label,
                 int (*fn)(struct worker *, void *), void *arg)
{
    if (w->running)
        return QERR_ARG;
    atomic_store(&w->done, 0);
    atomic_store(&w->cancel, 0);
    atomic_store(&w->permille, 0);
    snprintf(w->label, sizeof w->label, "%s", label ? label : "job");
    w->fn = fn;
    w->arg = arg;
    w->kind = kind;
    w->rc = 0;
    qerr_clear(&w->err);
    pthread_mutex_lock(&w->lock);
    w->phase[0] = w->detail[0] = '\0';
    w->step = w->nsteps = w->step0 = 0;
    w->t_start = w->t_phase = qclock_seconds();
    pthread_mutex_unlock(&w->lock);
    if (pthread_create(&w->th, NULL, trampoline, w) != 0)
        return qerr_set(&w->err, QERR_NOMEM, "cannot start a worker thread");
    w->running = 1;
    return 0;
}

int worker_poll(struct worker *w)
{
    if (!w->running || !atomic_load(&w->done))
        return 0;
    pthread_join(w->th, NULL);
    w->running = 0;
    return 1;
}

int worker_busy(const struct worker *w) { return w->running; }

void worker_request_cancel(struct worker *w) { atomic_store(&w->cancel, 1); }

void worker_progress(struct worker *w, double frac)
{
    int p = (int)(frac * 1000);
    atomic_store(&w->permille, p < 0 ? 0 : p > 1000 ? 1000 : p);
}

int worker_cancelled(struct worker *w) { return atomic_load(&w->cancel); }

void worker_phase(struct worker *w, const char *phase, int step, int nsteps)
{
    pthread_mutex_lock(&w->lock);
    if (strncmp(w->phase, phase, sizeof w->phase - 1)) {
        snprintf(w->phase, sizeof w->phase, "%s", phase);
        w->detail[0] = '\0';
        w->step0 = step;
        w->t_phase = qclock_seconds();
    }
    w->step = step;
    w->nsteps = nsteps;
    pthread_mutex_unlock(&w->lock);
}

void worker_detail(struct worker *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&w->lock);
    vsnprintf(w->detail, sizeof w->detail, fmt, ap);
    pthread_mutex_unlock(&w->lock);
    va_end(ap);
}

/* ETA from the pace of this phase's steps so far (lock held). */
static double eta_locked(const struct worker *w, double now)
{
    int done = w->step - w->step0, left = w->nsteps - w->step;
    double el = now - w->t_phase;
    if (w->nsteps > 0 && done > 0 && left > 0 && el > 0.5)
        return el / done * left;
    return -1;
}

void worker_info(struct worker *w, double now, struct worker_info *out)
{
    pthread_mutex_lock(&w->lock);
    snprintf(out->phase, sizeof out->phase, "%s", w->phase);
    snprintf(out->detail, sizeof out->detail, "%s", w->detail);
    out->step = w->step;
    out->nsteps = w->nsteps;
    out->elapsed = now - w->t_start;
    out->eta = eta_locked(w, now);
    pthread_mutex_unlock(&w->lock);
    out->cancelling = atomic_load(&w->cancel) && !atomic_load(&w->done);
    out->permille = atomic_load(&w->permille);
}

void worker_status(struct worker *w, double now, char *buf, int cap)
{
    struct worker_info in;
    worker_info(w, now, &in);
    int o = 0;
    if (in.cancelling)
        o = snprintf(buf, (size_t)cap, "cancelling, waiting for the current step");
    else if (!in.phase[0])
        o = snprintf(buf, (size_t)cap, "starting");
    else if (in.nsteps > 0)
        o = snprintf(buf, (size_t)cap, "%s %d/%d", in.phase, in.step, in.nsteps);
    else
        o = snprintf(buf, (size_t)cap, "%s", in.phase);
    if (!in.cancelling && in.detail[0] && o >= 0 && o < cap)
        o += snprintf(buf + o, (size_t)(cap - o), " (%s)", in.detail);
    if (!in.cancelling && in.eta >= 0 && o >= 0 && o < cap)
        snprintf(buf + o, (size_t)(cap - o), ", %.0f s left", in.eta);
}

void worker_stop(struct worker *w)
{
    if (!w->running)
        return;
    worker_request_cancel(w);
    pthread_join(w->th, NULL);
    w->running = 0;
}
