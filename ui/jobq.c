/* jobq: waiting jobs and finished-job records (see jobq.h). */
#include "ui/jobq.h"

#include <stdio.h>
#include <string.h>

#include "ui/jobs.h"

void jobq_init(struct jobq *q) { memset(q, 0, sizeof *q); }

int jobq_push(struct jobq *q, struct jobs_ctx *j, int owner, const char *label, double now)
{
    if (q->n_wait >= JOBQ_MAX)
        return -1;
    struct jq_entry *e = &q->wait[q->n_wait++];
    memset(e, 0, sizeof *e);
    e->j = j;
    e->owner = owner;
    snprintf(e->label, sizeof e->label, "%s", label ? label : "job");
    e->state = JQ_WAITING;
    e->t_queued = now;
    return q->n_wait;
}

int jobq_remove(struct jobq *q, int i, struct jq_entry *out)
{
    if (i < 0 || i >= q->n_wait)
        return 0;
    *out = q->wait[i];
    memmove(&q->wait[i], &q->wait[i + 1], (size_t)(q->n_wait - i - 1) * sizeof q->wait[0]);
    q->n_wait--;
    return 1;
}

int jobq_pop(struct jobq *q, struct jq_entry *out) { return jobq_remove(q, 0, out); }

void jobq_record(struct jobq *q, const char *label, int state, double seconds, const char *msg)
{
    int n = q->n_hist < JOBQ_HIST ? q->n_hist : JOBQ_HIST - 1;
    memmove(&q->hist[1], &q->hist[0], (size_t)n * sizeof q->hist[0]);
    struct jq_entry *e = &q->hist[0];
    memset(e, 0, sizeof *e);
    snprintf(e->label, sizeof e->label, "%s", label ? label : "job");
    e->state = state;
    e->seconds = seconds;
    snprintf(e->msg, sizeof e->msg, "%s", msg ? msg : "");
    q->n_hist = n + 1;
}

int jobq_has_kind(const struct jobq *q, int kind)
{
    for (int i = 0; i < q->n_wait; i++)
        if (q->wait[i].j && (int)q->wait[i].j->kind == kind)
            return 1;
    return 0;
}

const char *jobq_state_name(int state)
{
    switch (state) {
    case JQ_WAITING: return "waiting";
    case JQ_DONE: return "done";
    case JQ_FAILED: return "failed";
    case JQ_CANCELLED: return "cancelled";
    default: return "?";
    }
}
