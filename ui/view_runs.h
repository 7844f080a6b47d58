/* view_runs: what the Runs view shares: the session file its runs are
 * kept in (the Correlation view shows them among the papers' results). */
#ifndef QLENS_UI_VIEW_RUNS_H
#define QLENS_UI_VIEW_RUNS_H

struct tui;
struct results_import_opts;
struct jobs_run;

/* A finished run from another view (the Plan view's measured plan) into
 * the table and the session file, as the Runs view's own jobs add theirs
 * (replacing the same configuration at the same context); say = 1 puts
 * "SPEC: PPL ..., saved to SESSION" on the status line.  <0: not kept or
 * not saved (the status line says why). */
int view_runs_add(struct tui *t, const struct jobs_run *run, int say);

/* Path of the session file ("" when none); t->runs_gen bumps whenever
 * its content changes. */
const char *view_runs_session_path(struct tui *t);

/* Imports from the Correlation view join the run selected here: o gets
 * its model label, method, bits and group (strings owned by the view);
 * without runs only the model.  Returns 1 when a run gave them. */
int view_runs_import_defaults(struct tui *t, struct results_import_opts *o, char *desc, int cap);

#endif
