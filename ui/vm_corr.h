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
    double *xs, *ys;      /* (n) the pairs shown, both finite             */
    size_t n;
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
/* Entry filter, e.g. "method=GPTQ|SpQR,bits=3..4" ("" = all); recomputes.
 * A syntax error keeps the old filter and returns QERR_ARG. */
int vm_corr_set_where(struct vm_corr *v, const char *text, struct qerr *err);

/* A model's family: its leading letters, lower case ("LLaMA2-7B-chat",
 * "llama2_7b_chat" and "LlaMA2_13B" are all "llama"; "ChatGLM3_6B" is
 * "chatglm"), so case and separator variants of one name join. */
void vm_corr_family(const char *model, char *out, size_t cap);

#endif
