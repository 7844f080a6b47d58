/* vm_div: rows of the Divergence view (no curses): the layer-wise
 * divergence of one run (src/mdiv.h) and the order its tensors are shown
 * in.  Default order: the KL contribution (leave-one-out ΔKL) when it was
 * measured, else the local rel mean, largest first: the tensors that
 * contribute most come first. */
#ifndef QLENS_UI_VM_DIV_H
#define QLENS_UI_VM_DIV_H

#include "src/mdiv.h"
#include "ui/jobs.h"

enum vd_sort { VD_KL = 0, VD_LOCAL, VD_ACC, VD_DEPTH, VD__NSORT };

struct vm_div {
    struct jobs_run run;    /* the run compared (spec, n_ctx, n_chunks)   */
    struct mdiv_result r;   /* valid when have                            */
    int have;
    int *order;             /* (n) row indices of the linears, as shown   */
    int n;
    int sort;               /* enum vd_sort                               */
    int desc;               /* 1: largest first (depth: 0 = first layer)  */
    int sel, top;
};

void vm_div_init(struct vm_div *v);
void vm_div_free(struct vm_div *v);
/* Take r (ownership moves; r is zeroed) as the divergence of run; sorts
 * by the current order and selects the first row.  <0: out of memory. */
int vm_div_set(struct vm_div *v, const struct jobs_run *run, struct mdiv_result *r);
void vm_div_sort(struct vm_div *v, int sort, int desc);
void vm_div_move(struct vm_div *v, int delta, int height);
/* The value a row is sorted by (depth: the row index; KL not measured:
 * -inf). */
double vm_div_key(const struct vm_div *v, int row);
const char *vm_div_sort_name(int sort);
/* The largest local and accumulated rel mean over the linears (bar scale). */
double vm_div_max(const struct vm_div *v, int mode);
/* The largest kl_delta over the linears (0 when none is positive). */
double vm_div_kl_max(const struct vm_div *v);
/* The next order available (VD_KL only when measured). */
int vm_div_next_sort(const struct vm_div *v, int dir);
/* The same over the block rows. */
double vm_div_block_max(const struct vm_div *v);

#endif
