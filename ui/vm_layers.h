/* vm_layers: the rows of the Layers view (ncdu's dirlist_: the view reads
 * prepared rows and never computes statistics).  No curses.
 *
 * One row per tensor.  In model order (sort column Tensor) the rows are
 * grouped, each group under a header line: "embedding", "blk.N attention"
 * (attn_norm, q, k, v, output, biases), "blk.N FFN" (ffn_norm, gate, up,
 * down), "output" (output_norm, output).  A header summarizes its group's
 * tensors that pass the filter (count, parameters, and the maximum AbsMax,
 * kurtosis and outlier % over the ones a quantizer touches) and can be
 * collapsed.  Sorted by a number column, the list is flat (no headers, no
 * collapsing): "which tensor is worst" is a question about the whole model.
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

struct mdiff;

enum vl_col {
    VL_NAME = 0, VL_SHAPE, VL_DTYPE, VL_STD, VL_ABSMAX, VL_KURT, VL_OUTL,
    VL_A_STD, VL_A_ABSMAX, VL_A_KURT, VL_A_OUTL, /* input activations */
    VL_B_REL, VL_B_SQNR, VL_B_BPW, /* vs the --base model (src/mdiff.h)  */
    VL__NCOL
};

/* State of a row's weight statistics: computed in the background after
 * the first frame (ui/statsload.h), so a row may have none yet. */
enum vl_st { VL_ST_PENDING = 0, VL_ST_OK = 1, VL_ST_FAILED = -1 };

struct vl_row {
    int tensor;           /* index in model->tensors                    */
    int group;            /* -1 embedding, N for blk.N, n_layers after  */
    int gi;               /* index in vm_layers.groups                  */
    int st_state;         /* enum vl_st: st is valid only when VL_ST_OK  */
    char st_err[160];     /* VL_ST_FAILED: why ("cannot convert ...")    */
    struct stats st;      /* weights                                     */
    int has_act;
    struct stats act;     /* the layer's input activations (calibration) */
    int difficulty;       /* see top of file                             */
};

/* Kinds of group inside a block (their order in the list). */
enum vl_kind { VLK_MAIN = 0, VLK_ATTN, VLK_FFN, VLK_OTHER };

struct vl_group {
    char name[32];        /* "embedding", "blk.3 attention", "output"    */
    int group, kind;      /* sort key: (vl_row.group, enum vl_kind)       */
    int n;                /* tensors in the group                         */
    int n_match;          /* ... that pass the filter                     */
    long long params;     /* elements of the matching tensors             */
    int n_quant;          /* matching tensors a quantizer touches         */
    int n_pending;        /* matching tensors without statistics yet      */
    double absmax, kurt, outl;          /* max over those (weights)        */
    int has_act;
    double a_std, a_absmax, a_kurt, a_outl; /* max over input activations */
    int difficulty;       /* worst row difficulty (-1 when none quantized) */
    int collapsed;
};

struct vm_layers {
    struct qmodel *m;     /* not owned */
    struct vl_row *rows;  /* n_rows = m->n_tensors */
    int n_rows;
    int *vis;             /* row indices after filter + sort (n_vis)    */
    int n_vis;
    struct vl_group *groups;
    int n_groups;
    int *line;            /* display lines (n_lines): >= 0 a row index,
                             -1-g the header of group g                   */
    int n_lines;
    int grouped;          /* headers shown (model order)                  */
    int sort_col;         /* enum vl_col; VL_NAME = model order          */
    int sort_desc;
    char filter[64];
    char search[64];
    int sel;              /* index into line                             */
    int top;              /* first visible line (scroll)                 */
    int has_act;          /* any row has activation statistics          */
    int n_stats;          /* rows whose statistics are in (OK or FAILED) */
    int n_failed;         /* ... of which failed                          */
    struct mdiff *base;   /* --base: error of each tensor against the base
                             model, computed when a row is first shown or
                             sorted on (not owned); NULL without --base  */
};

struct vl_coldef {
    const char *title;
    int width;
    int right;            /* right-aligned (numbers)                     */
};
extern const struct vl_coldef vl_cols[VL__NCOL];

/* Build rows and compute weight statistics for every tensor (tstats_tensor,
 * src/tstats.h); `progress` (may be NULL) is called after each tensor with
 * (done, total) and may return nonzero to stop early (the remaining rows
 * stay VL_ST_PENDING).  Returns 0, or QERR_NOMEM. */
int vm_layers_init(struct vm_layers *v, struct qmodel *m,
                   int (*progress)(void *ctx, int done, int total), void *ctx);
/* Build the rows only, every one VL_ST_PENDING (cells "..."): the table
 * can be drawn at once and the statistics arrive later through
 * vm_layers_set_stats / vm_layers_set_failed.  Returns 0 or QERR_NOMEM. */
int vm_layers_init_rows(struct vm_layers *v, struct qmodel *m);
/* Statistics of tensor ti arrived (copied), or failed with msg (its cells
 * then say "failed", never zeros).  Call vm_layers_refresh after a batch:
 * group maxima and a sort on a statistics column follow the new rows,
 * the selected tensor stays selected. */
void vm_layers_set_stats(struct vm_layers *v, int ti, const struct stats *st);
void vm_layers_set_failed(struct vm_layers *v, int ti, const char *msg);
void vm_layers_refresh(struct vm_layers *v);
void vm_layers_free(struct vm_layers *v);

/* Difficulty class of a tensor with these stats (see top of file). */
int vm_layers_difficulty(const struct qtensor *t, const struct stats *st);
/* The level of a kurtosis alone: < 4 easy (0), 4-10 moderate (1), 10-50
 * hard (2), >= 50 extreme (3); the activation columns use it. */
int vm_layers_kurt_level(double kurt);

/* Number of columns to show (the activation columns only after calibration). */
int vm_layers_ncols(const struct vm_layers *v);
/* Sorting keeps the selected tensor selected. */
void vm_layers_sort(struct vm_layers *v, int col, int desc);
/* Substring filter on the name ("" clears); keeps selection if visible. */
void vm_layers_filter(struct vm_layers *v, const char *substr);
/* Select the next tensor after the selection, in list order, whose name
 * contains `substr` (wrapping; a collapsed group holding it is expanded).
 * Returns 1 when found. */
int vm_layers_search(struct vm_layers *v, const char *substr);
/* Group of display line i when it is a header, else -1. */
int vm_layers_line_group(const struct vm_layers *v, int i);
/* Collapse / expand group g (no effect in a flat, sorted list); a
 * selection inside it moves to its header. */
void vm_layers_toggle(struct vm_layers *v, int g);
/* Collapse every group, or expand every group when all are collapsed.
 * Returns 1 when the groups are now collapsed. */
int vm_layers_toggle_all(struct vm_layers *v);
/* Move the selection by delta rows (clamped) and keep it in a window of
 * `height` rows by adjusting top. */
void vm_layers_move(struct vm_layers *v, int delta, int height);
/* The selected row, or NULL when nothing is visible or the selection is
 * a group header (see vm_layers_line_group(v, v->sel)). */
const struct vl_row *vm_layers_selected(const struct vm_layers *v);
/* The row of tensor index ti (rows stay in tensor order; sorting and
 * filtering reorder vis and line only), or NULL when out of range. */
const struct vl_row *vm_layers_row(const struct vm_layers *v, int ti);
/* Select the row of tensor index `ti` if it passes the filter (its group
 * is expanded when collapsed). */
void vm_layers_select_tensor(struct vm_layers *v, int ti, int height);
/* Text of one cell of display line i (a header's cells summarize its
 * group: "- blk.0 attention (4)", parameters, maxima). */
void vm_layers_cell(const struct vm_layers *v, int i, int col, char *buf, size_t cap);
/* Install activation statistics for tensor `ti` (copied). */
void vm_layers_set_act(struct vm_layers *v, int ti, const struct stats *act);

#endif
