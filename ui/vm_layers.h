/* vm_layers: the rows of the Layers view (ncdu's dirlist_: the view reads
 * prepared rows and never computes statistics).  No curses.
 *
 * One row per tensor, in model order grouped by layer (token_embd, blk.0.*,
 * ..., output_norm, output) until the user sorts by another column.
 * Difficulty (the row colour) comes from the Pearson kurtosis of the
 * weights, the quantity Li et al. 2024 found to explain which tensors lose
 * most at low bits:
 *   0 easy      kurt < 4       (a normal distribution has 3)
 *   1 moderate  4 <= kurt < 10
 *   2 hard      10 <= kurt < 50
 *   3 extreme   kurt >= 50
 *  -1 not a linear weight (norms, biases): quantizers leave it alone. */
#ifndef QLENS_UI_VM_LAYERS_H
#define QLENS_UI_VM_LAYERS_H

#include <stddef.h>

#include "analysis/stats.h"
#include "src/model.h"

enum vl_col {
    VL_NAME = 0, VL_SHAPE, VL_DTYPE, VL_STD, VL_ABSMAX, VL_KURT, VL_OUTL,
    VL_A_STD, VL_A_ABSMAX, VL_A_KURT, VL_A_OUTL, /* input activations */
    VL__NCOL
};

struct vl_row {
    int tensor;           /* index in model->tensors                    */
    int group;            /* -1 embedding, N for blk.N, n_layers after  */
    struct stats st;      /* weights                                     */
    int has_act;
    struct stats act;     /* the layer's input activations (calibration) */
    int difficulty;       /* see top of file                             */
};

struct vm_layers {
    struct qmodel *m;     /* not owned */
    struct vl_row *rows;  /* n_rows = m->n_tensors */
    int n_rows;
    int *vis;             /* row indices after filter + sort (n_vis)    */
    int n_vis;
    int sort_col;         /* enum vl_col; VL_NAME = model order          */
    int sort_desc;
    char filter[64];
    char search[64];
    int sel;              /* index into vis                              */
    int top;              /* first visible index (scroll)                */
    int has_act;          /* any row has activation statistics          */
};

struct vl_coldef {
    const char *title;
    int width;
    int right;            /* right-aligned (numbers)                     */
};
extern const struct vl_coldef vl_cols[VL__NCOL];

/* Build rows and compute weight statistics for every tensor; `progress`
 * (may be NULL) is called after each tensor with (done, total) and may
 * return nonzero to stop early (the remaining rows keep zero stats).
 * Returns 0, or QERR_NOMEM. */
int vm_layers_init(struct vm_layers *v, struct qmodel *m,
                   int (*progress)(void *ctx, int done, int total), void *ctx);
void vm_layers_free(struct vm_layers *v);

/* Difficulty class of a tensor with these stats (see top of file). */
int vm_layers_difficulty(const struct qtensor *t, const struct stats *st);

/* Number of columns to show (the activation columns only after calibration). */
int vm_layers_ncols(const struct vm_layers *v);
/* Sorting keeps the selected tensor selected. */
void vm_layers_sort(struct vm_layers *v, int col, int desc);
/* Substring filter on the name ("" clears); keeps selection if visible. */
void vm_layers_filter(struct vm_layers *v, const char *substr);
/* Select the next visible row after the current one whose name contains
 * `substr` (wrapping).  Returns 1 when found. */
int vm_layers_search(struct vm_layers *v, const char *substr);
/* Move the selection by delta rows (clamped) and keep it in a window of
 * `height` rows by adjusting top. */
void vm_layers_move(struct vm_layers *v, int delta, int height);
/* The selected row, or NULL when nothing is visible. */
const struct vl_row *vm_layers_selected(const struct vm_layers *v);
/* Select the row of tensor index `ti` if visible. */
void vm_layers_select_tensor(struct vm_layers *v, int ti, int height);
/* Text of one cell of visible row i. */
void vm_layers_cell(const struct vm_layers *v, int i, int col, char *buf, size_t cap);
/* Install activation statistics for tensor `ti` (copied). */
void vm_layers_set_act(struct vm_layers *v, int ti, const struct stats *act);

#endif
