/* vm_runs: rows of the Runs view and the session file (no curses).
 *
 * Every finished perplexity run (the float baseline and each whole-model
 * configuration) of the current model is one row.  The session file is a
 * results store (analysis/results.h, schema qlens-results/1): one entry
 * per run with id "<model>/<spec>" (a rerun of the same configuration
 * replaces it), method, bits, group_size, ppl.<dataset> with its standard
 * error, memory_gb, speed, and the rest in settings (spec, bpw, size_mib,
 * kl, top1, base_ppl, seconds, n_ctx, n_chunks).  It is written atomically
 * (temp file + rename, results_save) after every change, and entries of
 * other models in the same file are kept, and so are this model's entries
 * that the dashboard did not write (imports, sweep results).
 *
 * A run is keyed by its configuration AND its context n_ctx: the same
 * configuration measured at another context is another row (id
 * "<model>/<spec> ctx<N>" unless N is the standard 512), and
 * ΔPPL % = 100 (PPL / PPL_float - 1) takes PPL_float from the same KL pass
 * when the run has one, else from the baseline row of the same n_ctx
 * (none: no ΔPPL).  The Pareto front
 * holds the runs no other run beats on both size and PPL.
 *
 * Bit plans are runs too (method "plan", configuration "plan B bpw
 * (CANDIDATE xN, ...)"): those the Plan view measures are the dashboard's
 * own (written back with "plan": true), and the plan entries of this
 * model that `qlens plan --measure --out SESSION` wrote are read as rows
 * as well (jobs_run.ext_id): their fields as that command names them, the
 * entry kept as it is at every save, and deleted from the file only when
 * its row is deleted here. */
#ifndef QLENS_UI_VM_RUNS_H
#define QLENS_UI_VM_RUNS_H

#include "analysis/qerr.h"
#include "ui/jobs.h"

#define VM_RUNS_MAX 512 /* rows kept; views size their scratch by it */

enum vr_col {
    VR_SPEC = 0, VR_BITS, VR_GROUP, VR_BPW, VR_SIZE, VR_PPL, VR_DPPL, VR_KL, VR_TOP1, VR_TIME,
    VR_CTX, VR__NCOL
};

struct vr_coldef { const char *title; int width; };
extern const struct vr_coldef vr_cols[VR__NCOL];

struct vm_runs {
    char model[256];      /* results_label(): "stories260K", as qlens sweep,
                             quant and imports label it, so entries join  */
    char file[256];       /* the name given ("stories260K.bin"): sessions
                             written before the label change used it      */
    char dataset[64];
    char path[1024];      /* session file ("" = not persisted)            */
    struct jobs_run *r;   /* (n) in the order shown                       */
    int n, cap;
    int sel, top;
    int sort_col, sort_desc;
    int n_over;           /* this model's runs in the session file beyond
                             VM_RUNS_MAX: not shown, and vm_runs_save
                             refuses to write (it would drop them)       */
    char (*gone)[160];    /* (n_gone) ids of other commands' plan entries
                             deleted here: dropped from the file at save */
    int n_gone;
};

/* Is e a bit plan (method "plan" or settings "plan": true)? */
struct results_entry;
int vm_runs_entry_is_plan(const struct results_entry *e);
void vm_runs_init(struct vm_runs *v, const char *model, const char *dataset, const char *path);
void vm_runs_free(struct vm_runs *v);
/* Read the dashboard runs of v->model (or of v->file, an older session)
 * from the session file (a missing file is an empty session, not an error).
 * More than VM_RUNS_MAX of them: the first are shown, n_over counts the
 * rest and the call fails with a message saying the session will not be
 * saved. */
int vm_runs_load(struct vm_runs *v, struct qerr *err);
/* The same from the file's text (`name` names it in messages). */
int vm_runs_parse(struct vm_runs *v, const char *text, const char *name, struct qerr *err);
/* Write every run back (atomic); refused while n_over > 0. */
int vm_runs_save(const struct vm_runs *v, struct qerr *err);
/* Add a run, replacing one with the same spec and n_ctx; selects it. */
int vm_runs_add(struct vm_runs *v, const struct jobs_run *run);
void vm_runs_delete(struct vm_runs *v, int i);
void vm_runs_sort(struct vm_runs *v, int col, int desc);
void vm_runs_move(struct vm_runs *v, int delta, int height);
double vm_runs_dppl(const struct vm_runs *v, int i);
/* When quantized runs with the same Bits store different bits per weight
 * (SpQR g16 "2 bit" = 5.5 b/w, GPTQ g128 "2 bit" = 2.26), a warning that
 * their PPL is not compared at equal storage; returns 1 and fills buf
 * for the widest such spread, else 0. */
int vm_runs_storage_note(const struct vm_runs *v, char *buf, int cap);
/* front[i] = 1 when run i is on the size/PPL Pareto front. */
void vm_runs_pareto(const struct vm_runs *v, unsigned char *front);
void vm_runs_cell(const struct vm_runs *v, int i, int col, char *buf, int cap);
/* The size-vs-PPL plot labels run i with a letter (a..z, A..Z, 0..9 in
 * row order, then '+'), keyed to a legend line: "b* PPL 9.31
 * 0.2 MiB  RTN w4 g128 asym", '*' after the letter when the run is on the
 * Pareto front (front may be NULL). */
char vm_runs_letter(int i);
void vm_runs_legend(const struct vm_runs *v, int i, const unsigned char *front, char *buf, int cap);
/* prefix.json (results store of these runs only), prefix.csv, prefix.md,
 * each written atomically: a failed export leaves the old files. */
int vm_runs_export(const struct vm_runs *v, const char *prefix, struct qerr *err);
/* Default session file: $QLENS_SESSION, else $HOME/.qlens-session.json. */
const char *vm_runs_default_path(void);

#endif
