/* view_runs: what the Runs view shares: the session file its runs are
 * kept in (the Correlation view shows them among the papers' results). */
#ifndef QLENS_UI_VIEW_RUNS_H
#define QLENS_UI_VIEW_RUNS_H

struct tui;
struct results_import_opts;

/* Path of the session file ("" when none); t->runs_gen bumps whenever
 * its content changes. */
const char *view_runs_session_path(struct tui *t);

/* Imports from the Correlation view join the run selected here: o gets
 * its model label, method, bits and group (strings owned by the view);
 * without runs only the model.  Returns 1 when a run gave them. */
int view_runs_import_defaults(struct tui *t, struct results_import_opts *o, char *desc, int cap);

#endif
