/* vm_corr: the Correlation view's numbers (no curses).
 *
 * The store holds the bundled papers' results (assets/results) and the
 * session's own runs.  Variables are every perplexity dataset
 * ("ppl.<dataset>"), "ppl_mean", "bits", "memory_gb" and every benchmark
 * name found in the store.  For the chosen X, Y and model filter the pairs
 * of entries that pass the model filter and the `where` expression
 * (analysis/filter.h) and have both values are correlated (analysis/correlate.h:
 * Pearson r with p, Spearman rho with p, least-squares line, n). */
#ifndef QLENS_UI_VM_CORR_H
#define QLENS_UI_VM_CORR_H

#include <stddef.h>

#include "analysis/correlate.h"
#include "analysis/filter.h"
#include "analysis/results.h"

/* Legend of the scatter: one key per method among the points shown, and
 * one per method of the user's own runs (the session file's entries). */
#define VM_CORR_KEYS 12
struct vm_corr_key {
    char method[64];      /* "GPTQ"; the last key is "other" when full    */
    int mine;             /* the user's own runs                          */
    char letter;          /* drawn at the point: upper case for the
                             bundled data, lower case for your runs      */
    int n;                /* points with this key                         */
};

/* The "Jin et al. Table 3" preset: the paper's selection (4- and 3-bit
 * GPTQ and SpQR Qwen models) and the average |r| it reports. */
#define VM_CORR_JIN_WHERE "model=Qwen*,method=GPTQ|SpQR,bits=3..4"
#define VM_CORR_JIN_PAPER_R 0.7895

struct vm_corr {
    struct results_store s;
    char (*vars)[104];    /* (n_vars) variable names                      */
    int n_vars;
    int n_bench_from;     /* vars[n_bench_from..] are benchmarks          */
    int x, y;             /* indices into vars                            */
    char (*fam)[256];     /* (n_fam) model families (vm_corr_family) with a
                             perplexity somewhere; filter 0 = all         */
    int n_fam, f;
    struct filter where;  /* analysis/filter.h expression (all clauses hold) */
    char where_text[128];
    unsigned char *mine;  /* (s.n) 1: an entry of the user's session file */
    double *xs, *ys;      /* (n) the pairs shown, both finite             */
    int *pe;              /* (n) entry index of each pair                 */
    int *pk;              /* (n) legend key of each pair                  */
    size_t n;
    struct vm_corr_key keys[VM_CORR_KEYS];
    int n_keys;
    int n_mine;           /* entries of the session file under the filters */
    int n_mine_shown;     /* ... of them with both X and Y (plotted)      */
    int lx, ly;           /* axes drawn on log10 (vm_corr_want_log)       */
    struct corr_result fit; /* least squares in the drawn axes: Y' = a + b X'
                             with X' = log10 x when lx (Y' likewise), so
                             the line is straight where it is drawn       */
    int fit_rc;           /* corr_compute's status for fit                */
    struct corr_result res;
    int rc;               /* corr_compute's status (QERR_NUMERIC: too few) */
    char msg[800];
};

void vm_corr_init(struct vm_corr *v);
void vm_corr_free(struct vm_corr *v);
/* Take ownership of a loaded store and build the variable lists; X starts
 * at ppl_mean, Y at the first benchmark. */
int vm_corr_set_store(struct vm_corr *v, struct results_store *s);
/* Recompute pairs and statistics for x, y and the filter. */
void vm_corr_compute(struct vm_corr *v);
/* Statistics of variable x against variable yi under the filter. */
int vm_corr_pair(const struct vm_corr *v, int xi, int yi, struct corr_result *out);
int vm_corr_var(const struct vm_corr *v, const char *name);   /* index or -1 */
/* Move X (axis 0) or Y (axis 1) by dir (+1/-1) to the next variable with
 * at least 3 complete pairs against the other axis under the filters, so
 * a filtered view does not cycle through a hundred empty variables; when
 * no variable has, a plain step.  Recomputes. */
void vm_corr_step(struct vm_corr *v, int axis, int dir);
/* When X and Y have fewer than 3 pairs under the filters (a filter to
 * your own model, whose runs have only the benchmarks you imported), move
 * to the first X among the current one, ppl_mean, the perplexities, bits
 * and memory_gb with a Y (benchmarks first) that has; else leave them. */
void vm_corr_autopick(struct vm_corr *v);
/* Entry filter (then vm_corr_autopick), e.g. "method=GPTQ|SpQR,bits=3..4" ("" = all); recomputes.
 * A syntax error keeps the old filter and returns QERR_ARG. */
int vm_corr_set_where(struct vm_corr *v, const char *text, struct qerr *err);

/* Mark the entries whose id the session store `mine` holds as the user's
 * own runs (drawn apart, counted in n_mine); recomputes. */
void vm_corr_set_mine(struct vm_corr *v, const struct results_store *mine);
/* Draw an axis on a log10 scale?  When all n values are positive and span
 * more than two decades (perplexities of collapsed models reach 1e5). */
int vm_corr_want_log(const double *a, size_t n);
/* The Jin et al. Table 3 preset: X = ppl_mean, all families, where =
 * VM_CORR_JIN_WHERE; recomputes. */
void vm_corr_preset_jin(struct vm_corr *v);
/* Mean |r| of X against every benchmark with a correlation under the
 * filters; *count gets how many (0: returns 0). */
double vm_corr_mean_abs_r(const struct vm_corr *v, int *count);
/* Import a results file into the session store at `session` (lock, load,
 * import, join, atomic save), as `qlens results import FILE --into
 * SESSION` does.  cmd is "PATH [model NAME] [method M] [bits W] [group N]";
 * def (may be NULL) describes the run the imported scores belong to; when
 * cmd names method, bits or group, only def's model is used.  summary gets "PATH: lm-eval, 0 added, 1 joined". */
int vm_corr_import(const char *session, const char *cmd, const struct results_import_opts *def,
                   char *summary, size_t cap, struct qerr *err);

/* A model's family: its leading letters, lower case ("LLaMA2-7B-chat",
 * "llama2_7b_chat" and "LlaMA2_13B" are all "llama"; "ChatGLM3_6B" is
 * "chatglm"), so case and separator variants of one name join. */
void vm_corr_family(const char *model, char *out, size_t cap);

#endif
