/* view_div: the Divergence view, the drill-down from a run to its layers
 * (ui/view_div.c). */
#ifndef QLENS_UI_VIEW_DIV_H
#define QLENS_UI_VIEW_DIV_H

struct tui;
struct jobs_run;

/* Show the Divergence view for run: its last result when it is this
 * run's, else start the job computing it (refused with a message for the
 * float baseline, an unreadable configuration or while a job runs).
 * Returns 0 when shown or started. */
int view_div_open(struct tui *t, const struct jobs_run *run);

#endif
