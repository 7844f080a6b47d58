/* view_tensor: drawing the Tensor view shares with the Quant view. */
#ifndef QLENS_UI_VIEW_TENSOR_H
#define QLENS_UI_VIEW_TENSOR_H

#include "ui/vm_hist.h"

struct tui;

/* The heatmap of mp in rows x cols characters (the matrix stretched when
 * smaller than that); cells marked where marks (the same shape, e.g. a
 * kept-weight mask; NULL: cells above mp->mark) has a nonzero value;
 * fresh recomputes the cells (new values in the same buffer). */
struct vm_map;
void view_tensor_heatmap(struct vm_map *mp, struct vm_map *marks, int fresh, int y0, int x0,
                         int rows, int cols);
/* A log histogram with the grid marks, in rows [y0, y0+h), w columns. */
void view_tensor_draw_hist(struct tui *t, const struct vm_hist *hs, int y0, int h, int w,
                           const char *title);

#endif
