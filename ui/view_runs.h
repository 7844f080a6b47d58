/* view_runs: what the Runs view shares: the session file its runs are
 * kept in (the Correlation view shows them among the papers' results). */
#ifndef QLENS_UI_VIEW_RUNS_H
#define QLENS_UI_VIEW_RUNS_H

struct tui;

/* Path of the session file ("" when none); t->runs_gen bumps whenever
 * its content changes. */
const char *view_runs_session_path(struct tui *t);

#endif
