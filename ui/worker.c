/* worker: a job thread with progress and cancel flags. */
#include "ui/worker.h"

#include <stdio.h>
#include <string.h>

void worker_init(struct worker *w)
{
    memset(w, 0, sizeof *w);
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

void worker_stop(struct worker *w)
{
    if (!w->running)
        return;
    worker_request_cancel(w);
    pthread_join(w->th, NULL);
    w->running = 0;
}
