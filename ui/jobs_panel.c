/* jobs_panel: the overlay listing every job of the session (J): the one
 * running, with its phase, step, elapsed time and time left; the ones
 * waiting for the worker; the weight statistics still loading; the
 * finished ones with their result.  c cancels the row under the cursor:
 * the running job (it says "cancelling" at once, before the worker
 * notices), a waiting one (never starts), or the statistics. */
#define _XOPEN_SOURCE_EXTENDED 1
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "src/qclock.h"
#include "ui/draw.h"
#include "ui/tui_int.h"

enum jp_kind { JP_RUNNING, JP_WAITING, JP_STATS, JP_DONE };

struct jp_row {
    int kind;             /* enum jp_kind                               */
    int i;                /* index in the queue / the history           */
};

/* Rows in display order; returns the count (at most cap). */
static int panel_rows(struct tui *t, struct jp_row *r, int cap)
{
    int n = 0;
    if (worker_busy(&t->job) && n < cap)
        r[n++] = (struct jp_row){JP_RUNNING, 0};
    for (int i = 0; i < t->jq.n_wait && n < cap; i++)
        r[n++] = (struct jp_row){JP_WAITING, i};
    if (t->lay.n_stats < t->lay.n_rows && n < cap)
        r[n++] = (struct jp_row){JP_STATS, 0};
    for (int i = 0; i < t->jq.n_hist && n < cap; i++)
        r[n++] = (struct jp_row){JP_DONE, i};
    return n;
}

static void fmt_secs(double s, char *buf, size_t cap)
{
    if (s < 0)
        snprintf(buf, cap, "-");
    else if (s < 600)
        snprintf(buf, cap, "%.0f s", s);
    else
        snprintf(buf, cap, "%.0f min", s / 60);
}

/* One row's cells: state, job, what it does now, elapsed, time left. */
static void row_cells(struct tui *t, const struct jp_row *r, char *state, char *job, char *now,
                      char *el, char *left, size_t cap)
{
    double clock = qclock_seconds();
    snprintf(left, cap, "-");
    snprintf(el, cap, "-");
    if (r->kind == JP_RUNNING) {
        struct worker_info in;
        worker_info(&t->job, clock, &in);
        if (in.cancelling)
            snprintf(state, cap, "%s", draw.utf8 ? "cancelling\u2026" : "cancelling...");
        else
            snprintf(state, cap, "running %d%%", in.permille / 10);
        snprintf(job, cap, "%s", t->job.label);
        int o = in.cancelling ? snprintf(now, cap, "waiting for the current step to end")
                : !in.phase[0] ? snprintf(now, cap, "starting")
                : in.nsteps > 0 ? snprintf(now, cap, "%s %d/%d", in.phase, in.step, in.nsteps)
                : snprintf(now, cap, "%s", in.phase); /* the time left has its column */
        if (!in.cancelling && in.detail[0] && o >= 0 && (size_t)o < cap)
            snprintf(now + o, cap - (size_t)o, " (%s)", in.detail);
        fmt_secs(in.elapsed, el, cap);
        if (!in.cancelling)
            fmt_secs(in.eta, left, cap);
    } else if (r->kind == JP_WAITING) {
        const struct jq_entry *e = &t->jq.wait[r->i];
        snprintf(state, cap, "waiting #%d", r->i + 1);
        snprintf(job, cap, "%s", e->label);
        snprintf(now, cap, "starts after %d job%s", r->i + 1, r->i ? "s" : "");
        fmt_secs(clock - e->t_queued, el, cap);
    } else if (r->kind == JP_STATS) {
        snprintf(state, cap, "%s", atomic_load(&t->sl.cancel) ? "cancelling" : "loading");
        snprintf(job, cap, "statistics of %d tensors", t->lay.n_rows);
        snprintf(now, cap, "stats %d/%d", t->lay.n_stats, t->lay.n_rows);
        fmt_secs(clock - t->sl.t_start, el, cap);
        fmt_secs(statsload_eta(&t->sl, clock), left, cap);
    } else {
        const struct jq_entry *e = &t->jq.hist[r->i];
        snprintf(state, cap, "%s", jobq_state_name(e->state));
        snprintf(job, cap, "%s", e->label);
        snprintf(now, cap, "%s", e->msg);
        if (e->seconds > 0)
            fmt_secs(e->seconds, el, cap);
    }
}

void jobs_panel_draw(struct tui *t, int y0, int h)
{
    struct jp_row rows[1 + JOBQ_MAX + 1 + JOBQ_HIST];
    int n = panel_rows(t, rows, (int)(sizeof rows / sizeof rows[0]));
    if (t->jobs_sel >= n)
        t->jobs_sel = n > 0 ? n - 1 : 0;
    draw_textf(y0, 1, t->w - 2, A_BOLD, "Jobs: %d running, %d waiting, %d finished  "
               "(Up/Down select, c cancels the selected job, J or Esc closes)",
               worker_busy(&t->job), t->jq.n_wait, t->jq.n_hist);
    int ws = 14, wt = 8, wj = (t->w - ws - 2 * wt - 4) * 2 / 5;
    wj = t->w < 100 ? 14 : wj > 44 ? 44 : wj; /* narrow: the phase needs the room */
    int wn = t->w - ws - wj - 2 * wt - 4, xj = ws + 1, xn = xj + wj + 1, xe = xn + wn + 1;
    int hy = y0 + 2;
    draw_fill(hy, 0, t->w, A_BOLD | A_UNDERLINE);
    draw_text(hy, 0, ws, "State", A_BOLD | A_UNDERLINE);
    draw_text(hy, xj, wj, "Job", A_BOLD | A_UNDERLINE);
    draw_text(hy, xn, wn, "Now / result", A_BOLD | A_UNDERLINE);
    draw_text(hy, xe, wt, " Elapsed", A_BOLD | A_UNDERLINE);
    draw_text(hy, xe + wt + 1, wt, "    Left", A_BOLD | A_UNDERLINE);
    if (n == 0)
        draw_text(hy + 1, 1, t->w - 2, "no jobs yet: P runs the float baseline, A quantizes every "
                  "layer and measures perplexity, C calibrates", A_NORMAL);
    for (int k = 0; k < n && hy + 1 + k < y0 + h; k++) {
        char st[160], job[160], now[160], el[32], left[32];
        row_cells(t, &rows[k], st, job, now, el, left, sizeof job);
        int y = hy + 1 + k, sel = k == t->jobs_sel;
        int attr = sel ? draw_attr(DP_SEL)
                   : rows[k].kind == JP_DONE && t->jq.hist[rows[k].i].state == JQ_FAILED
                       ? draw_attr(DP_ERR) : (int)A_NORMAL;
        if (sel)
            draw_fill(y, 0, t->w, attr);
        draw_text(y, 0, ws, st, attr | (rows[k].kind == JP_RUNNING ? (int)A_BOLD : 0));
        draw_text(y, xj, wj, job, attr);
        char fit[160];
        draw_fit(now, wn, fit, sizeof fit);
        draw_text(y, xn, wn, fit, attr);
        draw_textf(y, xe, wt, attr, "%*s", wt, el);
        draw_textf(y, xe + wt + 1, wt, attr, "%*s", wt, left);
    }
}

static void cancel_row(struct tui *t, const struct jp_row *r)
{
    switch (r->kind) {
    case JP_RUNNING:
        worker_request_cancel(&t->job);
        tui_msg(t, 0, "cancelling %s ...", t->job.label);
        break;
    case JP_WAITING: tui_cancel_waiting(t, r->i); break;
    case JP_STATS:
        statsload_cancel(&t->sl);
        tui_msg(t, 0, "statistics: cancelling; the tensors left will say so");
        break;
    default: tui_msg(t, 0, "%s has finished already", t->jq.hist[r->i].label);
    }
}

int jobs_panel_act(struct tui *t, enum ui_act a)
{
    struct jp_row rows[1 + JOBQ_MAX + 1 + JOBQ_HIST];
    int n = panel_rows(t, rows, (int)(sizeof rows / sizeof rows[0]));
    switch (a) {
    case UA_UP: if (t->jobs_sel > 0) t->jobs_sel--; return 1;
    case UA_DOWN: if (t->jobs_sel < n - 1) t->jobs_sel++; return 1;
    case UA_HOME: case UA_PGUP: t->jobs_sel = 0; return 1;
    case UA_END: case UA_PGDN: t->jobs_sel = n > 0 ? n - 1 : 0; return 1;
    case UA_CANCEL:
        if (t->jobs_sel < n)
            cancel_row(t, &rows[t->jobs_sel]);
        else
            tui_msg(t, 0, "no job to cancel");
        return 1;
    case UA_BACK: case UA_JOBS: t->jobs_on = 0; return 1;
    default: return 0;
    }
}
