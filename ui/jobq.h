/* jobq: the dashboard's job queue and its history, for the jobs panel
 * (btop / k9s style: what waits, what runs, what finished and how).
 * No curses, no threads: the frame (ui/tui.c) owns one, starts the first
 * waiting job when the worker is free, and records each job that ends.
 *
 * A job that arrives while another runs waits here instead of being
 * refused (a second whole-model run, the baseline after it); the user can
 * cancel a waiting one, which then never starts. */
#ifndef QLENS_UI_JOBQ_H
#define QLENS_UI_JOBQ_H

#define JOBQ_MAX 16   /* waiting jobs                                   */
#define JOBQ_HIST 8   /* finished jobs remembered, newest first          */

struct jobs_ctx;

enum jq_state { JQ_WAITING = 0, JQ_DONE, JQ_FAILED, JQ_CANCELLED };

struct jq_entry {
    struct jobs_ctx *j;   /* waiting: the job (owned by the queue); NULL
                             once finished                               */
    int owner;            /* view that asked for it (enum ui_view)       */
    char label[96];
    int state;            /* enum jq_state                               */
    double t_queued;      /* qclock seconds                              */
    double seconds;       /* finished: how long it ran (0: never started) */
    char msg[160];        /* finished: its result or error               */
};

struct jobq {
    struct jq_entry wait[JOBQ_MAX];  /* in order of arrival            */
    int n_wait;
    struct jq_entry hist[JOBQ_HIST]; /* newest first                   */
    int n_hist;
};

void jobq_init(struct jobq *q);
/* Append a waiting job; its position (1 = next), or -1 when full. */
int jobq_push(struct jobq *q, struct jobs_ctx *j, int owner, const char *label, double now);
/* Take the first waiting job into *out; 0 when none waits. */
int jobq_pop(struct jobq *q, struct jq_entry *out);
/* Take waiting job i (0 = next) out of the queue into *out; 0 when i
 * is out of range. */
int jobq_remove(struct jobq *q, int i, struct jq_entry *out);
/* Remember a finished job (the oldest record goes when full). */
void jobq_record(struct jobq *q, const char *label, int state, double seconds, const char *msg);
/* Is a job of this kind (enum job_kind) waiting? */
int jobq_has_kind(const struct jobq *q, int kind);
const char *jobq_state_name(int state); /* "waiting", "done", ... */

#endif
