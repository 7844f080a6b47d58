/* vm_imatrix: the Imatrix view's rows, from a llama.cpp importance matrix
 * (src/imatrix.h: importance[j] = mean over calibration tokens of x_j², per
 * input channel j of each linear layer).  No curses.
 *
 * Per entry (one linear layer; MoE entries hold n_mat stacked rows and
 * are summarised over all of them):
 *   total     sum_j importance[j]  (= mean squared norm of the layer input)
 *   mean, max over channels;  max_share = max / total
 *   kurtosis  Pearson m4/m2² of the importance values over the channels
 *             (analysis/stats.h; 3 for normally distributed values, large
 *             when a few channels carry the energy: the outlier channels
 *             AWQ / LLM.int8 protect)
 *   top       the VM_IMX_TOP channels of largest importance, largest first
 * The heatmap of an entry maps channel buckets to colour levels on a log
 * scale between the entry's smallest positive value and its maximum. */
#ifndef QLENS_UI_VM_IMATRIX_H
#define QLENS_UI_VM_IMATRIX_H

#include <stdint.h>

#include "analysis/qerr.h"
#include "src/imatrix.h"
#include "src/model.h"

#define VM_IMX_TOP 8

struct vm_imx_row {
    const struct qimatrix_entry *e;
    int in_model;          /* the model has this tensor with n columns     */
    double total, mean, max, min_pos, max_share, kurtosis;
    int64_t top[VM_IMX_TOP];
    double top_val[VM_IMX_TOP];
    int n_top;
};

enum { VM_IMX_SORT_FILE = 0, VM_IMX_SORT_TOTAL, VM_IMX_SORT_KURT, VM_IMX_SORT_SHARE,
       VM_IMX_SORT__COUNT };

struct vm_imatrix {
    struct qimatrix im;
    int loaded;
    char path[1024];
    struct vm_imx_row *rows;  /* (n) in the current order                 */
    int n;
    int n_in_model;           /* rows whose tensor the model has          */
    int sort, rev;
};

/* Read path (legacy or GGUF imatrix) and summarise every entry; m (may be
 * NULL) marks the entries whose tensor the model has.  On error the view
 * model keeps what it had. */
int vm_imatrix_load(struct vm_imatrix *v, const char *path, const struct qmodel *m,
                    struct qerr *err);
/* Take an imatrix computed elsewhere (ownership moves into v). */
int vm_imatrix_take(struct vm_imatrix *v, struct qimatrix *im, const char *label,
                    const struct qmodel *m, struct qerr *err);
void vm_imatrix_free(struct vm_imatrix *v);
/* One entry's summary (n_mat * n values). */
void vm_imatrix_summarise(const struct qimatrix_entry *e, struct vm_imx_row *r);
/* Reorder rows by v->sort (descending; rev ascending; FILE: file order). */
void vm_imatrix_sort(struct vm_imatrix *v);
const char *vm_imatrix_sort_name(int sort);
/* Heat levels of n_cells buckets of `per` channels each, starting at
 * channel first (of all n_mat * n values): the largest value of the
 * bucket on the row's log scale, 0 .. nlev-1; -1 past the end. */
void vm_imatrix_cells(const struct vm_imx_row *r, int64_t first, int64_t per, int n_cells,
                      int nlev, int *lev);

#endif
